"""What an ingest worker remembers of the boots' anchors between batches (cloud/boots.py).

The boots a batch only *tells* anchors (fill readings, statuses) start from what the
worker committed before; the boots of weigh-ins and heartbeats are read every batch; a
changed anchor is written under a row lock keeping the better of the row's and the
batch's. None of it may make the clock rule weaker: an anchor is never written back to
a worse one, a weigh-in is dated by the best anchor in the database, a new boot starts
with none. On SQLite and PostgreSQL (the lock race on PostgreSQL, where it can happen).

mutant: save() writes the batch's anchor without keeping the row's better one (no merge
        of the re-read row) -> test_a_remembered_anchor_is_never_written_back_...
mutant: the re-read in save() takes no row lock (``lock=False``) ->
        test_two_workers_racing_on_one_anchor_keep_the_earliest
mutant: weigh-ins' boots served from memory (``DATED = (Health,)``) ->
        test_a_weighin_is_dated_by_the_database_not_by_the_workers_memory
mutant: memory keyed by device, not by boot -> test_a_new_boot_starts_without_...
mutant: a failed batch leaves the memory as it was (``_forget`` keeps the anchors) ->
        test_a_failed_batch_forgets_what_it_remembered
mutant: every boot read every batch (no memory) -> test_a_stream_of_fills_reads_no_boot
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from cloud import pricing
from cloud.boots import BootClocks
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import Message, Processor
from cloud.models import DeviceBoot, WeighinRecord
from contract import Kind, device_topic
from contract.models import to_json
from tests.cloud.conftest import seed_bin, seed_programme
from tests.cloud.factories import BOOT, fill, health
from tests.cloud.signing_support import SigningStation, message
from tests.support.services import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
BIN = "bn-boots01"
ST = "st-boots01"
T = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # when the station booted
H = 3_600_000  # ms


def _processor(engine: Engine) -> Processor:
    return Processor(
        session_factory(engine), None, state_write_interval_s=3600, seen_write_interval_s=3600
    )


def _fill(seq: int, mono_ms: int) -> Message:
    ev = fill(BIN, seq=seq, mono_ms=mono_ms)
    return Message(device_topic(BIN, Kind.FILL), to_json(ev), ev.device_time + timedelta(seconds=1))


def _stored(engine: Engine, device_id: str = BIN) -> dict[str, tuple[int | None, int | None]]:
    with session_factory(engine)() as s:
        return {
            r.boot_id: (r.synced_mono_ms, r.prompt_mono_ms)
            for r in s.scalars(select(DeviceBoot).where(DeviceBoot.device_id == device_id))
        }


@pytest.fixture
def bin_ready(session: Session) -> str:
    return seed_bin(session, BIN)


@pytest.fixture
def station(session: Session) -> SigningStation:
    seed_programme(session, stations=(ST,))
    pricing.set_price(session, category="plastic-pet", rp_per_kg=5_000, effective_from=T)
    st = SigningStation(ST, synced=False)
    st.approve(session)
    session.commit()
    return st


def test_a_remembered_anchor_is_never_written_back_over_a_better_one(
    engine: Engine, bin_ready: str
) -> None:
    one, two = _processor(engine), _processor(engine)
    one.process([_fill(5, 5_000)])  # worker one remembers the boot's anchor at 5 s
    two.process([_fill(1, 1_000)])  # worker two writes an earlier one
    assert _stored(engine) == {str(BOOT): (1_000, None)}
    one.process([_fill(3, 3_000)])  # better than what one remembers, worse than the row
    assert _stored(engine) == {str(BOOT): (1_000, None)}
    one.process([_fill(6, 500)])  # better than both: written
    assert _stored(engine) == {str(BOOT): (500, None)}


def test_a_stream_of_fills_reads_no_boot(engine: Engine, bin_ready: str) -> None:
    p = _processor(engine)
    p.process([_fill(1, 1_000)])
    statements: list[str] = []

    def seen(_c: object, _cur: object, sql: str, *_a: object) -> None:
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        p.process([_fill(2, 2_000), _fill(3, 3_000)])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "device_boots" in s], statements
    assert _stored(engine) == {str(BOOT): (1_000, None)}


def test_a_failed_batch_forgets_what_it_remembered(
    engine: Engine, bin_ready: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _processor(engine)
    p.process([_fill(1, 5_000)])
    assert len(p.anchors) == 1

    def broken(*_a: object, **_k: object) -> list[int]:
        raise RuntimeError("the batch fails after its anchors were saved")

    monkeypatch.setattr("cloud.ingest.processor.holds.resolve_automatic", broken)
    out = p.process([_fill(2, 1_000)])  # an earlier anchor: saved, then the batch fails
    assert out.dead_letters == {"internal": 1}
    assert len(p.anchors) == 0  # the database is the truth again
    assert _stored(engine) == {str(BOOT): (5_000, None)}


def _health(st: SigningStation, seq: int, at: datetime, mono_ms: int) -> bytes:
    return to_json(health(st.device_id, seq, device_time=at, boot_id=st.boot, mono_ms=mono_ms))


def _effective(engine: Engine) -> list[tuple[str, datetime]]:
    with session_factory(engine)() as s:
        rows = s.execute(
            select(WeighinRecord.status, WeighinRecord.effective_at).order_by(WeighinRecord.seq)
        )
        return [(status, at) for status, at in rows]


def test_a_weighin_is_dated_by_the_database_not_by_the_workers_memory(
    engine: Engine, station: SigningStation
) -> None:
    one, two = _processor(engine), _processor(engine)
    one.enforce_integrity = two.enforce_integrity = True
    # worker one hears the station connect 3 h into its boot, 30 s late: a prompt anchor
    one.process(
        [message(station.status(3 * H), Kind.STATUS, at=T + timedelta(hours=3, seconds=30))]
    )
    # worker two hears a synchronised heartbeat of the same boot: the better anchor
    beat = _health(station, 1_000, T + timedelta(hours=1), 1 * H)
    two.process([message(beat, Kind.HEALTH, at=T + timedelta(hours=1, seconds=1))])
    # worker one gets a weigh-in weighed 2 h into the boot, its wall clock unsynchronised
    weighed = station.weighin(1_000, at=datetime(2020, 1, 1, tzinfo=UTC), mono_ms=2 * H)
    one.process([message(weighed, at=T + timedelta(hours=3, minutes=1))])
    # by the heartbeat's anchor exactly; the status would say 30 s later
    assert _effective(engine) == [("credited", T + timedelta(hours=2))]


def test_a_new_boot_starts_without_the_last_boots_anchor(
    engine: Engine, station: SigningStation
) -> None:
    p = _processor(engine)
    p.enforce_integrity = True
    p.process([message(station.status(3 * H), Kind.STATUS, at=T + timedelta(hours=3))])
    first = str(station.boot)
    station.boot = type(station.boot)(int=station.boot.int + 1)  # it reboots
    later = T + timedelta(hours=5)  # 5 h after the first boot, 1 min into this one
    p.process([message(station.status(60_000), Kind.STATUS, at=later)])
    assert _stored(engine, ST) == {first: (None, 3 * H), str(station.boot): (None, 60_000)}
    weighed = station.weighin(1_000, at=datetime(2020, 1, 1, tzinfo=UTC), mono_ms=30_000)
    p.process([message(weighed, at=later + timedelta(seconds=5))])
    assert _effective(engine) == [("credited", later - timedelta(seconds=30))]


@pytest.fixture
def pg_engine(postgres: PostgresServer) -> Iterator[Engine]:
    """PostgreSQL only: SQLite's writers queue on ``BEGIN IMMEDIATE``, none writes at once."""
    url = postgres.create_database(f"boots_race_{uuid.uuid4().hex[:8]}")
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _synced(clocks: BootClocks, key: tuple[str, str], mono_ms: int) -> None:
    at = T + timedelta(milliseconds=mono_ms)
    clocks.get(key).saw_event(at, True, mono_ms, at)


def test_two_workers_racing_on_one_anchor_keep_the_earliest(pg_engine: Engine) -> None:
    key = (BIN, str(BOOT))
    sessions = session_factory(pg_engine)
    with sessions() as s:
        first = BootClocks()
        first.load(s, [key])
        _synced(first, key, 5_000)
        first.save(s)
        s.commit()
    a, b = BootClocks(), BootClocks()
    with sessions() as sa, sessions() as sb:
        a.load(sa, [key])
        b.load(sb, [key])  # both read 5 s
        _synced(a, key, 1_000)
        _synced(b, key, 3_000)
        assert a.save(sa) == [key]  # a holds the row, not committed yet
        done = threading.Event()

        def worker_b() -> None:
            b.save(sb)
            sb.commit()
            done.set()

        t = threading.Thread(target=worker_b)
        t.start()
        with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            wait_until(
                lambda: c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar(),
                10,
                "worker b waiting for the row",
            )
        sa.commit()
        t.join(10)
        assert done.is_set()
    assert _stored(pg_engine) == {str(BOOT): (1_000, None)}
