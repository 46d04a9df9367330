"""Bin simulator: daily pattern, emptying, and the bridge's FillSensor reading its mock pins."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from gpiozero.pins.mock import MockFactory

from contract.models import SensorFault
from edge.firmware_bridge.sensors.fill import FillSensor
from simulators.bins import BinModel, BinSimulator, HookOptions, attach, detach, pickup_poller
from simulators.clock import SimClock

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 00:00 in Asia/Jakarta


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def model(clock: SimClock, **kw: float) -> BinModel:
    return BinModel(
        bin_id="bin-a", empty_depth_mm=1000, full_margin_mm=100, clock=clock, seed=1, **kw
    )


def test_fills_with_a_daily_pattern() -> None:
    t = FakeTime()
    clock = SimClock(speed=1, start=START, monotonic=t)
    bin_ = model(clock, daily_growth_pct=40.0)
    levels = []
    for hour in range(25):
        t.t = hour * 3600
        levels.append(bin_.fill_pct())
    night = levels[4] - levels[0]  # 00:00-04:00 local
    morning = levels[9] - levels[5]  # 05:00-09:00 local
    assert morning > 5 * night
    assert 20 < levels[24] < 80  # about the daily growth, with day-to-day noise
    assert levels == sorted(levels)


def test_emptied_and_overflow_capped() -> None:
    t = FakeTime()
    clock = SimClock(speed=1, start=START, monotonic=t)
    bin_ = model(clock, daily_growth_pct=200.0, initial_fill_pct=50)
    t.t = 5 * 86400
    assert bin_.fill_pct() == 110.0
    assert bin_.distance_mm() >= 25
    bin_.empty()
    assert bin_.fill_pct() <= 3
    assert bin_.distance_mm() > 970
    assert bin_.emptied_count == 1


def test_distance_follows_the_calibration() -> None:
    clock = SimClock(speed=1, start=START, monotonic=FakeTime())
    bin_ = model(clock, daily_growth_pct=0.0, initial_fill_pct=50)
    assert bin_.distance_mm() == pytest.approx(550)


def test_time_acceleration() -> None:
    t = FakeTime()
    clock = SimClock.day_in(2, start=START, monotonic=t)
    t.t = 120
    assert clock.now() - START == timedelta(days=1)
    assert clock.real_seconds(3600) == pytest.approx(5)
    assert clock.local_hour(START) == 0


# ------------------------------------------------------------------ through the pins


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def sensor(factory: MockFactory) -> FillSensor:
    return FillSensor(
        trigger_pin=17,
        echo_pin=27,
        empty_depth_mm=1000,
        full_margin_mm=100,
        samples=5,
        sample_gap_s=0.0,
        pin_factory=factory,
    )


def test_fill_sensor_reads_the_simulated_bin(factory: MockFactory) -> None:
    clock = SimClock(speed=1, start=START, monotonic=FakeTime())
    bin_ = model(clock, daily_growth_pct=0.0, initial_fill_pct=40)
    sim = BinSimulator(bin_, factory, trigger_pin=17, echo_pin=27, surface_noise_mm=1.0)
    with sim, sensor(factory) as fill:
        m = fill.measure()
        assert m.fault is None
        # the echo's edges carry their own time stamps: exact even on a busy machine
        assert m.distance_mm == pytest.approx(640, abs=3)
        assert m.fill_pct == pytest.approx(40, abs=0.5)
        bin_.set_fill(85)
        assert fill.measure().fill_pct == pytest.approx(85, abs=0.5)
        sim.empty()
        emptied = fill.measure().fill_pct
        assert emptied is not None
        assert emptied < 5
        assert sim.pings >= 15


def test_sensor_faults_on_demand(factory: MockFactory) -> None:
    clock = SimClock(speed=1, start=START, monotonic=FakeTime())
    sim = BinSimulator(model(clock, initial_fill_pct=30), factory, trigger_pin=17, echo_pin=27)
    with sim, sensor(factory) as fill:
        sim.set_fault("no_echo")
        m = fill.measure()
        assert (m.fault, m.fill_pct) == (SensorFault.NO_ECHO, None)
        sim.set_fault("out_of_range")
        assert fill.measure().fault is SensorFault.OUT_OF_RANGE
        sim.set_fault("unstable")
        assert fill.measure().fault is SensorFault.UNSTABLE
        sim.set_fault(None)
        assert fill.measure().fault is None
    with pytest.raises(ValueError, match="unknown fault"):
        sim.set_fault("melted")  # type: ignore[arg-type]


def test_refuses_pins_already_taken(factory: MockFactory) -> None:
    with sensor(factory):  # the sensor claimed plain mock pins first
        clock = SimClock(speed=1, start=START, monotonic=FakeTime())
        with pytest.raises(RuntimeError, match="before the sensor"):
            BinSimulator(model(clock), factory, trigger_pin=17, echo_pin=27)


# ------------------------------------------------------------------ emptying through the API


class _Pickups(BaseHTTPRequestHandler):
    items: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        body = json.dumps({"items": self.items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pickups_api() -> Iterator[tuple[str, list[dict[str, str]]]]:
    items: list[dict[str, str]] = [{"id": "1", "bin_id": "bin-a", "status": "done"}]
    handler = type("Handler", (_Pickups,), {"items": items})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pickups", items
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_pickup_poller_fires_once_per_completed_pickup(
    pickups_api: tuple[str, list[dict[str, str]]],
) -> None:
    url, items = pickups_api
    poll = pickup_poller(url, "bin-a")
    assert not poll()  # pickup 1 was done before: baseline
    items.append({"id": "2", "bin_id": "bin-a", "status": "open"})
    items.append({"id": "3", "bin_id": "bin-b", "status": "done"})
    assert not poll()
    items[1]["status"] = "done"
    assert poll()
    assert not poll()
    assert not pickup_poller("http://127.0.0.1:9/none", "bin-a")()  # API down: nothing


def test_attach_hook_simulates_the_agent_bins(
    factory: MockFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.config import EdgeSettings

    settings = EdgeSettings(
        device_id="bin-node-01",
        pin_factory="mock",
        bins=[
            {
                "bin_id": "bin-a",
                "trigger_pin": 17,
                "echo_pin": 27,
                "empty_depth_mm": 1000,
                "full_margin_mm": 100,
            },
            {
                "bin_id": "bin-b",
                "trigger_pin": 5,
                "echo_pin": 6,
                "empty_depth_mm": 800,
                "full_margin_mm": 100,
            },
        ],
    )
    monkeypatch.setenv("SALINMAS_SIM_FILL", "70,20")
    monkeypatch.setenv("SALINMAS_SIM_DAILY_GROWTH", "0")
    assert HookOptions.from_env().fills == (70.0, 20.0)
    sims = attach(factory, settings)
    try:
        assert [round(s.fill_pct()) for s in sims] == [70, 20]
        with sensor(factory) as fill:
            assert fill.measure().fill_pct == pytest.approx(70, abs=0.5)
    finally:
        detach(sims)
