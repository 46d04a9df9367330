"""Telemetry writer for InfluxDB: a durable local buffer, a sender thread, the schema.

:meth:`InfluxWriter.write` turns points into line protocol
(:func:`cloud.telemetry.line_protocol.to_line`), appends them to a durable local buffer
(:class:`~cloud.telemetry.buffer.DurableBuffer`) and returns; a sender thread posts
them in batches of up to ``batch_size`` lines, at least every ``flush_interval_s``,
retrying with exponential backoff while InfluxDB is unreachable and backfilling
afterwards. A batch InfluxDB refuses as bad data (HTTP 400) is moved aside, never
retried forever.

Start-up (retried until InfluxDB answers): the database (optional), a default
retention policy ``salinmas_raw`` (``retention``), ``salinmas_rollup`` (infinite), the
rollups' continuous queries and their coverage markers (:mod:`cloud.telemetry.rollups`).
Readings InfluxDB accepts after their rollup bucket ended are noted, with the batch's
removal from the buffer, and their buckets rolled up again once the backlog is sent
(or every ``reroll_interval_s`` under a steady stream).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from cloud.telemetry.base import TelemetryPoint
from cloud.telemetry.buffer import DurableBuffer
from cloud.telemetry.influx import InfluxConnection, InfluxError, ident, series, values
from cloud.telemetry.line_protocol import to_line
from cloud.telemetry.rollups import (
    RAW_RP,
    ROLLUP_RP,
    ROLLUPS,
    late_keys,
    raw_keep,
    read_coverage,
    reroll_statements,
    write_coverage,
)

log = logging.getLogger(__name__)

#: statements per /query request when rolling up again
_STATEMENTS_PER_QUERY = 100


class InfluxWriter:
    def __init__(
        self,
        conn: InfluxConnection,
        *,
        buffer_path: str | Path,
        batch_size: int = 5000,
        flush_interval_s: float = 0.25,
        retention: str = "90d",
        create_database: bool = True,
        timezone: str = "Asia/Jakarta",
        max_backoff_s: float = 30.0,
        reroll_interval_s: float = 30.0,
    ) -> None:
        self.conn = conn
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retention = retention
        self.create_database = create_database
        self.tz = ZoneInfo(timezone)
        self.max_backoff_s = max_backoff_s
        self.reroll_interval_s = reroll_interval_s
        self._raw_keep: timedelta | None = None  # the raw policy's duration (None: INF)
        self._last_reroll = time.monotonic()
        self._reroll_after = 0.0  # monotonic time before which no re-roll is tried
        self.rerolled = 0  # late rollup buckets brought up to date
        self.reroll_failures = 0
        self.buffer = DurableBuffer(buffer_path)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ready = False
        self.sent = 0
        self.failures = 0

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="influx-sender", daemon=True)
            self._thread.start()

    def close(self, flush_timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self.flush(flush_timeout_s)
            self._stop.set()
            self._wake.set()
            self._thread.join(self.max_backoff_s + 15)
            self._thread = None
        self.conn.close()
        self.buffer.close()

    @property
    def ready(self) -> bool:
        """Whether the start-up schema (database, retention, continuous queries) is set."""
        return self._ready

    # ----------------------------------------------------------------- writing

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        self.buffer.add([line for line in map(to_line, points) if line])
        if len(self.buffer) >= self.batch_size:
            self._wake.set()

    def pending(self) -> int:
        return len(self.buffer)

    def flush(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        with self._idle:
            while len(self.buffer) > 0:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.2))
        return True

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if not self._ready:
                    self.setup()
                    self._ready = True
                sent = self._send_one_batch()
                backoff = 0.5
                now = time.monotonic()
                if now >= self._reroll_after and (
                    not sent or now - self._last_reroll > self.reroll_interval_s
                ):
                    self._reroll()
                if sent:
                    continue  # more may be waiting
                with self._idle:
                    self._idle.notify_all()
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
            except (httpx.HTTPError, InfluxError) as exc:
                self.failures += 1
                log.warning("InfluxDB unavailable (%s); %d lines buffered", exc, len(self.buffer))
                self._stop.wait(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff_s)

    def _send_one_batch(self) -> bool:
        batch = self.buffer.peek(self.batch_size)
        if not batch:
            return False
        lines = sum(n for _, _, n in batch)
        r = self.conn.write("\n".join(text for _, text, _ in batch).encode())
        last_id = batch[-1][0]
        if r.status_code == 204:
            late = late_keys(
                (line for _, text, _ in batch for line in text.split("\n")),
                now=datetime.now(UTC),
                tz=self.tz,
            )
            self.buffer.remove_through(last_id, late)
            self.sent += lines
            return True
        if r.status_code == 400:  # bad data (partial writes are also 400): set it aside
            log.error("InfluxDB refused %d lines: %s", lines, r.text[:300])
            self.buffer.reject_through(last_id, r.text)
            return True
        raise InfluxError(f"/write answered {r.status_code}: {r.text[:200]}")

    # ----------------------------------------------------------------- schema

    def setup(self) -> None:
        """Create the database, retention policies and continuous queries (idempotent)."""
        query = self.conn.query
        db = ident(self.conn.database)
        if self.create_database:
            query(f"CREATE DATABASE {db}", write=True)
        rps = {row[0]: row for row in values(query("SHOW RETENTION POLICIES"))}
        for name, duration, default in ((RAW_RP, self.retention, True), (ROLLUP_RP, "INF", False)):
            verb = "ALTER" if name in rps else "CREATE"
            dflt = " DEFAULT" if default else ""
            repl = " REPLICATION 1" if verb == "CREATE" else ""
            query(
                f"{verb} RETENTION POLICY {ident(name)} ON {db} DURATION {duration}{repl}{dflt}",
                write=True,
            )
        self._raw_keep = raw_keep(self.conn)
        existing = {  # SHOW lists every database's queries, one series each
            row[0]
            for s in series(query("SHOW CONTINUOUS QUERIES"))
            if s.get("name") == self.conn.database
            for row in s.get("values") or ()
        }
        for rollup in ROLLUPS:
            if rollup.cq_name not in existing:
                query(rollup.create_cq(self.conn.database, self.tz), write=True)
        covered = read_coverage(self.conn)
        now = datetime.now(UTC)
        for rollup in ROLLUPS:
            if rollup.name not in covered:  # the query's first run covers this on
                write_coverage(self.conn, rollup, rollup.first_covered(now, self.tz))

    # ----------------------------------------------------------------- rollups

    def _keep_since(self) -> datetime | None:
        """Raw points older than this may be gone (the raw policy's duration)."""
        return None if self._raw_keep is None else datetime.now(UTC) - self._raw_keep

    def _reroll(self) -> None:
        """Roll up again the buckets late readings fell in (noted with their batch).

        A failure is logged and counted and tried again ``reroll_interval_s`` later; it
        never holds up sending (the buckets stay noted in the buffer).
        """
        self._last_reroll = time.monotonic()
        keys = self.buffer.late()
        if not keys:
            return
        statements = reroll_statements(
            keys, database=self.conn.database, tz=self.tz, keep_since=self._keep_since()
        )
        try:
            for i in range(0, len(statements), _STATEMENTS_PER_QUERY):
                self.conn.query(";".join(statements[i : i + _STATEMENTS_PER_QUERY]), write=True)
        except (httpx.HTTPError, InfluxError) as exc:
            self.reroll_failures += 1
            self._reroll_after = time.monotonic() + self.reroll_interval_s
            log.warning("re-rolling %d late buckets failed (%s); will try again", len(keys), exc)
            return
        self.buffer.late_done(keys)
        self.rerolled += len(keys)
