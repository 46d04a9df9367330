"""InfluxDB backend of the telemetry store, over the v1 HTTP API.

Speaks ``POST /write`` (line protocol, built with influxdb-client's ``Point``) and
``/query`` (InfluxQL): InfluxDB 1.x natively, 2.x / 3.x / Cloud through their
v1-compatible endpoints with ``token`` sent as ``Authorization: Token ...``
(influxdb-client's own writer needs ``/api/v2``, which 1.x lacks).

Writing: :meth:`InfluxTelemetry.write` appends lines to a durable local buffer
(:class:`DurableBuffer`) and returns; a sender thread posts them in batches of up to
``batch_size`` lines, at least every ``flush_interval_s``, retrying with exponential
backoff while InfluxDB is unreachable and backfilling afterwards. A batch InfluxDB
refuses as bad data (HTTP 400) is moved aside, never retried forever.

Start-up (retried until InfluxDB answers): the database (optional), a default
retention policy ``salinmas_raw`` (``retention``), ``salinmas_rollup`` (infinite) and
two continuous queries: hourly fill per bin (``fill_hourly``) and daily weight and money
per category (``weighin_daily``, days in the programme's time zone). Both RESAMPLE over
a window (6 h / 3 d) so readings an edge outbox delivers late still reach the rollups.
"""

# InfluxQL is built here with every value escaped (_q / _ident): not SQL injection.
# ruff: noqa: S608
from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from cloud.telemetry.base import (
    CategoryDay,
    FieldValue,
    FillSample,
    HealthSample,
    TelemetryPoint,
)
from cloud.telemetry.buffer import DurableBuffer

log = logging.getLogger(__name__)

RAW_RP = "salinmas_raw"
ROLLUP_RP = "salinmas_rollup"
HEALTH_FIELDS = (
    "uptime_s", "outbox_depth", "outbox_capacity", "load1", "mem_used_pct", "disk_free_pct",
    "cpu_temp_c",
)  # fmt: skip


_Point: Any = Point  # influxdb-client ships no type hints

# the escaping rules of influxdb-client's Point (and of the line protocol reference)
_ESC_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESC_KEY = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_ESC_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


def _field(key: str, v: FieldValue) -> str | None:
    k = key.translate(_ESC_KEY)
    if v.__class__ is bool:
        return f"{k}={'true' if v else 'false'}"
    if isinstance(v, int):
        return f"{k}={v}i"
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        s = str(v)
        return f"{k}={s[:-2] if s.endswith('.0') else s}"
    return f'{k}="{str(v).translate(_ESC_STRING)}"'


#: escaped "measurement,tag=value,..." per (measurement, tags): a fleet has few series
_PREFIXES: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


def _prefix(measurement: str, tags: Mapping[str, str]) -> str:
    key = (measurement, tuple(tags.items()))
    hit = _PREFIXES.get(key)
    if hit is None:
        parts = [measurement.translate(_ESC_MEASUREMENT)]
        for k in sorted(tags):
            v = tags[k]
            if not k or not v:
                continue
            tv = v.translate(_ESC_KEY)
            if tv.endswith("\\"):
                tv += " "
            parts.append(f"{k.translate(_ESC_KEY)}={tv}")
        hit = ",".join(parts)
        if len(_PREFIXES) >= 100_000:  # bounded whatever the tags
            _PREFIXES.clear()
        _PREFIXES[key] = hit
    return hit


def to_line(p: TelemetryPoint) -> str:
    """One point as line protocol, byte for byte what influxdb-client's ``Point`` writes.

    Written out here because building a ``Point`` costs ~8 us per point, a large share
    of the ingest's per-message budget (a property test compares the two).
    """
    fields = [f for f in (_field(k, p.fields[k]) for k in sorted(p.fields)) if f is not None]
    if not fields:
        return ""
    return f"{_prefix(p.measurement, p.tags)} {','.join(fields)} {p.ts_ns}"


def to_line_reference(p: TelemetryPoint) -> str:
    """The same line through influxdb-client's ``Point`` (the reference for tests)."""
    pt: Any = _Point(p.measurement)
    for k, v in sorted(p.tags.items()):
        pt = pt.tag(k, v)
    for k, fv in p.fields.items():
        pt = pt.field(k, fv)
    line: str = pt.time(p.ts_ns, WritePrecision.NS).to_line_protocol()
    return line


def _q(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class InfluxError(RuntimeError):
    pass


class InfluxTelemetry:
    def __init__(
        self,
        *,
        url: str,
        database: str,
        buffer_path: str | Path,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        batch_size: int = 5000,
        flush_interval_s: float = 0.25,
        retention: str = "90d",
        create_database: bool = True,
        timezone: str = "Asia/Jakarta",
        timeout_s: float = 10.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retention = retention
        self.create_database = create_database
        self.tz = ZoneInfo(timezone)
        self.max_backoff_s = max_backoff_s
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._auth: dict[str, str] = {}
        if username:
            self._auth = {"u": username, "p": password or ""}
        self._http = httpx.Client(timeout=timeout_s, headers=headers)
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
        self._http.close()
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
        body = "\n".join(text for _, text, _ in batch).encode()
        lines = sum(n for _, _, n in batch)
        r = self._http.post(
            f"{self.url}/write",
            params={"db": self.database, "precision": "ns", **self._auth},
            content=body,
        )
        last_id = batch[-1][0]
        if r.status_code == 204:
            self.buffer.remove_through(last_id)
            self.sent += lines
            return True
        if r.status_code == 400:  # bad data (partial writes are also 400): set it aside
            log.error("InfluxDB refused %d lines: %s", lines, r.text[:300])
            self.buffer.reject_through(last_id, r.text)
            return True
        raise InfluxError(f"/write answered {r.status_code}: {r.text[:200]}")

    # ----------------------------------------------------------------- schema

    def query(self, q: str, *, write: bool = False) -> list[dict[str, Any]]:
        """Run InfluxQL; the ``results`` list. Raises :class:`InfluxError` on an error."""
        params = {"db": self.database, "q": q, "epoch": "ns", **self._auth}
        if write:
            r = self._http.post(f"{self.url}/query", data=params)
        else:
            r = self._http.get(f"{self.url}/query", params=params)
        if r.status_code >= 300:
            raise InfluxError(f"/query answered {r.status_code}: {r.text[:200]}")
        results: list[dict[str, Any]] = r.json().get("results", [])
        for res in results:
            if "error" in res:
                raise InfluxError(res["error"])
        return results

    def setup(self) -> None:
        """Create the database, retention policies and continuous queries (idempotent)."""
        db = _ident(self.database)
        if self.create_database:
            self.query(f"CREATE DATABASE {db}", write=True)
        rps = {row[0]: row for row in _values(self.query("SHOW RETENTION POLICIES"))}
        for name, duration, default in ((RAW_RP, self.retention, True), (ROLLUP_RP, "INF", False)):
            verb = "ALTER" if name in rps else "CREATE"
            dflt = " DEFAULT" if default else ""
            repl = " REPLICATION 1" if verb == "CREATE" else ""
            self.query(
                f"{verb} RETENTION POLICY {_ident(name)} ON {db} DURATION {duration}{repl}{dflt}",
                write=True,
            )
        offset = self._day_offset()
        cqs = {
            "cq_fill_hourly": (
                "RESAMPLE EVERY 10m FOR 6h",
                f'SELECT mean("fill_pct") AS "fill_pct", max("fill_pct") AS "fill_pct_max" '
                f'INTO {db}.{_ident(ROLLUP_RP)}."fill_hourly" FROM {_ident(RAW_RP)}."fill" '
                "GROUP BY time(1h), *",
            ),
            "cq_weighin_daily": (
                "RESAMPLE EVERY 1h FOR 3d",
                f'SELECT sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", '
                f'count("seq") AS "weighins" INTO {db}.{_ident(ROLLUP_RP)}."weighin_daily" '
                f'FROM {_ident(RAW_RP)}."weighin" WHERE "status" != \'rejected\' '
                f"GROUP BY time(1d, {offset}), *",
            ),
        }
        existing = {row[0] for row in _values(self.query("SHOW CONTINUOUS QUERIES"))}
        for name, (resample, select) in cqs.items():
            if name not in existing:
                self.query(
                    f"CREATE CONTINUOUS QUERY {_ident(name)} ON {db} {resample} BEGIN {select} END",
                    write=True,
                )

    def _day_offset(self) -> str:
        """GROUP BY offset that makes 1d buckets start at local midnight (no-DST zones)."""
        off = datetime.now(self.tz).utcoffset() or timedelta(0)
        minutes = int((-off.total_seconds() // 60) % (24 * 60))
        return f"{minutes}m"

    # ----------------------------------------------------------------- queries

    def count(self, measurement: str) -> int:
        rows = _rows(self.query(f'SELECT count("seq") FROM {_ident(measurement)}'))
        return int(rows[0]["count"]) if rows else 0

    def fill_history(self, *, bin_id: str, start: datetime, end: datetime) -> list[FillSample]:
        rows = _rows(
            self.query(
                f'SELECT "fill_pct" FROM "fill" WHERE "bin" = {_q(bin_id)} '
                f"AND time >= {_q(_rfc3339(start))} AND time < {_q(_rfc3339(end))} "
                'AND "fill_pct" >= 0'
            )
        )
        return [FillSample(_from_ns(r["time"]), float(r["fill_pct"])) for r in rows]

    def category_days(
        self,
        *,
        start: datetime,
        end: datetime,
        by: str | None = None,
        site: str | None = None,
        device: str | None = None,
    ) -> list[CategoryDay]:
        if by not in (None, "site", "device"):
            raise ValueError("by must be None, 'site' or 'device'")
        where = [f"time >= {_q(_rfc3339(start))}", f"time < {_q(_rfc3339(end))}"]
        where.append("\"status\" != 'rejected'")
        if site is not None:
            where.append(f'"site" = {_q(site)}')
        if device is not None:
            where.append(f'"device" = {_q(device)}')
        group = '"category"' + (f", {_ident(by)}" if by else "")
        results = self.query(
            'SELECT sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", '
            f'count("net_g") AS "weighins" FROM "weighin" WHERE {" AND ".join(where)} '
            f"GROUP BY time(1d), {group} fill(none) tz({_q(str(self.tz))})"
        )
        out = []
        for series in _series(results):
            tags = series.get("tags", {})
            for row in series["values"]:
                rec = dict(zip(series["columns"], row, strict=True))
                out.append(
                    CategoryDay(
                        day=_local_day(rec["time"], self.tz),
                        category=tags.get("category", ""),
                        net_g=int(rec["net_g"] or 0),
                        amount_rp=int(rec["amount_rp"] or 0),
                        weighins=int(rec["weighins"] or 0),
                        site=tags.get("site") if by == "site" else None,
                        device=tags.get("device") if by == "device" else None,
                    )
                )
        out.sort(key=lambda c: (c.day, c.category, c.site or "", c.device or ""))
        return out

    def device_health(
        self, *, device_id: str, start: datetime, end: datetime
    ) -> list[HealthSample]:
        cols = ", ".join(_ident(f) for f in HEALTH_FIELDS)
        rows = _rows(
            self.query(
                f'SELECT {cols} FROM "health" WHERE "device" = {_q(device_id)} '
                f"AND time >= {_q(_rfc3339(start))} AND time < {_q(_rfc3339(end))}"
            )
        )
        return [
            HealthSample(
                _from_ns(r["time"]), {k: r[k] for k in HEALTH_FIELDS if r.get(k) is not None}
            )
            for r in rows
        ]


def _series(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for res in results for s in res.get("series", [])]


def _values(results: list[dict[str, Any]]) -> list[list[Any]]:
    return [row for s in _series(results) for row in s.get("values", [])]


def _rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(zip(s["columns"], row, strict=True)) for s in _series(results) for row in s["values"]
    ]


def _from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(ns) // 1000)


def _local_day(ns: int, tz: ZoneInfo) -> date:
    return _from_ns(ns).astimezone(tz).date()
