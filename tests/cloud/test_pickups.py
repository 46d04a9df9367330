"""Bins: the pickup policy with hysteresis, forecast, alerts and the pickup lifecycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import errors, households, pricing
from cloud.devices import (
    apply_health,
    apply_status,
    get_device,
    register_device,
    sweep_silent_devices,
)
from cloud.doorstep import DoorstepSettings, request_pickup
from cloud.fill_policy import fill_rate_pct_per_h
from cloud.models import Pickup
from cloud.pickups import (
    acknowledge_alert,
    apply_fill,
    assign_pickup,
    cancel_pickup,
    complete_pickup,
    get_bin,
    list_alerts,
    list_pickups,
    open_pickup,
    register_bin,
)
from contract import DeviceStatus, SensorFault
from tests.cloud.factories import T0, fill, health

pytestmark = pytest.mark.integration
BIN = "bn-bin01"


@pytest.fixture
def bin_ready(session: Session) -> str:
    register_device(session, device_id=BIN, kind="bin", site="bank01")
    register_bin(session, bin_id=BIN, site="bank01", device_id=BIN, lat=-7.42, lon=109.23)
    session.commit()
    return BIN


def _feed(session: Session, levels: list[float], start_seq: int = 1) -> list[int | None]:
    opened = []
    for i, level in enumerate(levels):
        ev = fill(BIN, seq=start_seq + i, fill_pct=level)
        out = apply_fill(session, fill=ev, received_at=ev.device_time)
        opened.append(out.opened_pickup_id)
    session.commit()
    return opened


def _pickups(session: Session) -> list[Pickup]:
    return list(session.scalars(select(Pickup).where(Pickup.bin_id == BIN)))


def test_crossing_80_opens_exactly_one_pickup(session: Session, bin_ready: str) -> None:
    opened = _feed(session, [10, 30, 50, 70, 79.9, 80.0, 85, 90])
    assert [o is not None for o in opened] == [False] * 5 + [True] + [False] * 2
    pickups = _pickups(session)
    assert len(pickups) == 1
    assert pickups[0].kind == "bin_full"
    assert pickups[0].fill_pct_at_open == 80.0
    assert pickups[0].due_at is not None


def test_oscillating_around_threshold_opens_no_more(session: Session, bin_ready: str) -> None:
    _feed(session, [60, 81, 79, 81, 78, 82, 75, 80.5, 71, 83])
    assert len(_pickups(session)) == 1
    assert [a.kind for a in list_alerts(session)] == ["bin_full"]


def test_emptied_bin_rearms_and_the_next_fill_opens_a_new_pickup(
    session: Session, bin_ready: str
) -> None:
    _feed(session, [70, 85])
    first = _pickups(session)[0]
    complete_pickup(session, pickup_id=first.id, collected_g=42_000)
    _feed(session, [5, 40, 81], start_seq=3)
    assert [p.status for p in _pickups(session)] == ["done", "open"]


def test_still_full_after_cancel_does_not_reopen_until_emptied(
    session: Session, bin_ready: str
) -> None:
    _feed(session, [85])
    cancel_pickup(session, pickup_id=_pickups(session)[0].id, reason="duplicate call")
    _feed(session, [86, 88], start_seq=2)
    assert [p.status for p in _pickups(session)] == ["cancelled"]


def test_replayed_or_stale_readings_change_nothing(session: Session, bin_ready: str) -> None:
    _feed(session, [50, 60], start_seq=10)
    ev = fill(BIN, seq=5, fill_pct=95)  # older than what we have
    out = apply_fill(session, fill=ev, received_at=ev.device_time)
    assert not out.applied
    assert get_bin(session, bin_id=BIN).fill_pct == 60
    assert _pickups(session) == []


def test_forecast_from_recent_fill_rate(session: Session, bin_ready: str) -> None:
    # fill() spaces readings 10 minutes apart: +5 % per reading = 30 %/h
    _feed(session, [20, 25, 30, 35, 40])
    b = get_bin(session, bin_id=BIN)
    assert b.fill_rate_pct_per_h == pytest.approx(30.0)
    assert b.state_at is not None
    assert b.forecast_full_at == b.state_at + timedelta(hours=2)


def test_fill_rate_needs_two_samples() -> None:
    assert fill_rate_pct_per_h([(T0, 10.0)]) is None
    assert fill_rate_pct_per_h([(T0, 10.0), (T0 + timedelta(hours=2), 30.0)]) == 10.0


def test_fault_lid_and_tilt_raise_and_clear_alerts(session: Session, bin_ready: str) -> None:
    ev = fill(BIN, seq=1, fill_pct=None, distance_mm=None, fault=SensorFault.NO_ECHO)
    apply_fill(session, fill=ev, received_at=ev.device_time)
    ev = fill(BIN, seq=2, fill_pct=40, lid_open=True, tilted=True)
    apply_fill(session, fill=ev, received_at=ev.device_time)
    assert sorted(a.kind for a in list_alerts(session)) == ["lid_open", "tilt"]
    everything = list_alerts(session, active_only=False)
    assert sorted(a.kind for a in everything) == ["lid_open", "sensor_fault", "tilt"]
    lid = next(a for a in everything if a.kind == "lid_open")
    acknowledge_alert(session, alert_id=lid.id, by="op")
    assert lid.acknowledged_by == "op"
    ev = fill(BIN, seq=3, fill_pct=41, lid_open=False, tilted=False)
    apply_fill(session, fill=ev, received_at=ev.device_time)
    assert list_alerts(session) == []


def test_pickup_lifecycle_and_household_requests(session: Session, bin_ready: str) -> None:
    """mutant: a household's pickup completed without weigh-ins -> the LedgerError is missed"""
    hh = households.register_household(session, member_no="M-9", name="Ibu Ani", site="bank01")
    pricing.ensure_category(session, code="plastic-pet", name_id="PET", name_en="PET")
    req = request_pickup(
        session,
        household_id=hh.id,
        categories=["plastic-pet"],
        note="3 bags",
        address="Jl. Mawar 3",
        settings=DoorstepSettings(),
    )
    manual = open_pickup(session, bin_id=BIN, kind="manual", due_at=T0)
    with pytest.raises(errors.LedgerError):
        open_pickup(session, bin_id=BIN, kind="manual")  # one open per bin
    assign_pickup(session, pickup_id=req.id, collector_id=7)
    assign_pickup(session, pickup_id=manual.id, collector_id=7)
    assert [p.id for p in list_pickups(session, collector_id=7)] == [manual.id, req.id]
    assert [p.id for p in list_pickups(session, status=("open", "assigned"))] == [manual.id, req.id]
    with pytest.raises(errors.LedgerError, match="weigh-ins"):
        complete_pickup(session, pickup_id=req.id, collected_g=3_500)  # it would pay nobody
    done = complete_pickup(session, pickup_id=manual.id, collected_g=42_000)
    assert (done.status, done.collected_g) == ("done", 42_000)
    with pytest.raises(errors.LedgerError):
        complete_pickup(session, pickup_id=manual.id, collected_g=1)
    assert list_pickups(session, household_id=hh.id)[0].status == "assigned"


def test_silent_devices_are_marked_offline(session: Session, bin_ready: str) -> None:
    apply_status(session, status=DeviceStatus(device_id=BIN, state="online"), received_at=T0)
    apply_health(session, health=health(BIN, seq=1), received_at=T0)
    dev = get_device(session, device_id=BIN)
    assert dev is not None
    assert dev.online
    assert sweep_silent_devices(session, now=T0 + timedelta(minutes=10)) == []
    assert sweep_silent_devices(session, now=T0 + timedelta(minutes=16)) == [BIN]
    assert not dev.online
    assert [a.kind for a in list_alerts(session)] == ["device_offline"]
    assert sweep_silent_devices(session, now=T0 + timedelta(minutes=30)) == []
