"""Simulated time: real time sped up by a factor, for demos that show a day in minutes.

``SimClock(speed=720)`` runs a simulated day in two real minutes. Simulated time starts
at ``start`` (default: now) and advances ``speed`` times faster than the monotonic clock,
so a process that is paused or slowed never jumps backwards. Waste banks keep local
hours, so the clock also tells the local hour in the programme's time zone.

Example::

    clock = SimClock(speed=720)
    clock.now()            # an aware UTC datetime, racing ahead
    clock.local_hour()     # 0.0 .. 24.0 in Asia/Jakarta
    clock.real_seconds(3600)   # 5.0: one simulated hour takes five real seconds
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Jakarta"


class SimClock:
    """Accelerated simulated time; ``speed=1`` is real time."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        start: datetime | None = None,
        tz: str = DEFAULT_TZ,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.speed = float(speed)
        self.tz = ZoneInfo(tz)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._start = (start or datetime.now(UTC)).astimezone(UTC)

    @classmethod
    def day_in(cls, minutes: float, **kwargs: object) -> SimClock:
        """A clock on which one simulated day takes ``minutes`` real minutes."""
        return cls(speed=24 * 60 / minutes, **kwargs)  # type: ignore[arg-type]

    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return (self._monotonic() - self._t0) * self.speed

    def now(self) -> datetime:
        """The simulated time (aware, UTC)."""
        return self._start + timedelta(seconds=self.elapsed())

    def local_hour(self, at: datetime | None = None) -> float:
        """Hour of the day in the local time zone, as a float (13.5 = half past one)."""
        local = (at or self.now()).astimezone(self.tz)
        return local.hour + local.minute / 60 + local.second / 3600

    def real_seconds(self, sim_seconds: float) -> float:
        """How many real seconds ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed
