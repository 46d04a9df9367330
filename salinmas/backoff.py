"""Exponential back-off with jitter: the one retry delay every Salinmas process uses.

Each failed attempt doubles a ceiling (``first_s``, ``2 * first_s``, ... up to ``max_s``)
and the delay is drawn from the upper half of it, so a fleet that lost its broker at the
same moment does not come back in lock-step, and a delay is never shorter than half the
ceiling. :meth:`Backoff.reset` after a success starts again from ``first_s``.

>>> b = Backoff(0.5, 4.0, rng=random.Random(1))
>>> [round(b.next(), 2) for _ in range(5)]
[0.31, 0.98, 1.38, 3.1, 3.06]
>>> b.reset(); b.attempts
0

Standard library only: it sits on the ground floor beside the settings.
"""

from __future__ import annotations

import random
import threading


class Backoff:
    """Delays for retries: ``first_s`` doubling up to ``max_s``, jittered (see module)."""

    def __init__(self, first_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError(f"need 0 < first_s <= max_s, got {first_s}, {max_s}")
        self.first_s = first_s
        self.max_s = max_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The largest delay the next attempt may wait."""
        return min(self.max_s, self.first_s * 2.0 ** min(self.attempts, 30))

    def next(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        ceiling = self.ceiling()
        self.attempts += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """A success: the next failure waits ``first_s`` again."""
        self.attempts = 0

    def wait(self, stop: threading.Event) -> bool:
        """Sleep :meth:`next` seconds or until ``stop`` is set; True if it was set."""
        return stop.wait(self.next())
