"""One bin policy, two paths: one message at a time and the ingest's cached batches agree.

Random fill sequences (levels around the threshold and the re-arm level, faults, lid and
tilt changes, replays, readings seconds to an hour apart) go once through
:func:`cloud.pickups.apply_fill`, one reading per transaction, and once through the
ingest's :class:`~cloud.ingest.Processor` in random batches with its caches (routine
levels written behind, caches re-read or not). Both must leave the same pickups, the
same alerts, the same forecast samples and the same bin state. On SQLite and PostgreSQL.

mutant: routine readings in the batch path keep a sample on every reading (no
        SAMPLE_EVERY) while the one-message path does not -> samples differ
mutant: the batch path skips the flush before a decision -> fill rate / due time differ
mutant: BinCache.adopt forgets the sampled_at the one-message path returns -> samples differ
mutant: a decision taken in memory as routine (``routine`` ignores the arming) -> pickups differ
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud.db import session_factory
from cloud.devices import register_device
from cloud.ingest import Message, Processor
from cloud.models import Alert, Bin, FillSample, Pickup
from cloud.pickups import apply_fill, register_bin
from contract import Fill, Kind, SensorFault, device_topic
from contract.models import to_json
from tests.cloud.factories import T0, fill

pytestmark = pytest.mark.integration

_bins = itertools.count(1)
#: levels that sit on and around the threshold (80) and the re-arm level (70)
_LEVELS = st.one_of(
    st.sampled_from([0.0, 5.0, 69.9, 70.0, 75.0, 79.9, 80.0, 85.0, 95.0, 100.0]),
    st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 1)),
)
_READING = st.fixed_dictionaries(
    {
        "dt_s": st.one_of(st.integers(5, 120), st.integers(121, 3600)),
        "level": st.one_of(_LEVELS, _LEVELS, _LEVELS, st.none()),  # None: a fault
        "lid": st.sampled_from([None, None, None, False, True]),
        "tilt": st.sampled_from([None, None, None, None, False, True]),
        "replay": st.integers(0, 9).map(lambda n: n == 0),  # 1 in 10: an older seq again
        "synced": st.integers(0, 9).map(lambda n: n != 0),
    }
)


def _fills(bin_id: str, steps: list[dict[str, Any]]) -> list[Fill]:
    out: list[Fill] = []
    t, seq = T0, 0
    for s in steps:
        t += timedelta(seconds=s["dt_s"])
        if s["replay"] and out:
            out.append(out[len(out) // 2])
            continue
        seq += 1
        level = s["level"]
        out.append(
            fill(
                bin_id,
                seq=seq,
                device_time=t,
                clock_synced=s["synced"],
                fill_pct=level,
                distance_mm=None if level is None else int(1000 - 9 * level),
                fault=SensorFault.NO_ECHO if level is None else None,
                lid_open=s["lid"],
                tilted=s["tilt"],
            )
        )
    return out


def _received(ev: Fill) -> datetime:
    return ev.device_time + timedelta(seconds=2)


def _new_bin(session: Session, tag: str) -> str:
    bin_id = f"bn-{tag}{next(_bins)}"
    register_device(session, device_id=bin_id, kind="bin", site="bank01")
    register_bin(session, bin_id=bin_id, site="bank01", device_id=bin_id)
    session.commit()
    return bin_id


def _outcome(session: Session, bin_id: str) -> dict[str, Any]:
    """Everything the policy leaves behind for one bin, free of the bin's id."""
    b = session.get_one(Bin, bin_id)
    session.refresh(b)
    pickups = select(Pickup).where(Pickup.bin_id == bin_id).order_by(Pickup.id)
    alerts = select(Alert).where(Alert.subject == bin_id).order_by(Alert.id)
    samples = select(FillSample).where(FillSample.bin_id == bin_id).order_by(FillSample.at)
    return {
        "bin": (
            b.armed,
            b.fault,
            b.lid_open,
            b.tilted,
            b.last_seq,
            b.fill_pct,
            b.distance_mm,
            b.state_at,
            b.fill_rate_pct_per_h,
            b.forecast_full_at,
        ),
        "pickups": [
            (p.status, p.priority, p.fill_pct_at_open, p.due_at) for p in session.scalars(pickups)
        ],
        "alerts": [(a.kind, a.cleared_at is None) for a in session.scalars(alerts)],
        "samples": [(x.at, x.fill_pct) for x in session.scalars(samples)],
    }


def _step(dt_s: int, level: float | None, lid: bool | None = None) -> dict[str, Any]:
    return {"dt_s": dt_s, "level": level, "lid": lid, "tilt": None, "replay": False, "synced": True}


#: a crossing with a sample pending in memory, a routine reading under a minute after
#: it, an emptied bin, a lid opened: in one batch, then in single ones
_ONE_BATCH = [
    _step(5, 50.0),
    _step(70, 60.0),
    _step(70, 85.0),
    _step(10, 86.0),
    _step(3600, 5.0),
    _step(30, 10.0, lid=True),
    _step(20, 12.0, lid=True),
    _step(20, 13.0, lid=False),
]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(_READING, min_size=1, max_size=14),
    cuts=st.lists(st.integers(1, 5), min_size=14, max_size=14),
    write_between=st.lists(st.booleans(), min_size=14, max_size=14),
    reread=st.booleans(),
)
@example(steps=_ONE_BATCH, cuts=[5] * 14, write_between=[False] * 14, reread=False)
@example(steps=_ONE_BATCH, cuts=[1] * 14, write_between=[True] * 14, reread=True)
def test_one_message_and_cached_batches_agree(
    engine: Engine,
    household_id: int,  # the seeded site and programme
    steps: list[dict[str, Any]],
    cuts: list[int],
    write_between: list[bool],
    reread: bool,
) -> None:
    factory = session_factory(engine)
    with factory() as s:
        one, batched = _new_bin(s, "one"), _new_bin(s, "bat")

    with factory() as s:  # the one-message path, one reading per transaction
        for ev in _fills(one, steps):
            apply_fill(s, fill=ev, received_at=_received(ev))
            s.commit()

    proc = Processor(
        factory,
        None,
        state_write_interval_s=3600.0,
        seen_write_interval_s=3600.0,
        state_ttl_s=0.0 if reread else 3600.0,
    )
    evs = _fills(batched, steps)
    start = 0
    for cut, write in zip(cuts, write_between, strict=True):
        if start >= len(evs):
            break
        batch = evs[start : start + cut]
        start += cut
        msgs = [Message(device_topic(batched, Kind.FILL), to_json(e), _received(e)) for e in batch]
        out = proc.process(msgs)
        assert out.accepted == len(batch), out.dead_letters
        if write:
            proc.write_behind(force=True)
    proc.write_behind(force=True)

    with factory() as s:
        assert _outcome(s, batched) == _outcome(s, one)
