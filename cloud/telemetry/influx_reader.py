"""Telemetry reader for InfluxDB: what the API's charts and reports ask (InfluxQL).

Read-only: no buffer, no thread, no schema changes (the ingest's writer owns those).
"""

# InfluxQL is built with every value escaped (q / ident): not SQL injection.
# ruff: noqa: S608
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cloud.telemetry.base import CategoryDay, FillSample, HealthSample, check_group_by
from cloud.telemetry.influx import (
    InfluxConnection,
    from_ns,
    ident,
    local_day,
    q,
    rfc3339,
    rows,
    series,
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
    def __init__(self, conn: InfluxConnection, *, timezone: str = "Asia/Jakarta") -> None:
        self.conn = conn
        self.tz = ZoneInfo(timezone)

    def close(self) -> None:
        self.conn.close()

    def query(self, text: str) -> list[dict[str, Any]]:
        """Run a read-only InfluxQL query; the ``results`` list."""
        return self.conn.query(text)

    def count(self, measurement: str) -> int:
        found = rows(self.query(f'SELECT count("seq") FROM {ident(measurement)}'))
        return int(found[0]["count"]) if found else 0

    def fill_history(self, *, bin_id: str, start: datetime, end: datetime) -> list[FillSample]:
        found = rows(
            self.query(
                f'SELECT "fill_pct" FROM "fill" WHERE "bin" = {q(bin_id)} '
                f"AND time >= {q(rfc3339(start))} AND time < {q(rfc3339(end))} "
                'AND "fill_pct" >= 0'
            )
        )
        return [FillSample(from_ns(r["time"]), float(r["fill_pct"])) for r in found]

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
        where = [f"time >= {q(rfc3339(start))}", f"time < {q(rfc3339(end))}"]
        where.append("\"status\" != 'rejected'")
        if site is not None:
            where.append(f'"site" = {q(site)}')
        if device is not None:
            where.append(f'"device" = {q(device)}')
        group = '"category"' + (f", {ident(by)}" if by else "")
        results = self.query(
            'SELECT sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", '
            f'count("net_g") AS "weighins" FROM "weighin" WHERE {" AND ".join(where)} '
            f"GROUP BY time(1d), {group} fill(none) tz({q(str(self.tz))})"
        )
        out = []
        for s in series(results):
            tags = s.get("tags", {})
            for row in s["values"]:
                rec = dict(zip(s["columns"], row, strict=True))
                out.append(
                    CategoryDay(
                        day=local_day(rec["time"], self.tz),
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
        cols = ", ".join(ident(f) for f in HEALTH_FIELDS)
        found = rows(
            self.query(
                f'SELECT {cols} FROM "health" WHERE "device" = {q(device_id)} '
                f"AND time >= {q(rfc3339(start))} AND time < {q(rfc3339(end))}"
            )
        )
        return [
            HealthSample(
                from_ns(r["time"]), {k: r[k] for k in HEALTH_FIELDS if r.get(k) is not None}
            )
            for r in found
        ]
