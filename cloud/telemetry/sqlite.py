"""Embedded SQLite telemetry (the demo / single waste bank profile): writer and reader.

The same interfaces and the same overwrite semantics as InfluxDB: a point is identified
by (measurement, tag set, timestamp), so a replay replaces itself. Writes are local and
durable on return (WAL, ``synchronous=FULL``); queries aggregate by local day in the
programme's time zone. The ingest's :class:`SqliteWriter` and the API's
:class:`SqliteReader` open the same file, each its own connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cloud.telemetry.base import (
    CategoryDay,
    FillSample,
    HealthSample,
    TelemetryPoint,
    check_group_by,
    fill_hourly,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_NS = 3_600_000_000_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    device TEXT, site TEXT, bin TEXT, category TEXT,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series, ts_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_points_bin ON points (measurement, bin, ts_ns);
CREATE INDEX IF NOT EXISTS ix_points_device ON points (measurement, device, ts_ns);
CREATE INDEX IF NOT EXISTS ix_points_time ON points (measurement, ts_ns);
"""


def _ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def _time(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


class _SqliteFile:
    """One connection to the telemetry file, opened (with the schema) on first use."""

    def __init__(self, *, path: str | Path, timezone: str = "Asia/Jakarta") -> None:
        self.path = Path(path)
        self.tz = ZoneInfo(timezone)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.start()
        assert self._db is not None
        return self._db

    def start(self) -> None:
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        db.executescript(_SCHEMA)
        self._db = db

    @property
    def closed(self) -> bool:
        return self._db is None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class SqliteWriter(_SqliteFile):
    def write(self, points: Sequence[TelemetryPoint]) -> None:
        rows = []
        for p in points:
            tags = dict(sorted(p.tags.items()))
            rows.append(
                (
                    p.measurement,
                    ",".join(f"{k}={v}" for k, v in tags.items()),
                    p.ts_ns,
                    tags.get("device"),
                    tags.get("site"),
                    tags.get("bin"),
                    tags.get("category"),
                    json.dumps(tags),
                    json.dumps(dict(p.fields)),
                )
            )
        if not rows:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def flush(self, timeout_s: float = 10.0) -> bool:
        return True

    def pending(self) -> int:
        return 0


class SqliteReader(_SqliteFile):
    def _select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn().execute(sql, args))

    def count(self, measurement: str) -> int:
        rows = self._select("SELECT count(*) FROM points WHERE measurement = ?", (measurement,))
        return int(rows[0][0])

    def fill_history(self, *, bin_id: str, start: datetime, end: datetime) -> list[FillSample]:
        rows = self._select(
            "SELECT ts_ns, fields FROM points WHERE measurement = 'fill' AND bin = ? "
            "AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns",
            (bin_id, _ns(start), _ns(end)),
        )
        readings = []
        for ts, fields in rows:
            pct = json.loads(fields).get("fill_pct")
            if pct is not None:
                readings.append((ts, float(pct)))
        if not fill_hourly(start, end):
            return [FillSample(_time(ts), pct) for ts, pct in readings]
        hours: dict[int, list[float]] = defaultdict(list)  # in time order (dicts keep it)
        for ts, pct in readings:
            hours[ts // _HOUR_NS].append(pct)
        return [FillSample(_time(h * _HOUR_NS), sum(v) / len(v)) for h, v in hours.items()]

    def category_days(
        self,
        *,
        start: datetime,
        end: datetime,
        by: str | None = None,
        site: str | None = None,
        device: str | None = None,
    ) -> list[CategoryDay]:
        check_group_by(by)
        sql = (
            "SELECT ts_ns, category, site, device, fields FROM points "
            "WHERE measurement = 'weighin' AND ts_ns >= ? AND ts_ns < ?"
        )
        args: list[Any] = [_ns(start), _ns(end)]
        if site is not None:
            sql += " AND site = ?"
            args.append(site)
        if device is not None:
            sql += " AND device = ?"
            args.append(device)
        acc: dict[tuple[date, str, str | None, str | None], list[int]] = defaultdict(
            lambda: [0, 0, 0]
        )
        for ts, category, row_site, row_device, fields_json in self._select(sql, args):
            fields = json.loads(fields_json)
            if fields.get("status") == "rejected":
                continue
            key = (
                _time(ts).astimezone(self.tz).date(),
                category or "",
                row_site if by == "site" else None,
                row_device if by == "device" else None,
            )
            a = acc[key]
            a[0] += int(fields.get("net_g", 0))
            a[1] += int(fields.get("amount_rp", 0))
            a[2] += 1
        out = [
            CategoryDay(day=d, category=c, net_g=g, amount_rp=rp, weighins=n, site=s, device=dv)
            for (d, c, s, dv), (g, rp, n) in acc.items()
        ]
        out.sort(key=lambda c: (c.day, c.category, c.site or "", c.device or ""))
        return out

    def device_health(
        self, *, device_id: str, start: datetime, end: datetime
    ) -> list[HealthSample]:
        rows = self._select(
            "SELECT ts_ns, fields FROM points WHERE measurement = 'health' AND device = ? "
            "AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns",
            (device_id, _ns(start), _ns(end)),
        )
        out = []
        for ts, fields_json in rows:
            fields = json.loads(fields_json)
            fields.pop("seq", None)
            out.append(HealthSample(_time(ts), fields))
        return out
