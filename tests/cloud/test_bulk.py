"""Batch inserts (:func:`cloud.bulk.insert_rows`) on SQLite and PostgreSQL: every value
lands in its own column and row, ids follow the input order, conflicts are skipped, and
the crediting that writes through it pairs each weigh-in with its own entry, postings,
notification and stock movement; on PostgreSQL one statement text for every batch size.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cloud import bulk, crediting, households
from cloud.boots import BootClocks
from cloud.bulk import among, insert_rows
from cloud.db import make_engine, migrate, session_factory
from cloud.integrity import Inspector
from cloud.models import (
    Account,
    JournalEntry,
    Posting,
    ProcessedEvent,
    WeighinRecord,
)
from cloud.models.notifications import Notification, NotificationDelivery
from cloud.models.stock import StockMovement
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import weighin
from tests.support.services import PostgresServer

pytestmark = pytest.mark.integration

RECEIVED = datetime(2026, 11, 1, 3, 5, tzinfo=UTC)
#: strings that mean something inside an array literal or to a parser of placeholders
AWKWARD = ['a"b', "{x,y}", "NULL", "", "back\\slash", "100% %s %(k)s %b", "O'Brien", " ", "ü€"]


def _rows(keys: list[str]) -> list[dict[str, Any]]:
    """Notification rows without ``lang`` and ``created_at`` (Python-side defaults)."""
    return [
        {
            "key": k,
            "event": f"ev{i % 3}",
            "audience": "operators",
            "household_id": None,
            "site_id": None,
            "role": None if i % 2 else "operator",
            "data": {"i": i, "text": k, "list": [i, None, k], "nested": {"q": '"'}},
            "suppressed": None if i % 4 else k[:40],
        }
        for i, k in enumerate(keys)
    ]


def test_rows_land_column_for_column_in_input_order(session: Session) -> None:
    """Each value in its own row and column, defaults filled, ids in input order.

    mutant: arrays sent in another column order than listed (e.g. defaults first) -> fails
    mutant: bind processing skipped (JSON) -> fails
    mutant: Python-side defaults left out -> fails (lang is NULL)
    mutant: ``ORDER BY ord_ DESC`` (rows inserted in reverse) -> fails (ids descend)
    mutant: RETURNING columns swapped -> fails
    """
    keys = [f"k{i}:{s}" for i, s in enumerate(AWKWARD * 3)]
    random.Random(7).shuffle(keys)
    rows = _rows(keys)
    before = datetime.now(UTC)
    returned = insert_rows(session, Notification, rows, returning=("key", "id"))
    session.commit()
    ids = dict(returned)
    assert set(ids) == set(keys)
    assert [ids[k] for k in keys] == sorted(ids.values())  # inserted in the order given
    session.expire_all()
    got = {n.key: n for n in session.scalars(select(Notification))}
    for r in rows:
        n = got[r["key"]]
        assert n.id == ids[r["key"]]
        assert (n.event, n.audience, n.role, n.data, n.suppressed) == (
            r["event"],
            r["audience"],
            r["role"],
            r["data"],
            r["suppressed"],
        )
        assert (n.household_id, n.site_id, n.lang) == (None, None, "id")
        assert before <= n.created_at <= datetime.now(UTC)
        assert n.created_at.tzinfo == UTC


def test_conflicting_rows_are_skipped_and_return_nothing(session: Session) -> None:
    """mutant: ON CONFLICT left out -> fails (unique violation)
    mutant: conflicting rows overwrite (DO UPDATE) -> fails (old data changed)"""
    insert_rows(session, Notification, _rows(["a", "b"]), skip_conflicts_on=("key",))
    again = _rows(["b", "c", "a", "d"])
    for r in again:
        r["data"] = {"second": True}
    returned = insert_rows(
        session, Notification, again, returning=("key", "id"), skip_conflicts_on=("key",)
    )
    session.commit()
    assert sorted(k for k, _ in returned) == ["c", "d"]
    data = {k: d for k, d in session.execute(select(Notification.key, Notification.data))}
    assert data["a"] == _rows(["a"])[0]["data"]
    assert data["c"] == {"second": True}
    assert insert_rows(session, Notification, []) == []
    with pytest.raises(ValueError, match="different columns"):
        insert_rows(session, Notification, [*_rows(["e"]), {"key": "f"}])


def test_among_selects_exactly_the_keys_given(session: Session) -> None:
    """mutant: the array built from some of the keys -> fails
    mutant: ``!= ANY`` instead of ``= ANY`` -> fails"""
    keys = [f"k{i}:{s}" for i, s in enumerate(AWKWARD * 2)]
    returned = insert_rows(session, Notification, _rows(keys), returning=("key", "id"))
    ids = dict(returned)
    wanted = keys[::3]
    got = session.scalars(select(Notification.key).where(among(session, Notification.key, wanted)))
    assert sorted(got) == sorted(wanted)
    by_id = select(Notification.key).where(
        among(session, Notification.id, [ids[k] for k in wanted])
    )
    assert sorted(session.scalars(by_id)) == sorted(wanted)


def test_a_prepared_statement_selects_exactly_each_runs_keys(session: Session) -> None:
    """A statement built once (:class:`cloud.bulk.Prepared`) is the same object run after
    run and selects exactly the keys of each run, on both databases.

    mutant: the statement built with the first run's keys as literals -> fails
    mutant: ``!= ANY`` instead of ``= ANY`` -> fails
    mutant: the expanding IN on PostgreSQL too -> test_one_statement_text_... fails
    """
    keys = [f"p{i}:{s}" for i, s in enumerate(AWKWARD * 2)]
    insert_rows(session, Notification, _rows(keys))
    stmt = bulk.Prepared(
        lambda among_keys: select(Notification.key).where(among_keys(Notification.key))
    )
    for wanted in (keys[::3], keys[1:2], keys[::2], []):
        assert sorted(session.scalars(stmt(session), {"keys": wanted})) == sorted(wanted)
    assert stmt(session) is stmt(session)


def test_credited_batch_pairs_every_row_with_its_own(session: Session, household_id: int) -> None:
    """A shuffled batch for two households, each weigh-in its own weight: every weigh-in
    is linked to its own entry, whose postings move its own amount to its own household,
    with its own notification and stock movement; ids follow the lock (event id) order.

    mutant: entry ids paired by position after reversing RETURNING -> fails
    mutant: weigh-in ids keyed by the wrong RETURNING column -> fails
    mutant: weigh-ins inserted out of event-id order -> fails
    mutant: notification ids paired with the wrong keys (deliveries) -> fails
    """
    other = households.register_household(session, member_no="M-0002", name="Pak Budi")
    households.link_card(session, card_id="CARD-2", household_id=other.id, by="test")
    session.commit()
    events = [
        weighin(seq=s, net_g=1000 + 37 * s, card_id="CARD-2" if s % 3 else "CARD-1")
        for s in range(1, 41)
    ]
    random.Random(3).shuffle(events)
    crediting.credit_batch(session, events, received_at=RECEIVED)
    session.expire_all()

    recs = session.scalars(select(WeighinRecord).order_by(WeighinRecord.id)).all()
    assert [r.event_id for r in recs] == sorted(e.event_id for e in events)
    owner = {a.id: a.household_id for a in session.scalars(select(Account))}
    notes = {n.key: n for n in session.scalars(select(Notification))}
    told = {d.notification_id: d.recipient for d in session.scalars(select(NotificationDelivery))}
    stock = {m.weighin_id: m for m in session.scalars(select(StockMovement))}
    processed = set(session.scalars(select(ProcessedEvent.event_id)))
    for rec in recs:
        assert rec.amount_rp > 0
        assert rec.entry_id is not None
        entry = session.get_one(JournalEntry, rec.entry_id)
        assert entry.weighin_id == rec.id
        moves = session.execute(
            select(Posting.account_id, Posting.amount_rp).where(Posting.entry_id == entry.id)
        ).all()
        assert sorted(amount for _, amount in moves) == [-rec.amount_rp, rec.amount_rp]
        assert [owner[a] for a, amount in moves if amount < 0] == [rec.household_id]
        note = notes[f"weighin_credited:{rec.event_id}"]
        assert note.household_id == rec.household_id
        assert (note.data["event_id"], note.data["amount_rp"]) == (rec.event_id, rec.amount_rp)
        assert told[note.id] == f"household:{rec.household_id}"
        assert stock[rec.id].qty_g == rec.net_g
        assert rec.event_id in processed
    assert {r.household_id for r in recs} == {household_id, other.id}


def test_one_statement_text_per_table_for_every_batch_size(
    postgres: PostgresServer,
) -> None:
    """On PostgreSQL a batch's INSERTs, and its look-up of events seen before, read the
    same whatever its size, so psycopg's caches and the server's prepared statements are
    used (the reason for :mod:`cloud.bulk`); no look-up of crediting or of the checks
    before it (:class:`cloud.integrity.Inspector`) sends an IN-list.

    mutant: PostgreSQL back on SQLAlchemy's multi-row VALUES -> fails (one text per size)
    mutant: among() as IN (...) on PostgreSQL -> fails (one text per size)
    mutant: cards, prices, receivables, approvals or signing keys looked up with
      ``.in_()`` again -> fails (an IN-list)
    """
    url = postgres.create_database("bulk_texts")
    migrate(url)
    engine: Engine = make_engine(url)
    inserts: dict[str, set[str]] = {}
    replays: set[str] = set()
    in_lists: set[str] = set()

    def seen(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        words = statement.split(None, 3)
        if words[0].upper() == "INSERT":
            inserts.setdefault(words[2], set()).add(statement)
        elif statement.startswith("SELECT weighins.event_id, weighins.receipt_json"):
            replays.add(statement)
        if " IN (%(" in statement:
            in_lists.add(" ".join(statement.split())[:100])

    try:
        with session_factory(engine)() as s:
            seed_programme(s)
            event.listen(engine, "before_cursor_execute", seen)
            seq = 0
            for size in (1, 3, 60, 7):
                batch = [weighin(seq=seq + i) for i in range(1, size + 1)]
                seq += size
                inspect = Inspector(False, BootClocks(), timedelta(hours=1))
                inspect(s, [(w, RECEIVED) for w in batch])
                s.rollback()
                crediting.credit_batch(s, batch, received_at=RECEIVED + timedelta(seconds=seq))
            event.remove(engine, "before_cursor_execute", seen)
    finally:
        engine.dispose()
    for table in ("weighins", "journal_entries", "postings", "notifications"):
        assert len(inserts[table]) == 1, (table, len(inserts[table]))
    assert len(replays) == 1, replays
    assert not in_lists, in_lists


def test_sqlite_batches_go_as_tuples_within_its_parameter_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a batch goes to ``sqlite3`` as plain tuples (:func:`cloud.bulk._shape`);
    with ``RETURNING`` as multi-row ``VALUES`` statements of at most the dialect's
    ``insertmanyvalues_max_parameters`` parameters (``executemany`` drops returned rows).

    mutant: SQLite back on SQLAlchemy's insert() -> fails (no SQLite shape kept)
    mutant: chunks of ``max_parameters`` rows instead of parameters -> fails (over the limit)
    mutant: the last, partial chunk left out -> fails (rows and ids missing)
    mutant: RETURNING rows of every chunk but the last dropped -> fails (ids missing)
    """
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    migrate(url)
    engine: Engine = make_engine(url)
    limit = 40  # 10 columns a notification row: 4 rows a statement
    monkeypatch.setattr(engine.dialect, "insertmanyvalues_max_parameters", limit)
    params: list[int] = []

    def seen(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO notifications"):
            params.append(len(parameters[0]) if many else len(parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        keys = [f"n{i}" for i in range(11)]
        with session_factory(engine)() as s:
            returned = insert_rows(s, Notification, _rows(keys), returning=("key", "id"))
            insert_rows(s, Notification, _rows(["plain1", "plain2"]))  # executemany
            s.commit()
            stored = {k: i for k, i in s.execute(select(Notification.key, Notification.id))}
        assert dict(returned) == {k: stored[k] for k in keys}
        assert set(stored) == {*keys, "plain1", "plain2"}
        assert all(n <= limit for n in params), params
        assert len(params) == 4  # 4 + 4 + 3 rows, then the executemany
        assert any(k[0] is type(engine.dialect) for k in bulk._statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()
