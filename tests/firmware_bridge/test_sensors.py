"""Bin and station GPIO devices on gpiozero's MockFactory (injected, never patched)."""

from __future__ import annotations

from collections.abc import Iterator

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
from tests.support.waiting import wait_until

TRIG, ECHO = 23, 24


def echo_time(distance_mm: float) -> float:
    return 2 * distance_mm / 1000 / SPEED_OF_SOUND_M_S


class TimedFactory(MockFactory):  # type: ignore[misc]
    """A MockFactory whose ticks come from a clock the test owns (no thread timing)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def ticks(self) -> float:
        return self.now


class TimedEchoPin(MockPin):  # type: ignore[misc]
    """An echo input whose edges carry the factory's test-owned ticks."""

    def _call_when_changed(self) -> None:
        super(MockPin, self)._call_when_changed(self._factory.now, self._state)


class EchoPin(MockPin):  # type: ignore[misc]
    """An HC-SR04 trigger whose echo returns synchronously after exactly ``distance_mm``."""

    def __init__(
        self, factory: TimedFactory, info: object, echo_pin: MockPin, distance_mm: float | None
    ) -> None:
        super().__init__(factory, info)
        self.echo_pin = echo_pin
        self.distance_mm = distance_mm
        self.timed_factory = factory
        #: distances for the next pings, in order (None = that ping gets no echo)
        self.script: list[float | None] = []

    def _set_state(self, value: bool) -> None:
        super()._set_state(value)
        if value and self.script:
            self.distance_mm = self.script.pop(0)
        if value and self.distance_mm is not None:
            self.echo_pin.drive_high()
            self.timed_factory.now += echo_time(self.distance_mm)
            self.echo_pin.drive_low()


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


@pytest.fixture
def timed() -> Iterator[TimedFactory]:
    f = TimedFactory()
    yield f
    f.reset()


def bin_sensor(
    factory: TimedFactory, distance_mm: float | None, **kwargs: int
) -> tuple[FillSensor, EchoPin]:
    echo = factory.pin(ECHO, pin_class=TimedEchoPin)
    trigger = factory.pin(TRIG, pin_class=EchoPin, echo_pin=echo, distance_mm=distance_mm)
    params = {"empty_depth_mm": 1000, "full_margin_mm": 200, **kwargs}
    sensor = FillSensor(
        trigger_pin=TRIG, echo_pin=ECHO, sample_gap_s=0.0, pin_factory=factory, **params
    )
    return sensor, trigger


@pytest.mark.parametrize(
    ("distance_mm", "fill_pct"),
    [(1000, 0.0), (600, 50.0), (200, 100.0), (400, 75.0), (100, 100.0), (1050, 0.0)],
)
def test_fill_percent_from_distance(timed: TimedFactory, distance_mm: int, fill_pct: float) -> None:
    sensor, _ = bin_sensor(timed, distance_mm)
    with sensor:
        m = sensor.measure()
    assert m.fault is None
    assert m.distance_mm == distance_mm
    assert m.fill_pct == fill_pct


def test_calibration_is_per_bin(timed: TimedFactory) -> None:
    sensor, _ = bin_sensor(timed, 500, empty_depth_mm=700, full_margin_mm=300)
    with sensor:
        assert sensor.measure().fill_pct == 50.0
        assert sensor.fill_pct(700) == 0.0
        assert sensor.fill_pct(300) == 100.0
        assert sensor.fill_pct(650) == 12.5


def test_no_echo_is_a_fault_not_a_level(timed: TimedFactory) -> None:
    sensor, _ = bin_sensor(timed, None, samples=3)
    with sensor:
        m = sensor.measure()
    assert m.fault is SensorFault.NO_ECHO
    assert m.fill_pct is None
    assert m.distance_mm is None


def test_the_median_survives_a_minority_of_lost_and_wild_echoes(timed: TimedFactory) -> None:
    sensor, trigger = bin_sensor(timed, 600, max_spread_mm=2000)
    trigger.script = [600.0, None, 610.0, 2500.0, 590.0]
    with sensor:
        m = sensor.measure()
    assert (m.fault, m.distance_mm, m.fill_pct) == (None, 605, 49.4)


def test_a_majority_of_lost_echoes_is_no_echo(timed: TimedFactory) -> None:
    sensor, trigger = bin_sensor(timed, 600)
    trigger.script = [600.0, None, None, 610.0, None]
    with sensor:
        assert sensor.measure().fault is SensorFault.NO_ECHO


def test_disagreeing_echoes_are_unstable(timed: TimedFactory) -> None:
    sensor, trigger = bin_sensor(timed, 600, max_spread_mm=100)
    trigger.script = [600.0, 450.0, 610.0, 760.0, 590.0]
    with sensor:
        m = sensor.measure()
    assert (m.fault, m.fill_pct) == (SensorFault.UNSTABLE, None)


def test_beyond_the_bin_bottom_is_out_of_range(timed: TimedFactory) -> None:
    sensor, _ = bin_sensor(timed, 1500)  # lid open, sensor looking at the ceiling
    with sensor:
        m = sensor.measure()
    assert (m.fault, m.distance_mm, m.fill_pct) == (SensorFault.OUT_OF_RANGE, 1500, None)


def test_inside_the_blind_zone_is_out_of_range(timed: TimedFactory) -> None:
    sensor, _ = bin_sensor(timed, 5)
    with sensor:
        m = sensor.measure()
    assert (m.fault, m.fill_pct) == (SensorFault.OUT_OF_RANGE, None)


def test_with_gpiozero_mock_trigger_pin(factory: MockFactory) -> None:
    """The stock MockTriggerPin echoes from a thread, with real timing.

    A late thread wake-up can only lengthen an echo, so distances are bounded below
    exactly and above only loosely; the calibration limits are wide so that a loaded
    test machine cannot turn the reading into a fault.
    """
    echo = factory.pin(ECHO)
    trigger = factory.pin(TRIG, pin_class=MockTriggerPin, echo_pin=echo, echo_time=echo_time(2000))
    with FillSensor(
        trigger_pin=TRIG,
        echo_pin=ECHO,
        empty_depth_mm=5000,
        full_margin_mm=100,
        samples=7,
        max_distance_m=50.0,
        max_spread_mm=50_000,
        depth_tolerance_mm=50_000,
        sample_gap_s=0.0,
        pin_factory=factory,
    ) as sensor:
        far = sensor.measure()
        trigger.echo_time = echo_time(200)
        near = sensor.measure()
    assert far.fault is None
    assert near.fault is None
    assert far.distance_mm is not None
    assert near.distance_mm is not None
    assert far.distance_mm >= 1999
    assert 199 <= near.distance_mm < far.distance_mm
    assert far.fill_pct is not None
    assert near.fill_pct is not None
    assert near.fill_pct > far.fill_pct


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
        wait_until(
            lambda: (
                all(on_count(p) == pattern.blinks for p in lit)
                and on_count(buzzer) == pattern.beeps
                and not any(p.state for p in (*lit, buzzer))
            ),
            3,
            f"the {name} pattern",
            0.01,
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
        wait_until(lambda: buttons.selected == "plastic-pet", 3, "plastic-pet selected", 0.01)
        factory.pin(21).drive_high()
        factory.pin(20).drive_low()
        wait_until(lambda: buttons.selected == "organic", 3, "organic selected", 0.01)
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
