"""Waiting for a condition in a test: the one helper (no sleeps for timing)."""

from __future__ import annotations

import time
from collections.abc import Callable

#: how long a test waits for a Python process of ours to start and subscribe: importing the
#: cloud (SQLAlchemy, pydantic, paho) takes ~2 s on a quiet 2-core host and 20-40 s on a
#: loaded one (CI runners are shared); a wait this long costs nothing when all is well.
PROCESS_START_S = 90.0


class WaitTimeout(AssertionError, TimeoutError):
    """The condition did not hold in time: a failed test, and a ``TimeoutError``."""


def wait_until(
    predicate: Callable[[], object],
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    *,
    state: Callable[[], str] | None = None,
) -> None:
    """Poll ``predicate`` until it is truthy; :class:`WaitTimeout` naming ``what`` after
    ``timeout_s`` (the predicate is asked once more at the deadline), with ``state()``
    in the message if given (what the test was waiting on, at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            seen = f" ({state()})" if state is not None else ""
            raise WaitTimeout(f"timed out after {timeout_s:g}s waiting for {what}{seen}")
        time.sleep(interval_s)
