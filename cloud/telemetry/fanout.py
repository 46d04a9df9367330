"""Several telemetry writers as one: every point goes to each (say InfluxDB 3 and a local
SQLite copy, or two InfluxDBs during a migration).

:meth:`Fanout.write` returns once every writer holds the points durably (each buffers
on its own, so one sink's outage never holds back another); :meth:`Fanout.flush` waits
for all; :meth:`Fanout.pending` is the largest backlog.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cloud.telemetry.base import TelemetryPoint, TelemetryWriter


class Fanout:
    def __init__(self, writers: Sequence[TelemetryWriter]) -> None:
        if not writers:
            raise ValueError("a fan-out needs at least one writer")
        self.writers = list(writers)

    def start(self) -> None:
        for w in self.writers:
            w.start()

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        for w in self.writers:
            w.write(points)

    def flush(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        return all([w.flush(max(0.0, deadline - time.monotonic())) for w in self.writers])

    def pending(self) -> int:
        return max(w.pending() for w in self.writers)

    def close(self) -> None:
        errors: list[BaseException] = []
        for w in self.writers:
            try:
                w.close()
            except Exception as exc:  # close the others, then report
                errors.append(exc)
        if errors:
            raise errors[0]
