"""BinMonitor: sample on schedule, report on first/change/fault/lid/heartbeat only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from edge.bins import BinMonitor, as_fault
from edge.config import BinSettings
from edge.firmware_bridge.sensors import FillSensor, LidSwitch
from tests.edge.hooks import echo_time

TRIG, ECHO, LID = 17, 27, 22


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def monitor(factory: MockFactory, distance_mm: float) -> tuple[BinMonitor, Any, Any]:
    echo = factory.pin(ECHO)
    trigger = factory.pin(
        TRIG, pin_class=MockTriggerPin, echo_pin=echo, echo_time=echo_time(distance_mm)
    )
    lid_pin = factory.pin(LID)
    settings = BinSettings(
        bin_id="bin-test-a",
        trigger_pin=TRIG,
        echo_pin=ECHO,
        empty_depth_mm=1000,
        full_margin_mm=200,
        lid_pin=LID,
        samples=3,
        sample_interval_s=60,
        report_delta_pct=15,  # mock echoes are timed by threads: allow jitter
        heartbeat_s=900,
    )
    sensor = FillSensor(
        trigger_pin=TRIG,
        echo_pin=ECHO,
        empty_depth_mm=1000,
        full_margin_mm=200,
        samples=3,
        sample_gap_s=0.02,
        pin_factory=factory,
    )
    lid = LidSwitch(LID, pin_factory=factory)
    lid_pin.drive_low()  # the lid switch is closed: the lid is shut
    return BinMonitor(settings, sensor, lid_open=lambda: lid.is_open), trigger, lid_pin


@dataclass
class Scripted:
    """A fill source that reports what the test sets (the monitor's logic, no timing)."""

    fill_pct: float | None = 50.0
    distance_mm: int | None = 600
    fault: object = None

    def measure(self) -> Scripted:
        return self


def test_reports_first_change_and_heartbeat_only() -> None:
    source = Scripted()
    settings = BinSettings(
        bin_id="bin-test-b",
        trigger_pin=1,
        echo_pin=2,
        empty_depth_mm=1000,
        sample_interval_s=60,
        report_delta_pct=5,
        heartbeat_s=900,
    )
    mon = BinMonitor(settings, source)
    first = mon.poll(0.0)
    assert first is not None
    assert (first.fill_pct, first.distance_mm, first.fault) == (50.0, 600, None)
    assert mon.poll(30.0) is None  # not due yet
    source.fill_pct = 54.0
    assert mon.poll(60.0) is None  # due, sampled, moved < 5 %: not reported
    assert mon.samples == 2
    source.fill_pct = 87.5
    changed = mon.poll(120.0)
    assert changed is not None
    assert changed.fill_pct == 87.5
    assert mon.poll(180.0) is None
    heartbeat = mon.poll(1_020.0)  # 900 s since the last report
    assert heartbeat is not None
    assert heartbeat.fill_pct == 87.5
    source.fault, source.fill_pct = "no_echo", None
    fault = mon.poll(1_080.0)
    assert fault is not None
    assert (fault.fault, fault.fill_pct, fault.distance_mm) == ("no_echo", None, None)
    source.fault, source.fill_pct = None, 87.5
    cleared = mon.poll(1_140.0)  # the fault cleared: reported at once
    assert cleared is not None
    assert cleared.fill_pct == 87.5


def test_lid_opening_is_reported(factory: MockFactory) -> None:
    mon, _, lid_pin = monitor(factory, 600)
    assert mon.poll(0.0) is not None
    lid_pin.drive_high()
    report = mon.poll(60.0)
    assert report is not None
    assert report.lid_open is True


def test_a_dead_sensor_is_a_fault_never_a_level(factory: MockFactory) -> None:
    mon, trigger, _ = monitor(factory, 600)
    assert mon.poll(0.0) is not None
    trigger.echo_time = 0.5  # beyond the echo timeout: no echo
    fault = mon.poll(60.0)
    assert fault is not None
    assert (fault.fault, fault.fill_pct, fault.distance_mm) == ("no_echo", None, None)
    assert mon.poll(120.0) is None  # the same fault is not repeated before the heartbeat


def test_as_fault_maps_unknown_codes_to_hardware() -> None:
    assert as_fault(None) is None
    assert as_fault("no_echo") == "no_echo"
    assert as_fault("smoke") == "hardware"
