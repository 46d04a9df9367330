"""The ledger defends itself: journal entries are hash-chained, ledger rows cannot be
changed in the database, and ``salinmas audit`` finds an edited row in a copy.

mutant: ledger_chain.link leaves prev_hash out of the hash -> test_every_entry_...
mutant: post_entry skips ledger_chain.link (reversals/payouts unchained) -> test_every_entry_...
mutant: migration 0007 without the UPDATE trigger on postings -> test_update_and_delete_...
mutant: migration 0007 without the DELETE trigger on journal_entries -> test_update_and_...
mutant: audit skips the entry-hash recomputation -> test_audit_finds_an_edited_row...
mutant: audit skips the signature check of weigh-in rows -> test_audit_finds_an_edited_row...
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from cloud import corrections, payouts
from cloud.chain_audit import audit
from cloud.db import is_sqlite, session_factory
from cloud.ingest import Processor
from cloud.models import JournalEntry, LedgerChainHead, WeighinRecord
from tests.cloud.conftest import seed_programme
from tests.cloud.signing_support import SigningStation, message

pytestmark = pytest.mark.integration
ST = "st-chain01"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(engine: Engine) -> int:
    """Three signed weigh-ins credited, one reversed, a payout paid: every kind of entry."""
    with session_factory(engine)() as s:
        hh = seed_programme(s, stations=(ST,))
        st = SigningStation(ST)
        st.approve(s)
    Processor(session_factory(engine), None, enforce_integrity=True).process(
        [message(st.weighin(g)) for g in (1_000, 2_000, 3_000)]
    )
    with session_factory(engine)() as s:
        first = s.scalar(select(WeighinRecord.id).order_by(WeighinRecord.id))
        assert first is not None
        corrections.reverse_weighin(s, weighin_id=first, reason="wrong bag", by="user:op")
        p = payouts.request_payout(s, household_id=hh, amount_rp=1_000, by="household:M-0001")
        payouts.approve_payout(s, payout_id=p.id, by="user:op", two_person_from_rp=None)
        payouts.pay_payout(s, payout_id=p.id, by="user:op", two_person_from_rp=None)
        s.commit()
    return hh


def test_every_entry_is_chained_and_the_audit_is_clean(engine: Engine, ledger: int) -> None:
    with session_factory(engine)() as s:
        entries = list(s.scalars(select(JournalEntry).order_by(JournalEntry.id)))
        assert [e.kind for e in entries] == ["weighin_credit"] * 3 + ["reversal", "payout"]
        assert [e.chain_pos for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == "0" * 64
        for before, e in itertools.pairwise(entries):
            assert e.prev_hash == before.entry_hash
        head = s.scalar(select(LedgerChainHead))
        assert head is not None
        assert (head.position, head.digest) == (5, entries[-1].entry_hash)
        report = audit(s)
    assert report.ok, report.lines()
    assert (report.entries, report.signed, report.keys) == (5, 3, 1)


def test_update_and_delete_of_ledger_rows_fail_in_the_database(engine: Engine, ledger: int) -> None:
    for sql in (
        "UPDATE postings SET amount_rp = amount_rp * 10",
        "DELETE FROM postings",
        "UPDATE journal_entries SET description = 'nothing happened'",
        "DELETE FROM journal_entries",
    ):
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(sql))
    if not is_sqlite(str(engine.url)):
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("TRUNCATE postings, journal_entries CASCADE"))
    with session_factory(engine)() as s:
        assert audit(s).ok  # nothing changed


def _copy(engine: Engine, tmp_path: Path) -> str:
    """A copy of the ledger database, with its triggers out of the way for editing."""
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    if is_sqlite(url):
        src = Path(str(engine.url.database))
        dst = tmp_path / "copy.db"
        with create_engine(url).connect() as conn:  # a consistent copy, WAL included
            conn.exec_driver_sql(f"VACUUM INTO '{dst}'")
        copy = f"sqlite:///{dst}"
        with create_engine(copy).begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER postings_no_update")
        assert src.exists()
        return copy
    name = f"{engine.url.database}_copy"
    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{engine.url.database}"')
    admin.dispose()
    return engine.url.set(database=name).render_as_string(hide_password=False)


def test_audit_finds_an_edited_row_in_a_copied_database(
    engine: Engine, ledger: int, tmp_path: Path
) -> None:
    copy = _copy(engine, tmp_path)
    eng = create_engine(copy)
    with eng.begin() as conn:
        if not is_sqlite(copy):  # as a superuser could: skip the triggers for this session
            conn.exec_driver_sql("SET session_replication_role = replica")
        entry = conn.execute(
            text("SELECT id FROM journal_entries WHERE chain_pos = 2")
        ).scalar_one()
        conn.execute(
            text("UPDATE postings SET amount_rp = amount_rp * 2 WHERE entry_id = :e"), {"e": entry}
        )
        conn.execute(text("UPDATE weighins SET net_g = net_g * 10 WHERE seq = 3"))
    eng.dispose()
    run = subprocess.run(
        [sys.executable, "-m", "salinmas", "audit", "--url", copy],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"FIRST BREAK: journal entry {entry}: at position 2: entry or postings changed" in (
        run.stdout
    ), run.stdout
    assert "more breaks after it" in run.stdout  # the weigh-in whose weight was edited too
    original = engine.url.render_as_string(hide_password=False)
    clean = subprocess.run(
        [sys.executable, "-m", "salinmas", "audit", "--url", original],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no break" in clean.stdout


def test_audit_names_an_edited_weighin(engine: Engine, ledger: int) -> None:
    with engine.begin() as conn:  # weigh-in rows are not append-only (status moves on)
        conn.execute(text("UPDATE weighins SET net_g = 99000 WHERE seq = 3"))
    with session_factory(engine)() as s:
        report = audit(s)
    assert not report.ok
    assert "the station's signature no longer verifies" in str(report.breaks[0])
    assert f"({ST}:3)" in str(report.breaks[0])
