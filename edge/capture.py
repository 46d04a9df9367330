"""The weigh-in capture state machine: readings in, at most one weigh-in per load out.

Rules (ARCHITECTURE.md, "Measurements and money"):

- **Stable** means the indicator's stable flag *and* a software window: at least
  ``min_samples`` consecutive stable readings spanning at least ``window_s`` seconds,
  all within one division ``d`` of each other. A format without a stability flag
  (``stability_flag=False``, e.g. ``cas10``, whose every numeric frame reads STABLE)
  leaves the window as the only evidence that a load has settled, so its window is
  :data:`UNFLAGGED_WINDOW_FACTOR` times as long (at least :data:`UNFLAGGED_MIN_WINDOW_S`)
  and needs twice the samples.
- **Minimum weight** ``min_divisions * d`` (20 d by default); below it nothing is captured.
- **Re-arm** only after the scale returns to zero: a reading whose gross weight is within
  ``zero_band_divisions * d`` of zero (net readings count their tare back in). A machine
  starts *disarmed* — a load already on the platform when the agent (re)starts might
  have been captured before the restart, and must not be credited twice — unless
  ``start_armed=True``.
- Overload, underload, negative, motion, tare-display and error readings never produce a
  weigh-in; each of them breaks the current window.
- A gap of more than ``max_gap_s`` between readings (a cable pulled, a stalled poll)
  breaks the window too: stability must be observed, not assumed.
- The event keeps the raw frames of its window (the last :data:`FRAMES_KEPT`).

The division is the reading's own when the indicator reports it, else the configured
``division_g``.

Example::

    capture = WeighinCapture(division_g=10)
    for reading in transport.read(0.5):
        event = capture.feed(reading, now_s=time.monotonic())
        if event is not None:
            publish(event.net_g, event.frames)
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from protocols.base import Mode, Reading, Status

#: Most raw frames kept with one weigh-in (the wire contract allows 32).
FRAMES_KEPT = 16
#: a format without a stability flag must hold its weight this many times the window...
UNFLAGGED_WINDOW_FACTOR = 3.0
#: ...and at least this long (seconds)
UNFLAGGED_MIN_WINDOW_S = 3.0


@dataclass(frozen=True)
class CapturedWeight:
    """A weigh-in: net weight in grams, its tare, the division and the frames behind it."""

    net_g: int
    tare_g: int
    division_g: int
    frames: tuple[bytes, ...]
    stable_ms: int


class Phase(enum.Enum):
    WAIT_ZERO = "wait_zero"  # disarmed: a load was captured (or we just started)
    ARMED = "armed"  # ready to capture the next load


@dataclass(frozen=True)
class _Sample:
    t: float
    grams: int
    raw: bytes


class WeighinCapture:
    """Turns a stream of :class:`Reading` into :class:`CapturedWeight` events."""

    def __init__(
        self,
        *,
        division_g: int,
        min_divisions: int = 20,
        window_s: float = 1.0,
        min_samples: int = 3,
        zero_band_divisions: int = 2,
        max_gap_s: float = 2.0,
        start_armed: bool = False,
        stability_flag: bool = True,
    ) -> None:
        if division_g <= 0:
            raise ValueError(f"division_g must be positive, got {division_g}")
        if min_divisions < 1:
            raise ValueError(f"min_divisions must be >= 1, got {min_divisions}")
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        if zero_band_divisions < 0 or zero_band_divisions >= min_divisions:
            raise ValueError("zero_band_divisions must be >= 0 and below min_divisions")
        if max_gap_s <= 0:
            raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
        if not stability_flag:  # the window is all the evidence there is: make it longer
            window_s = max(window_s * UNFLAGGED_WINDOW_FACTOR, UNFLAGGED_MIN_WINDOW_S)
            min_samples *= 2
        self.division_g = division_g
        self.min_divisions = min_divisions
        self.window_s = window_s
        self.min_samples = min_samples
        self.zero_band_divisions = zero_band_divisions
        self.max_gap_s = max_gap_s
        self._start_armed = start_armed
        self.phase = Phase.ARMED if start_armed else Phase.WAIT_ZERO
        self._window: deque[_Sample] = deque()
        self._window_d: int | None = None
        self._window_tare = 0

    # -- public state ------------------------------------------------------------------
    @property
    def armed(self) -> bool:
        return self.phase is Phase.ARMED

    def reset(self) -> None:
        """Forget the window and disarm: the next capture needs the scale back at zero.

        Use after the station lost track of the platform (a reconnect, a restart).
        """
        self._window.clear()
        self.phase = Phase.WAIT_ZERO

    def rearm(self) -> None:
        """Arm now without waiting for zero (an operator's explicit action)."""
        self._window.clear()
        self.phase = Phase.ARMED

    # -- the machine -------------------------------------------------------------------
    def feed(self, reading: Reading, now_s: float) -> CapturedWeight | None:
        """Feed one reading received at monotonic time ``now_s``; maybe return a weigh-in."""
        d = reading.division_g if reading.division_g and reading.division_g > 0 else self.division_g
        if self._window and now_s - self._window[-1].t > self.max_gap_s:
            self._window.clear()

        if self._at_zero(reading, d):
            self.phase = Phase.ARMED
            self._window.clear()
            return None
        if not self._eligible(reading):
            self._window.clear()
            return None
        assert reading.grams is not None
        tare = (reading.tare_g or 0) if reading.mode is Mode.NET else 0
        if self._window and (self._window_d != d or self._window_tare != tare):
            self._window.clear()  # the indicator changed d or tare mid-window
        self._window_d, self._window_tare = d, tare
        self._window.append(_Sample(now_s, reading.grams, reading.raw))
        while len(self._window) > 1 and _spread(self._window) > d:
            self._window.popleft()
        while len(self._window) > max(self.min_samples, FRAMES_KEPT) * 4:
            self._window.popleft()  # bounded; the span only grows from the newest end

        if self.phase is not Phase.ARMED:
            return None
        if reading.grams < self.min_divisions * d:
            return None
        span = now_s - self._window[0].t
        if len(self._window) < self.min_samples or span < self.window_s:
            return None
        self.phase = Phase.WAIT_ZERO
        frames = tuple(s.raw for s in self._window)[-FRAMES_KEPT:]
        self._window.clear()
        return CapturedWeight(
            net_g=reading.grams,
            tare_g=tare,
            division_g=d,
            frames=frames,
            stable_ms=round(span * 1000),
        )

    def _at_zero(self, reading: Reading, d: int) -> bool:
        if reading.grams is None or reading.status not in (Status.STABLE, Status.MOTION):
            return False
        if reading.mode is Mode.TARE:
            return False
        gross = reading.grams + ((reading.tare_g or 0) if reading.mode is Mode.NET else 0)
        return abs(gross) <= self.zero_band_divisions * d

    @staticmethod
    def _eligible(reading: Reading) -> bool:
        return (
            reading.status is Status.STABLE
            and reading.grams is not None
            and reading.grams > 0
            and reading.mode is not Mode.TARE
        )


def _spread(window: deque[_Sample]) -> int:
    values = [s.grams for s in window]
    return max(values) - min(values)
