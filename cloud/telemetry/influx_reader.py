"""Telemetry reader for InfluxDB: what the API's charts and reports ask (InfluxQL).

Read-only: no buffer, no thread, no schema changes (the ingest's writer owns those).
Long fill histories and days of weigh-ins come from the rollups where these are covered
and final, from the raw points elsewhere, aggregated alike
(:func:`cloud.telemetry.rollups.split`): so a chart still shows days whose raw points
expired, and reads ~24x (fills) or ~weigh-ins-per-day x fewer points.
"""

# InfluxQL is built with every value escaped (q / ident): not SQL injection.
# ruff: noqa: S608
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cloud.telemetry.base import (
    CategoryDay,
    FillSample,
    HealthSample,
    check_group_by,
    fill_hourly,
)
from cloud.telemetry.influx import (
    InfluxConnection,
    InfluxError,
    from_ns,
    ident,
    local_day,
    q,
    rfc3339,
    rows,
    series,
)
from cloud.telemetry.rollups import (
    FILL_HOURLY,
    NOT_REJECTED,
    ROLLUP_RP,
    WEIGHIN_DAILY,
    WEIGHIN_DAILY_SITE,
    Rollup,
    Split,
    read_coverage,
    split,
)

HEALTH_FIELDS = (
    "uptime_s",
    "outbox_depth",
    "outbox_capacity",
    "load1",
    "mem_used_pct",
    "disk_free_pct",
    "cpu_temp_c",
)


class InfluxReader:
    def __init__(
        self,
        conn: InfluxConnection,
        *,
        timezone: str = "Asia/Jakarta",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.conn = conn
        self.tz = ZoneInfo(timezone)
        self.now = now

    def close(self) -> None:
        self.conn.close()

    def query(self, text: str) -> list[dict[str, Any]]:
        """Run a read-only InfluxQL query; the ``results`` list."""
        return self.conn.query(text)

    def count(self, measurement: str) -> int:
        found = rows(self.query(f'SELECT count("seq") FROM {ident(measurement)}'))
        return int(found[0]["count"]) if found else 0

    def _split(self, rollup: Rollup, start: datetime, end: datetime) -> Split:
        try:
            covered = read_coverage(self.conn).get(rollup.name)
        except InfluxError:  # no rollup policy (yet): the raw points only
            covered = None
        return split(rollup, start, end, covered_from=covered, now=self.now(), tz=self.tz)

    def fill_history(self, *, bin_id: str, start: datetime, end: datetime) -> list[FillSample]:
        if not fill_hourly(start, end):
            found = rows(
                self.query(
                    f'SELECT "fill_pct" FROM "fill" WHERE "bin" = {q(bin_id)} '
                    f'AND {_between(start, end)} AND "fill_pct" >= 0'
                )
            )
            return [FillSample(from_ns(r["time"]), float(r["fill_pct"])) for r in found]
        parts = self._split(FILL_HOURLY, start, end)
        ranges = [('"fill"', a, b) for a, b in parts.raw]
        if parts.rollup is not None:
            ranges.append((f"{ident(ROLLUP_RP)}.{ident(FILL_HOURLY.name)}", *parts.rollup))
        found = rows(
            self.query(
                ";".join(
                    f'SELECT mean("fill_pct") AS "fill_pct" FROM {source} '
                    f'WHERE "bin" = {q(bin_id)} AND {_between(a, b)} GROUP BY time(1h) fill(none)'
                    for source, a, b in ranges
                )
            )
        )
        out = [FillSample(from_ns(r["time"]), float(r["fill_pct"])) for r in found]
        out.sort(key=lambda s: s.time)
        return out

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
        match = []
        if site is not None:
            match.append(f'"site" = {q(site)}')
        if device is not None:
            match.append(f'"device" = {q(device)}')
        group = '"category"' + (f", {ident(by)}" if by else "")
        tail = f"GROUP BY time(1d), {group} fill(none) tz({q(str(self.tz))})"
        # per station only where a station is asked for: the per-site rollup has ~40x
        # fewer series, and InfluxDB's cost goes with the series a query reads
        rollup = WEIGHIN_DAILY if by == "device" or device is not None else WEIGHIN_DAILY_SITE
        parts = self._split(rollup, start, end)
        statements = [
            'SELECT sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", '
            'count("net_g") AS "weighins" FROM "weighin" '
            f"WHERE {' AND '.join([_between(a, b), *match, NOT_REJECTED])} {tail}"
            for a, b in parts.raw
        ]
        if parts.rollup is not None:
            statements.append(
                'SELECT sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", '
                'sum("weighins") AS "weighins" '
                f"FROM {ident(ROLLUP_RP)}.{ident(rollup.name)} "
                f"WHERE {' AND '.join([_between(*parts.rollup), *match])} {tail}"
            )
        acc: dict[tuple[date, str, str | None, str | None], list[int]] = defaultdict(
            lambda: [0, 0, 0]
        )
        for s in series(self.query(";".join(statements))):
            tags = s.get("tags", {})
            for row in s["values"]:
                rec = dict(zip(s["columns"], row, strict=True))
                key = (
                    local_day(rec["time"], self.tz),
                    tags.get("category", ""),
                    tags.get("site") if by == "site" else None,
                    tags.get("device") if by == "device" else None,
                )
                a = acc[key]  # parts are disjoint in time: a day cut in two adds up
                a[0] += int(rec["net_g"] or 0)
                a[1] += int(rec["amount_rp"] or 0)
                a[2] += int(rec["weighins"] or 0)
        out = [
            CategoryDay(day=d, category=c, net_g=g, amount_rp=rp, weighins=n, site=st, device=dv)
            for (d, c, st, dv), (g, rp, n) in acc.items()
        ]
        out.sort(key=lambda c: (c.day, c.category, c.site or "", c.device or ""))
        return out

    def device_health(
        self, *, device_id: str, start: datetime, end: datetime
    ) -> list[HealthSample]:
        cols = ", ".join(ident(f) for f in HEALTH_FIELDS)
        found = rows(
            self.query(
                f'SELECT {cols} FROM "health" WHERE "device" = {q(device_id)} '
                f"AND {_between(start, end)}"
            )
        )
        return [
            HealthSample(
                from_ns(r["time"]), {k: r[k] for k in HEALTH_FIELDS if r.get(k) is not None}
            )
            for r in found
        ]


def _between(start: datetime, end: datetime) -> str:
    return f"time >= {q(rfc3339(start))} AND time < {q(rfc3339(end))}"
