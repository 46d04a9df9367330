"""Bin and station GPIO devices on gpiozero's MockFactory (injected, never patched)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.exc import PinInvalidPin
from gpiozero.pins.mock import MockFactory, MockPin, MockTriggerPin

from contract.models import SensorFault
from edge.firmware_bridge.sensors import (
    PATTERNS,
    CategoryButtons,
    FillSensor,
    LidSwitch,
    StationFeedback,
    TiltSwitch,
)
from edge.firmware_bridge.sensors.fill import SPEED_OF_SOUND_M_S

TRIG, ECHO = 23, 24


def echo_time(distance_mm: float) -> float:
    return 2 * distance_mm / 1000 / SPEED_OF_SOUND_M_S


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def bin_sensor(
    factory: MockFactory, distance_mm: float | None, **kwargs: int
) -> tuple[FillSensor, MockPin]:
    echo = factory.pin(ECHO)
    if distance_mm is None:
        trigger = factory.pin(TRIG)  # wired to nothing: no echo ever comes back
    else:
        trigger = factory.pin(
            TRIG, pin_class=MockTriggerPin, echo_pin=echo, echo_time=echo_time(distance_mm)
        )
    params = {"empty_depth_mm": 1000, "full_margin_mm": 200, **kwargs}
    sensor = FillSensor(
        trigger_pin=TRIG, echo_pin=ECHO, sample_gap_s=0.0, pin_factory=factory, **params
    )
    return sensor, trigger


@pytest.mark.parametrize(
    ("distance_mm", "fill_pct"),
    [(1000, 0.0), (600, 50.0), (200, 100.0), (400, 75.0), (100, 100.0)],
)
def test_fill_percent_from_distance(
    factory: MockFactory, distance_mm: int, fill_pct: float
) -> None:
    sensor, _ = bin_sensor(factory, distance_mm)
    with sensor:
        m = sensor.measure()
    assert m.fault is None
    assert m.distance_mm == pytest.approx(distance_mm, abs=25)  # thread timing jitter
    assert m.fill_pct == pytest.approx(fill_pct, abs=3.5)


def test_calibration_is_per_bin(factory: MockFactory) -> None:
    sensor, _ = bin_sensor(factory, 500, empty_depth_mm=700, full_margin_mm=300)
    with sensor:
        m = sensor.measure()
    assert m.fill_pct == pytest.approx(50.0, abs=7)
    with sensor:
        assert sensor.fill_pct(700) == 0.0
        assert sensor.fill_pct(300) == 100.0
        assert sensor.fill_pct(650) == 12.5


def test_no_echo_is_a_fault_not_a_level(factory: MockFactory) -> None:
    sensor, _ = bin_sensor(factory, None, samples=3)
    with sensor:
        m = sensor.measure()
    assert m.fault is SensorFault.NO_ECHO
    assert m.fill_pct is None
    assert m.distance_mm is None


def test_beyond_the_bin_bottom_is_out_of_range(factory: MockFactory) -> None:
    sensor, _ = bin_sensor(factory, 1500)  # lid open, sensor looking at the ceiling
    with sensor:
        m = sensor.measure()
    assert m.fault is SensorFault.OUT_OF_RANGE
    assert m.fill_pct is None


def test_inside_the_blind_zone_is_out_of_range(factory: MockFactory) -> None:
    sensor, _ = bin_sensor(factory, 5)
    with sensor:
        m = sensor.measure()
    assert m.fault is SensorFault.OUT_OF_RANGE
    assert m.fill_pct is None


def test_the_sensor_follows_the_level(factory: MockFactory) -> None:
    sensor, trigger = bin_sensor(factory, 900)
    with sensor:
        low = sensor.measure()
        trigger.echo_time = echo_time(300)  # type: ignore[attr-defined]
        high = sensor.measure()
    assert low.fill_pct is not None
    assert high.fill_pct is not None
    assert low.fill_pct < 20 < 80 < high.fill_pct


@pytest.mark.parametrize(
    "kwargs",
    [
        {"empty_depth_mm": 10, "full_margin_mm": 5},
        {"empty_depth_mm": 1000, "full_margin_mm": 1000},
        {"empty_depth_mm": 1000, "full_margin_mm": 200, "samples": 0},
        {"empty_depth_mm": 5000, "full_margin_mm": 200, "max_distance_m": 4.0},
    ],
)
def test_fill_sensor_validates(factory: MockFactory, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must"):
        FillSensor(trigger_pin=TRIG, echo_pin=ECHO, pin_factory=factory, **kwargs)  # type: ignore[arg-type]
    # nothing was left open: the pins can be claimed again
    FillSensor(
        trigger_pin=TRIG,
        echo_pin=ECHO,
        empty_depth_mm=1000,
        full_margin_mm=200,
        pin_factory=factory,
    ).close()


def test_fill_sensor_closes_the_trigger_if_the_echo_pin_fails(factory: MockFactory) -> None:
    with pytest.raises(PinInvalidPin, match="not a valid pin"):
        FillSensor(
            trigger_pin=TRIG,
            echo_pin="NOT-A-PIN",
            empty_depth_mm=1000,
            full_margin_mm=200,
            pin_factory=factory,
        )
    FillSensor(
        trigger_pin=TRIG,
        echo_pin=ECHO,
        empty_depth_mm=1000,
        full_margin_mm=200,
        pin_factory=factory,
    ).close()


def test_lid_and_tilt_switches(factory: MockFactory) -> None:
    lid = LidSwitch(17, bounce_time_s=None, pin_factory=factory)
    tilt = TiltSwitch(27, bounce_time_s=None, pin_factory=factory)
    try:
        lid_pin, tilt_pin = factory.pin(17), factory.pin(27)
        lid_pin.drive_low()  # switch closed (pull-up): lid shut
        tilt_pin.drive_low()  # upright
        assert not lid.is_open
        assert not tilt.tilted
        lid_pin.drive_high()  # magnet gone, or a cut wire
        tilt_pin.drive_high()
        assert lid.is_open
        assert tilt.tilted
    finally:
        lid.close()
        tilt.close()


def wait_until(condition: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def on_count(pin: MockPin) -> int:
    return sum(1 for s in pin.states if s.state)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_feedback_patterns_drive_leds_and_buzzer(factory: MockFactory, name: str) -> None:
    feedback = StationFeedback(green_pin=5, red_pin=6, buzzer_pin=13, pin_factory=factory)
    try:
        green, red, buzzer = factory.pin(5), factory.pin(6), factory.pin(13)
        for pin in (green, red, buzzer):
            pin.clear_states()
        pattern = PATTERNS[name]
        feedback.signal(name)
        lit = {"green": [green], "red": [red], "both": [green, red]}[pattern.led]
        dark = [p for p in (green, red) if p not in lit]
        assert wait_until(
            lambda: (
                all(on_count(p) == pattern.blinks for p in lit)
                and on_count(buzzer) == pattern.beeps
                and not any(p.state for p in (*lit, buzzer))
            )
        )
        assert all(on_count(p) == 0 for p in dark)
    finally:
        feedback.close()


def test_feedback_rejects_unknown_patterns_and_cleans_up(factory: MockFactory) -> None:
    feedback = StationFeedback(green_pin=5, red_pin=6, pin_factory=factory)
    try:
        with pytest.raises(ValueError, match="unknown pattern"):
            feedback.signal("party")
    finally:
        feedback.close()
    with pytest.raises(PinInvalidPin, match="not a valid pin"):
        StationFeedback(green_pin=5, red_pin="NOT-A-PIN", pin_factory=factory)
    StationFeedback(green_pin=5, red_pin=6, pin_factory=factory).close()  # 5 was released


def test_category_buttons_select_and_call_back(factory: MockFactory) -> None:
    chosen: list[str] = []
    buttons = CategoryButtons(
        {20: "organic", 21: "plastic-pet"},
        factory,
        on_select=chosen.append,
        bounce_time_s=None,
    )
    try:
        assert buttons.selected is None
        factory.pin(21).drive_low()
        assert wait_until(lambda: buttons.selected == "plastic-pet")
        factory.pin(21).drive_high()
        factory.pin(20).drive_low()
        assert wait_until(lambda: buttons.selected == "organic")
        assert chosen == ["plastic-pet", "organic"]
        buttons.clear()
        assert buttons.selected is None
    finally:
        buttons.close()


@pytest.mark.parametrize(
    "pins",
    [{}, {20: "Organic!"}, {20: "organic", 21: "organic"}],
)
def test_category_buttons_validate(factory: MockFactory, pins: dict[int, str]) -> None:
    with pytest.raises(ValueError, match=r"categor|pins"):
        CategoryButtons(pins, factory)


def test_category_buttons_close_what_they_opened_on_failure(factory: MockFactory) -> None:
    with pytest.raises(PinInvalidPin, match="not a valid pin"):
        CategoryButtons({20: "organic", "NOT-A-PIN": "paper"}, factory)
    CategoryButtons({20: "organic"}, factory).close()  # pin 20 was released
