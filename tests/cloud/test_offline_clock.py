"""A station offline for three hours across a price change, with an unsynchronised clock:
its weigh-ins are priced and dated by when they were weighed (cloud/clock.py).

The station booted without network (its wall clock years off, ``clock_synced`` false),
weighed for three hours while the price changed, then connected: its ``status`` (with
``mono_ms``) and the queued weigh-ins arrive together, an hour after the change.

mutant: event_time ignores the anchor (receive time, the old rule) -> every test here
mutant: Anchor.date adds instead of subtracting the monotonic difference -> ..._status_anchor
mutant: BootClock.saw_status keeps the loosest status -> test_..._status_anchor
mutant: an unanchored unsynced weigh-in is credited at once -> test_without_a_status_...
mutant: resolve_automatic never releases clock holds -> test_without_a_status_...
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from cloud import pricing
from cloud.db import session_factory
from cloud.holds import resolve_automatic
from cloud.ingest import Processor
from cloud.models import Hold, WeighinRecord, utcnow
from contract import Kind
from contract.models import Health, to_json
from tests.cloud.conftest import seed_programme
from tests.cloud.signing_support import SigningStation, message

pytestmark = pytest.mark.integration
ST = "st-offline01"
CHANGE = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # midnight in Banyumas: a new price
BOOT = CHANGE - timedelta(hours=2)  # when the station booted, without network
ONLINE = BOOT + timedelta(hours=3)  # three hours later it reaches the broker
WRONG = datetime(2020, 1, 1, tzinfo=UTC)  # what its unsynchronised wall clock says
H = 3_600_000  # ms


@pytest.fixture
def station(engine: Engine) -> SigningStation:
    with session_factory(engine)() as s:
        seed_programme(s, stations=(ST,))  # plastic-pet 3,000/kg from January
        pricing.set_price(s, category="plastic-pet", rp_per_kg=5_000, effective_from=CHANGE)
        st = SigningStation(ST, synced=False)
        st.approve(s)
        s.commit()
    return st


def _weighed_offline(st: SigningStation) -> list[bytes]:
    """1 h, 1.5 h (before the change), 2.5 h and 2.9 h (after) into the boot."""
    return [
        st.weighin(1_000 * (i + 1), at=WRONG + timedelta(hours=h), mono_ms=int(h * H))
        for i, h in enumerate((1.0, 1.5, 2.5, 2.9))
    ]


def _priced(engine: Engine) -> list[tuple[str, int | None, datetime]]:
    with session_factory(engine)() as s:
        rows = s.execute(
            select(
                WeighinRecord.status, WeighinRecord.price_rp_per_kg, WeighinRecord.effective_at
            ).order_by(WeighinRecord.seq)
        )
        return [(st, p, eff) for st, p, eff in rows]


def _close(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= timedelta(seconds=2)


def test_weighins_queued_offline_are_priced_when_weighed_by_the_status_anchor(
    engine: Engine, station: SigningStation
) -> None:
    queued = _weighed_offline(station)
    status = message(station.status(3 * H), Kind.STATUS, at=ONLINE + timedelta(milliseconds=200))
    late = ONLINE + timedelta(seconds=1)
    # a looser status of the same boot (a retained one, delivered late) changes nothing
    stale = message(station.status(1 * H), Kind.STATUS, at=ONLINE + timedelta(seconds=30))
    p = Processor(session_factory(engine), None, enforce_integrity=True)
    p.process([status, stale, *(message(w, at=late) for w in queued)])
    got = _priced(engine)
    assert [st for st, _, _ in got] == ["credited"] * 4
    assert [price for _, price, _ in got] == [3_000, 3_000, 5_000, 5_000]
    for (_, _, eff), hours in zip(got, (1.0, 1.5, 2.5, 2.9), strict=True):
        assert _close(eff, BOOT + timedelta(hours=hours)), eff


def test_without_a_status_they_wait_for_a_synchronised_event_of_their_boot(
    engine: Engine, station: SigningStation
) -> None:
    queued = _weighed_offline(station)
    p = Processor(session_factory(engine), None, enforce_integrity=True)
    p.process([message(w, at=ONLINE + timedelta(seconds=1)) for w in queued])
    assert [st for st, _, _ in _priced(engine)] == ["held"] * 4  # no anchor: they wait
    # a minute later NTP has synced: the next heartbeat of the same boot dates them
    seq = station.next_seq()
    beat = Health(
        device_id=ST,
        seq=seq,
        event_id=f"{ST}:{seq}",
        device_time=ONLINE + timedelta(minutes=1),
        clock_synced=True,
        boot_id=station.boot,
        mono_ms=3 * H + 60_000,
        sw_version="0.1.0",
        uptime_s=3 * 3600 + 60,
        outbox_depth=0,
        outbox_capacity=50_000,
    )
    p.process([message(to_json(beat), Kind.HEALTH, at=ONLINE + timedelta(minutes=1, seconds=1))])
    got = _priced(engine)
    assert [st for st, _, _ in got] == ["credited"] * 4
    assert [price for _, price, _ in got] == [3_000, 3_000, 5_000, 5_000]
    assert _close(got[0][2], BOOT + timedelta(hours=1))
    with session_factory(engine)() as s:
        assert {h.resolved_by for h in s.scalars(select(Hold))} == {"system:clock"}


def test_a_boot_that_never_gets_its_time_counts_at_receive_time_after_the_wait(
    engine: Engine, station: SigningStation
) -> None:
    queued = _weighed_offline(station)[:1]
    p = Processor(session_factory(engine), None, enforce_integrity=True)
    p.process([message(w, at=ONLINE) for w in queued])
    now = utcnow()
    with session_factory(engine)() as s:
        assert resolve_automatic(s, p.inspector(), now=now + timedelta(minutes=5)) == []
        assert len(resolve_automatic(s, p.inspector(), now=now + timedelta(hours=2))) == 1
        s.commit()
    [(status, price, eff)] = _priced(engine)
    assert (status, price, eff) == ("credited", 5_000, ONLINE)
