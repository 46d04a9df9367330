"""What an ingest worker caches between batches, seen through its Processor.

Routine fill levels are written behind, decisions (pickups, alerts, re-arming) at once;
a revocation applies from the next batch; two workers sharing a bin's readings open one
pickup between them and a stale one catches up. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cloud.db import session_factory
from cloud.devices import register_device, revoke_device
from cloud.ingest import Message, Outcome, Processor
from cloud.models import Bin, Device, Pickup
from cloud.pickups import get_bin, list_alerts, register_bin
from contract import Fill, Kind, device_topic
from contract.models import to_json
from tests.cloud.conftest import seed_bin
from tests.cloud.factories import fill

pytestmark = pytest.mark.integration
BIN = "bn-cache01"
#: nothing routine becomes due during a test unless it says so
NEVER = 3600.0


@pytest.fixture
def bin_ready(session: Session) -> str:
    return seed_bin(session, BIN)


def _processor(engine: Engine, **kw: float) -> Processor:
    kw.setdefault("state_write_interval_s", NEVER)
    kw.setdefault("seen_write_interval_s", NEVER)
    return Processor(session_factory(engine), None, **kw)


def _msg(ev: Fill) -> Message:
    # received a second after the reading: the device clock is trusted
    return Message(
        device_topic(ev.device_id, Kind.FILL), to_json(ev), ev.device_time + timedelta(seconds=1)
    )


def _feed(p: Processor, *evs: Fill) -> Outcome:
    return p.process([_msg(e) for e in evs])


def _bin(engine: Engine) -> Bin:
    with session_factory(engine)() as s:
        return get_bin(s, bin_id=BIN)


def _pickups(engine: Engine) -> list[Pickup]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(Pickup).where(Pickup.bin_id == BIN)))


def test_routine_levels_are_written_behind_decisions_at_once(
    engine: Engine, bin_ready: str
) -> None:
    p = _processor(engine)
    out = _feed(p, fill(BIN, seq=1, fill_pct=20), fill(BIN, seq=2, fill_pct=30))
    assert out.accepted == 2
    assert len(out.points) == 2  # every reading goes to telemetry
    assert _bin(engine).fill_pct is None  # the level waits in memory...
    p.write_behind(force=True)
    b = _bin(engine)
    assert (b.fill_pct, b.last_seq) == (30, 2)  # ...until written behind
    assert b.forecast_full_at is not None  # 20 -> 30 % in 10 min: a forecast exists

    _feed(p, fill(BIN, seq=3, fill_pct=85))  # a decision: written with the batch
    b = _bin(engine)
    assert (b.fill_pct, b.armed) == (85, False)
    assert [x.status for x in _pickups(engine)] == ["open"]

    _feed(p, fill(BIN, seq=4, fill_pct=90), fill(BIN, seq=5, fill_pct=91))
    assert _bin(engine).fill_pct == 85
    p.write_behind(force=True)
    assert _bin(engine).fill_pct == 91


def test_older_readings_change_no_state_but_still_reach_telemetry(
    engine: Engine, bin_ready: str
) -> None:
    p = _processor(engine)
    _feed(p, fill(BIN, seq=10, fill_pct=60))
    out = _feed(p, fill(BIN, seq=9, fill_pct=95))  # late, from an edge outbox
    assert len(out.points) == 1
    p.write_behind(force=True)
    assert (_bin(engine).fill_pct, _pickups(engine)) == (60, [])


def test_lid_and_fault_changes_raise_and_clear_alerts_at_once(
    engine: Engine, bin_ready: str
) -> None:
    p = _processor(engine)
    _feed(p, fill(BIN, seq=1, fill_pct=40, lid_open=True))
    with session_factory(engine)() as s:
        assert [a.kind for a in list_alerts(s)] == ["lid_open"]
    _feed(p, fill(BIN, seq=2, fill_pct=41, lid_open=True))  # no change: routine
    _feed(p, fill(BIN, seq=3, fill_pct=42, lid_open=False))
    with session_factory(engine)() as s:
        assert list_alerts(s) == []


def test_a_revocation_applies_from_the_next_batch(
    engine: Engine, session: Session, bin_ready: str
) -> None:
    p = _processor(engine)
    assert _feed(p, fill(BIN, seq=1)).accepted == 1
    revoke_device(session, device_id=BIN)
    session.commit()
    out = _feed(p, fill(BIN, seq=2))
    assert (out.accepted, out.dead_letters) == (0, {"revoked_device": 1})


def test_last_seen_is_written_behind(engine: Engine, bin_ready: str) -> None:
    p = _processor(engine)
    ev = fill(BIN, seq=1)
    _feed(p, ev)
    p.write_behind(force=True)
    with session_factory(engine)() as s:
        dev = s.get(Device, BIN)
        assert dev is not None
        assert dev.last_seen == ev.device_time + timedelta(seconds=1)


def test_two_workers_open_one_pickup_and_a_stale_one_catches_up(
    engine: Engine, bin_ready: str
) -> None:
    a = _processor(engine)
    b = _processor(engine, state_ttl_s=0.0)  # re-reads the bins' policy state every batch
    _feed(a, fill(BIN, seq=1, fill_pct=50))
    _feed(b, fill(BIN, seq=2, fill_pct=55))
    _feed(a, fill(BIN, seq=3, fill_pct=85))  # a's reading crosses: one pickup
    _feed(b, fill(BIN, seq=4, fill_pct=86))  # b sees the bin disarmed: no second one
    assert len(_pickups(engine)) == 1

    # the bin is emptied; b sees it and re-arms the bin
    with session_factory(engine)() as s:
        pk = _pickups(engine)[0]
        s.get_one(Pickup, pk.id).status = "done"
        s.commit()
    _feed(b, fill(BIN, seq=5, fill_pct=5))
    assert _bin(engine).armed is True
    # a still believes the bin is disarmed (its cache is fresh); b, re-reading, opens
    _feed(a, fill(BIN, seq=6, fill_pct=20))
    _feed(b, fill(BIN, seq=7, fill_pct=88))
    assert [x.status for x in _pickups(engine)] == ["done", "open"]


def test_writing_behind_costs_a_fixed_number_of_statements(
    engine: Engine, session: Session
) -> None:
    """501 bins (two IN-list chunks) with levels and forecast samples pending in memory.

    mutant: keep_samples working out each bin's rate with its own SELECT -> fails
    mutant: the levels written one UPDATE per statement call per bin -> fails
    """
    ids = [f"bn-wb{i:03d}" for i in range(501)]
    for b in ids:
        register_device(session, device_id=b, kind="bin", site="bank01")
        register_bin(session, bin_id=b, site="bank01", device_id=b)
    session.commit()
    p = _processor(engine)
    for seq in (1, 2):  # two readings 10 minutes apart: two samples each, a fill rate
        out = _feed(p, *(fill(b, seq=seq, fill_pct=10.0 * seq) for b in ids))
        assert out.accepted == len(ids)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        p.write_behind(force=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 8, statements  # BEGIN, samples x4 (2 SELECTs), bins, devices
    with session_factory(engine)() as s:
        rows = s.execute(select(Bin.fill_pct, Bin.fill_rate_pct_per_h).where(Bin.bin_id.in_(ids)))
        assert [(pct, round(rate or 0, 6)) for pct, rate in rows] == [(20.0, 60.0)] * len(ids)
