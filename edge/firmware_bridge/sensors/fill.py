"""Bin fill level from an HC-SR04 ultrasonic ranger mounted in the lid, looking down.

Wiring (Raspberry Pi, BCM numbering)::

    HC-SR04 VCC  -> 5 V           HC-SR04 GND -> GND
    HC-SR04 TRIG -> trigger_pin   (3.3 V logic drives it fine)
    HC-SR04 ECHO -> 1 kOhm -> echo_pin -> 2 kOhm -> GND   (divide the 5 V echo to 3.3 V)

Calibration, per bin::

    sensor ─┬─────────────────────────────────
            │ full_margin_mm   (distance at which the bin counts as 100 % full)
            │ ...
            │ empty_depth_mm   (distance to the bottom of the empty bin = 0 %)
    bottom ─┴─────────────────────────────────

    fill % = (empty_depth - d) / (empty_depth - full_margin) * 100, clamped to 0..100

A measurement fires ``samples`` pings (``sample_gap_s`` apart, as the HC-SR04 needs) and
takes the median of the echoes. It is a **fault, never 0 % or 100 %**, when:

- more than half the pings got no echo (``NO_ECHO``: unplugged, sensor dead);
- the median is below the sensor's 20 mm blind zone, beyond ``max_distance_m``, or more
  than ``depth_tolerance_mm`` beyond the empty depth (``OUT_OF_RANGE``: lid open,
  sensor knocked askew);
- the echoes disagree by more than ``max_spread_mm`` (``UNSTABLE``: something moving,
  rain on the transducer).

The ping is timed here rather than by ``gpiozero.DistanceSensor`` because that class
averages in a background thread and *skips* missing echoes, so a dead sensor keeps
reporting its last distance; a bin must report the fault instead. The pins are still
gpiozero devices, so ``MockFactory`` with ``MockTriggerPin`` drives the tests.

Example::

    sensor = FillSensor(trigger_pin=23, echo_pin=24, empty_depth_mm=900, full_margin_mm=150)
    m = sensor.measure()
    print(m.fill_pct, m.distance_mm, m.fault)      # 42.7 580 None
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from gpiozero import InputDevice, OutputDevice

from contract.models import SensorFault

SPEED_OF_SOUND_M_S = 343.26
BLIND_ZONE_MM = 20
ECHO_TIMEOUT_S = 0.1


@dataclass(frozen=True)
class FillMeasurement:
    """``fill_pct`` is ``None`` exactly when ``fault`` is set (as on the wire)."""

    fill_pct: float | None
    distance_mm: int | None
    fault: SensorFault | None


class FillSensor:
    """An HC-SR04 over a bin: :meth:`measure` -> :class:`FillMeasurement`."""

    def __init__(
        self,
        *,
        trigger_pin: Any,
        echo_pin: Any,
        empty_depth_mm: int,
        full_margin_mm: int,
        samples: int = 5,
        max_distance_m: float = 4.0,
        max_spread_mm: int = 100,
        depth_tolerance_mm: int = 100,
        sample_gap_s: float = 0.06,
        pin_factory: Any = None,
    ) -> None:
        if empty_depth_mm <= BLIND_ZONE_MM:
            raise ValueError(f"empty_depth_mm must be above {BLIND_ZONE_MM}, got {empty_depth_mm}")
        if not BLIND_ZONE_MM <= full_margin_mm < empty_depth_mm:
            raise ValueError(
                f"full_margin_mm must be in [{BLIND_ZONE_MM}, empty_depth_mm), got {full_margin_mm}"
            )
        if max_distance_m <= 0 or empty_depth_mm > max_distance_m * 1000:
            raise ValueError("max_distance_m must be positive and cover empty_depth_mm")
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if max_spread_mm <= 0 or depth_tolerance_mm < 0 or sample_gap_s < 0:
            raise ValueError("max_spread_mm must be positive, tolerances and gaps >= 0")
        self.empty_depth_mm = empty_depth_mm
        self.full_margin_mm = full_margin_mm
        self.samples = samples
        self.max_distance_m = max_distance_m
        self.max_spread_mm = max_spread_mm
        self.depth_tolerance_mm = depth_tolerance_mm
        self.sample_gap_s = sample_gap_s
        self._edge = threading.Event()
        self._rise: float | None = None
        self._fall: float | None = None
        self._lock = threading.Lock()
        self._trigger = OutputDevice(trigger_pin, initial_value=False, pin_factory=pin_factory)
        try:
            self._echo = InputDevice(echo_pin, pull_up=False, pin_factory=pin_factory)
            try:
                self._echo.pin.edges = "both"
                self._echo.pin.bounce = None
                self._echo.pin.when_changed = self._echo_changed
            except BaseException:
                self._echo.close()
                raise
        except BaseException:
            self._trigger.close()
            raise

    # -- measuring ---------------------------------------------------------------------
    def _echo_changed(self, ticks: float, level: bool) -> None:
        if level:
            self._rise = ticks
        else:
            self._fall = ticks
            self._edge.set()

    def ping(self) -> float | None:
        """One ping: distance in metres, or ``None`` when no (complete) echo came back."""
        with self._lock:
            if self._echo.pin.state:  # echo stuck high from a previous ping
                self._edge.wait(ECHO_TIMEOUT_S)
                if self._echo.pin.state:
                    return None
            self._edge.clear()
            self._rise = self._fall = None
            self._trigger.on()
            time.sleep(0.00001)
            self._trigger.off()
            if not self._edge.wait(ECHO_TIMEOUT_S):
                return None
            rise, fall = self._rise, self._fall
            if rise is None or fall is None:
                return None
            factory = self._echo.pin_factory
            return float(factory.ticks_diff(fall, rise)) * SPEED_OF_SOUND_M_S / 2.0

    def measure(self) -> FillMeasurement:
        """Median of ``samples`` pings, as a fill level or a fault."""
        echoes: list[float] = []
        for i in range(self.samples):
            if i:
                time.sleep(self.sample_gap_s)
            d = self.ping()
            if d is not None:
                echoes.append(d * 1000)
        if len(echoes) * 2 <= self.samples:  # no majority of echoes
            return FillMeasurement(None, None, SensorFault.NO_ECHO)
        median = statistics.median(echoes)
        distance_mm = round(median)
        if (
            median < BLIND_ZONE_MM
            or median > self.max_distance_m * 1000
            or median > self.empty_depth_mm + self.depth_tolerance_mm
        ):
            return FillMeasurement(None, distance_mm, SensorFault.OUT_OF_RANGE)
        if max(echoes) - min(echoes) > self.max_spread_mm:
            return FillMeasurement(None, distance_mm, SensorFault.UNSTABLE)
        return FillMeasurement(self.fill_pct(median), distance_mm, None)

    def fill_pct(self, distance_mm: float) -> float:
        """The calibration: distance from the sensor -> fill %, clamped, 0.1 % steps."""
        span = self.empty_depth_mm - self.full_margin_mm
        pct = (self.empty_depth_mm - distance_mm) / span * 100
        return round(min(100.0, max(0.0, pct)), 1)

    def close(self) -> None:
        self._echo.close()
        self._trigger.close()

    def __enter__(self) -> FillSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
