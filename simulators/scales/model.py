"""The physics of a platform scale: what the load cell reads after a load changes.

A load placed on (or taken off) the platter makes the reading overshoot and ring down:
``reading(t) = target + (before - target) * exp(-t / tau) * cos(2 pi f t) + noise``.
Noise is large while the load moves; at rest the indicator's filter holds one steady
value (the load rounded to the division). The indicator's *stable* flag is set once the
envelope of the ringing has decayed below half a division and the platter has not
been disturbed (see :meth:`LoadModel.shake`) for the motion window.

The model is pure and deterministic for a seed: every method takes the time ``now``
(seconds on any monotonic clock) instead of reading a clock.

Example::

    model = LoadModel(division_g=20, capacity_g=150_000, seed=1)
    model.place(3_120, now=0.0)
    model.display(now=0.1).stable      # False: still ringing
    model.display(now=5.0)             # Display(weight_g=3120, stable=True, ...)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.scales.encoders.base import Display


@dataclass(frozen=True, slots=True)
class Dynamics:
    """How the platter moves: time constant, ringing frequency and noise (in d)."""

    tau_s: float = 0.35
    ring_hz: float = 2.2
    moving_noise_d: float = 1.5
    #: an overload lasts until the load is removed; beyond capacity + this many d
    overload_margin_d: int = 9
    #: below zero by more than this many d the indicator shows underload
    underload_d: int = 20


class LoadModel:
    """Gross load on a scale over time, as an indicator with division ``d`` displays it."""

    def __init__(
        self,
        *,
        division_g: int,
        capacity_g: int,
        seed: int = 0,
        dynamics: Dynamics | None = None,
    ) -> None:
        if division_g <= 0:
            raise ValueError(f"division_g must be positive, got {division_g}")
        if capacity_g < 20 * division_g:
            raise ValueError(f"capacity_g must be at least 20 d, got {capacity_g}")
        self.division_g = division_g
        self.capacity_g = capacity_g
        self.dyn = dynamics or Dynamics()
        self._rng = random.Random(seed)
        self._target = 0.0
        self._before = 0.0
        self._changed_at = -1e9
        self._shaken_until = -1e9
        self.zero_offset_g = 0
        self.tare_g = 0

    # -- what happens on the platter -------------------------------------------------
    def place(self, grams: float, *, now: float) -> None:
        """The load on the platter becomes ``grams`` (negative: platter lifted)."""
        self._before = self._raw(now, noise=False)
        self._target = float(grams)
        self._changed_at = now

    def remove(self, *, now: float) -> None:
        """Everything taken off the platter."""
        self.place(0, now=now)

    def shake(self, seconds: float, *, now: float) -> None:
        """Someone leans on the platter: in motion for ``seconds``."""
        self._shaken_until = max(self._shaken_until, now + seconds)

    @property
    def load_g(self) -> float:
        """The load the platter settles to (gross, before zero and tare)."""
        return self._target

    # -- indicator keys / commands ---------------------------------------------------
    def zero(self, *, now: float) -> bool:
        """Zero the scale (only when stable and within +-2 % of capacity, as OIML R76)."""
        shown = self._gross_shown(now)
        if not self.settled(now) or abs(shown) > self.capacity_g * 0.02:
            return False
        self.zero_offset_g += shown
        return True

    def tare(self, *, now: float) -> bool:
        """Take the current gross weight as tare (only when stable and positive)."""
        gross = self._gross_shown(now)
        if not self.settled(now) or gross <= 0:
            return False
        self.tare_g = gross
        return True

    def clear_tare(self) -> None:
        self.tare_g = 0

    # -- what the indicator shows ----------------------------------------------------
    def settled(self, now: float) -> bool:
        """Whether the indicator's motion detector calls the reading stable."""
        if now < self._shaken_until:
            return False
        step = abs(self._target - self._before)
        half_d = self.division_g / 2
        if step <= half_d:
            return True
        settle_s = self.dyn.tau_s * math.log(step / half_d)
        return now - self._changed_at >= settle_s + 0.3  # plus the motion window

    def display(self, *, now: float) -> Display:
        """The indicator's display at ``now``: rounded to d, net after tare, flags."""
        gross = self._gross_shown(now)
        stable = self.settled(now)
        overload = gross > self.capacity_g + self.dyn.overload_margin_d * self.division_g
        underload = gross < -self.dyn.underload_d * self.division_g
        return Display(
            weight_g=gross - self.tare_g,
            stable=stable and not (overload or underload),
            division_g=self.division_g,
            tare_g=self.tare_g,
            overload=overload,
            underload=underload,
        )

    # -- internals -------------------------------------------------------------------
    def _gross_shown(self, now: float) -> int:
        d = self.division_g
        # at rest the indicator's filter holds one steady value; in motion it follows noise
        raw = self._target if self.settled(now) else self._raw(now)
        return round((raw - self.zero_offset_g) / d) * d

    def _raw(self, now: float, *, noise: bool = True) -> float:
        t = max(0.0, now - self._changed_at)
        envelope = (self._before - self._target) * math.exp(-t / self.dyn.tau_s)
        value = self._target + envelope * math.cos(2 * math.pi * self.dyn.ring_hz * t)
        if not noise:
            return value
        return value + self._rng.gauss(0.0, self.dyn.moving_noise_d) * self.division_g
