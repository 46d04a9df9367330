"""The charts' InfluxDB queries at regency size: raw points against the rollups.

    .venv/bin/python -m bench.charts                # the regency's weigh-ins, 30 days (~12 min)
    .venv/bin/python -m bench.charts --quick        # the --quick replay's regency, 7 days

Writes ``--days`` whole days up to yesterday, and today up to now, of the regency's weigh-ins
(:class:`simulators.regency.Regency`: ~78,500 a day at full size) and of ``--bins`` bins'
fill readings (288 a day each), through the production writer
(:class:`cloud.telemetry.influx_writer.InfluxWriter`). Then times what the charts ask
for the days up to now (:class:`cloud.telemetry.influx_reader.InfluxReader`): kg and
rupiah per category per day for the whole regency (admin), per site (``by="site"``), for
one site (its operator) and for one station, and one bin's fill history (hourly means).
First from the raw points (the rollups cover nothing yet), then after ``salinmas ingest
rollup``'s backfill (:func:`cloud.telemetry.rollups.backfill`, timed too): from the
rollups, but today (no query has closed it) from the raw points. The answers must be
equal. Reported: median and worst of ``--repeat`` runs of each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, exit_on_sigterm, machine, machine_md, save_report
from bench.influx_day import day_points
from bench.regency import FULL, QUICK, influx_server
from cloud.telemetry import TelemetrySettings, open_writer, timestamp_ns
from cloud.telemetry.influx import InfluxConnection
from cloud.telemetry.influx_reader import InfluxReader
from cloud.telemetry.rollups import backfill
from simulators.regency import TZ, Regency


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return result, times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/charts.py", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the --quick regency, 7 days")
    ap.add_argument("--days", type=int, help="days of history (default 30; --quick 7)")
    ap.add_argument("--bins", type=int, default=200, help="bins with fill readings")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    exit_on_sigterm()
    from tests.support.services import InfluxServer

    config = QUICK if args.quick else FULL
    days = args.days or (7 if args.quick else 30)
    r = Regency(config)
    today = datetime.combine(datetime.now(TZ).date(), datetime.min.time(), TZ)
    first = today - timedelta(days=days)  # up to yesterday: the last 3 days are not final
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="sal-bench-charts-"))
    settings = TelemetrySettings(
        backend="influx", influx_database="charts", buffer_path=work / "buffer.db"
    )
    out: dict[str, Any] = {"days": days, "households": config.households, "bins": args.bins}
    try:
        with influx_server(InfluxServer).start() as influx:
            settings = settings.model_copy(update={"influx_url": influx.url})
            writer: Any = open_writer(settings)
            writer.start()
            counts = {"weighin": 0, "fill": 0}
            t0 = time.monotonic()
            until = timestamp_ns(started, 0)  # today's points up to now: not final yet
            for d in range(days + 1):
                pts = day_points(r, args.bins, first + timedelta(days=d), ("fill", "weighin"))
                for kind in counts:
                    batch = [p for p in pts[kind] if p.ts_ns < until]
                    counts[kind] += len(batch)
                    for i in range(0, len(batch), 5_000):
                        writer.write(batch[i : i + 5_000])
                        while writer.pending() > 50_000:
                            time.sleep(0.05)
                print(f"day {d + 1}/{days + 1} written", flush=True)
            if not writer.flush(900):
                raise RuntimeError(f"{writer.pending()} lines not sent")
            refused = writer.buffer.rejected_count()
            out["points"] = counts
            out["write_s"] = time.monotonic() - t0
            writer.close()
            # a long timeout: a month of the regency's raw points takes InfluxDB more than
            # the API's 10 s (which is the point of the rollups)
            reader = InfluxReader(
                InfluxConnection(url=influx.url, database="charts", timeout_s=900), timezone=TZ.key
            )
            stored = {kind: reader.count(kind) for kind in counts}
            if refused or stored != counts:
                raise RuntimeError(f"written {counts}, stored {stored}, refused {refused}")
            start, end = first, datetime.now(UTC)
            site = r.sites[0].code
            queries: dict[str, Callable[[], Any]] = {
                "days, regency": lambda: reader.category_days(start=start, end=end),
                "days, by site": lambda: reader.category_days(start=start, end=end, by="site"),
                "days, one site": lambda: reader.category_days(start=start, end=end, site=site),
                "days, one station": lambda: reader.category_days(
                    start=start, end=end, device=r.station_id(0)
                ),
                "fill, one bin": lambda: reader.fill_history(
                    bin_id=r.bin_id(0), start=start, end=end
                ),
            }
            raw = {name: _timed(q, args.repeat) for name, q in queries.items()}
            t0 = time.monotonic()
            conn = InfluxConnection(url=influx.url, database="charts")
            covered = backfill(conn, tz=TZ, since=first)
            out["backfill_s"] = time.monotonic() - t0
            conn.close()
            rolled = {name: _timed(q, args.repeat) for name, q in queries.items()}
            reader.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for name in raw:
        same = raw[name][0] == rolled[name][0]
        if not same:
            raise AssertionError(f"{name}: the rollups answer differently from the raw points")
        a, b = raw[name][1], rolled[name][1]
        rows.append(
            (name, len(raw[name][0]), statistics.median(a), max(a), statistics.median(b), max(b))
        )
    out["covered"] = {k: v.isoformat() for k, v in covered.items()}
    keys = ("query", "rows", "raw_p50_ms", "raw_max_ms", "rollup_p50_ms", "rollup_max_ms")
    out["queries"] = [dict(zip(keys, row, strict=True)) for row in rows]
    lines = [
        f"{days} days ({first.date()} to {(today - timedelta(days=1)).date()}) and today "
        f"up to {started.astimezone(TZ):%H:%M} of "
        f"{config.households:,} households' weigh-ins ({counts['weighin']:,} points) and "
        f"{args.bins} bins' fill readings ({counts['fill']:,}), written in "
        f"{out['write_s']:.0f} s; backfill of both rollups {out['backfill_s']:.1f} s. "
        f"Each query {args.repeat} times; the rollups' answers equal the raw points':",
        "",
        "| query | rows | raw p50 ms | raw max ms | rollup p50 ms | rollup max ms | faster |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {n} | {k:,} | {a:.0f} | {am:.0f} | {b:.0f} | {bm:.0f} | {a / max(b, 0.001):.0f}x |"
            for n, k, a, am, b, bm in rows
        ),
    ]
    md = machine_md(machine()) + "\n" + "\n".join(lines) + "\n"
    save_report(args.out, "charts", started, out, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
