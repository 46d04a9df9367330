"""InfluxDB's size for a whole day of the regency's telemetry, measured, not extrapolated
from a short window.

    .venv/bin/python -m bench.influx_day              # 2,000 bins, 2,430 devices, one day (~3 min)
    .venv/bin/python -m bench.influx_day --bins 500   # smaller

The replay (:mod:`bench.regency`) measures InfluxDB on a window of minutes: a few points
per series, where TSM's per-block overhead dominates, so its bytes per point overstate a
day's many times. This writes one whole day (288 fill readings per bin and 288 heartbeats
per device, every 5 minutes, and the day's weigh-ins of those stations) of a scaled
regency (:class:`simulators.regency.Regency`, the ``--quick`` replay's shape) through the
ingest's own path: the contract's wire payloads (:class:`WireEncoder`), parsed
(:func:`contract.parse_payload`), turned into points as the ingest does
(:mod:`cloud.telemetry.base`) and written by the production writer
(:class:`cloud.telemetry.influx_writer.InfluxWriter`: database, 90-day retention, the
rollups' continuous queries, which do not run on a day this old). Each measurement goes
to a database of its own, so each one's bytes are its own. InfluxDB then snapshots its
cache and fully compacts the day's shard (the server is told to do both after 5 s of
quiet: a day's shard in production is compacted once the day is over), and the TSM files
are weighed.

Reported: bytes per point of each measurement (TSM, after full compaction; series file
and index apart), and what the full regency's day, month, year and 90 days of raw data
come to (:func:`bench.regency.day_counts`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, exit_on_sigterm, machine, machine_md, save_report
from bench.regency import FULL, QUICK, RAW_DAYS, day_counts, dir_bytes, influx_server
from bench.regency_fleet import HEALTH_S, reports
from cloud.telemetry import TelemetrySettings, open_writer
from cloud.telemetry.base import TelemetryPoint, fill_point, health_point, weighin_point
from contract.models import Fill, Health, Weighin, parse_payload
from contract.topics import Kind
from simulators.regency import BASE_PRICES, BIN_REPORT_S, EMPTY_DEPTH_MM, TZ, Regency
from simulators.regency_devices import WireEncoder


def day_points(
    r: Regency, bins: int, day: datetime, kinds: Collection[str] = ("fill", "health", "weighin")
) -> dict[str, list[TelemetryPoint]]:
    """One day's points of ``bins`` bins, every station and collector scale, and as many
    bins' heartbeats, built from wire payloads as the ingest builds them (``kinds`` only)."""
    c = r.config
    scales = [r.station_id(j) for j in range(c.stations)] + [
        r.collector_device(k) for k in range(c.collectors)
    ]
    bin_ids = [r.bin_id(k) for k in range(bins)]
    ids = scales + bin_ids
    start = day.timestamp()
    end = start + 86_400
    enc = WireEncoder(ids, boot_at=start - 3600, seq_base=0)
    site_of = {r.station_id(j): r.site_of_station(j).code for j in range(c.stations)}
    site_of |= {r.collector_device(k): r.sites[s].code for k, s in enumerate(r.collector_site)}
    site_of |= {r.bin_id(k): r.site_of_bin(k).code for k in range(bins)}
    out: dict[str, list[TelemetryPoint]] = {k: [] for k in ("fill", "health", "weighin")}
    for k in range(bins if "fill" in kinds else 0):
        i = len(scales) + k
        for t in reports(r.bins[k].phase_s, BIN_REPORT_S, start, end):
            pct = r.fill_level(k, t)
            ev = parse_payload(
                Kind.FILL, enc.fill(i, t, pct, round(EMPTY_DEPTH_MM * (1 - pct / 100)))
            )
            assert isinstance(ev, Fill)
            at = datetime.fromtimestamp(t, UTC)
            out["fill"].append(
                fill_point(ev, at=at, site=site_of[ev.device_id], category=r.bins[k].category)
            )
    # the phases the replay gives the same devices (bench.regency_fleet.schedule)
    phases = r.health_phases(len(ids)) if "health" in kinds else []
    for i, (dev, phase) in enumerate(zip(ids, phases, strict=False)):
        for t in reports(phase * HEALTH_S, HEALTH_S, start, end):
            ev = parse_payload(Kind.HEALTH, enc.health(i, t))
            assert isinstance(ev, Health)
            at = datetime.fromtimestamp(t, UTC)
            out["health"].append(health_point(ev, at=at, site=site_of[dev]))
    for w in r.weighins(day, day + timedelta(days=1)) if "weighin" in kinds else ():
        ev = parse_payload(
            Kind.WEIGHIN, enc.weighin(w.station, w.t, r.card_id(w.household), w.category, w.net_g)
        )
        assert isinstance(ev, Weighin)
        price = BASE_PRICES[w.category]
        out["weighin"].append(
            weighin_point(
                ev,
                at=datetime.fromtimestamp(w.t, UTC),
                site=site_of[ev.device_id],
                status="credited",
                amount_rp=w.net_g * price // 1000,
                price_rp_per_kg=price,
                household_id=w.household + 1,
            )
        )
    return out


def weigh(influx: Any, database: str, points: list[TelemetryPoint], work: Path) -> dict[str, Any]:
    """Write ``points`` to ``database`` through the production writer, let InfluxDB
    compact them, and weigh its files."""
    settings = TelemetrySettings(
        backend="influx",
        influx_url=influx.url,
        influx_database=database,
        buffer_path=work / f"{database}-buffer.db",
    )
    writer: Any = open_writer(settings)
    writer.start()
    t0 = time.monotonic()
    for first in range(0, len(points), 5_000):
        writer.write(points[first : first + 5_000])
        while writer.pending() > 50_000:  # the buffer is durable, not a place to pile up
            time.sleep(0.05)
    if not writer.flush(600):
        raise RuntimeError(f"{database}: {writer.pending()} lines not sent")
    sent_s = time.monotonic() - t0
    writer.close()
    data, wal = influx.workdir / "data" / database, influx.workdir / "wal" / database
    deadline, last, stable = time.monotonic() + 300, -1, 0
    while time.monotonic() < deadline:  # the WAL snapshotted, the TSM files compacted
        tsm = dir_bytes(data, pattern="*.tsm")
        if dir_bytes(wal) <= 64 * 1024 and tsm == last:
            stable += 1
            if stable >= 10:
                break
        else:
            stable = 0
        last = tsm
        time.sleep(1)
    tsm = dir_bytes(data, pattern="*.tsm")
    files = sorted(p.name for p in data.rglob("*.tsm"))
    return {
        "points": len(points),
        "series": len({(p.measurement, tuple(sorted(p.tags.items()))) for p in points}),
        "write_s": sent_s,
        "tsm_bytes": tsm,
        "other_bytes": dir_bytes(data) - tsm,
        "wal_bytes_left": dir_bytes(wal),
        "tsm_files": files,
        "bytes_per_point": tsm / max(1, len(points)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/influx_day.py", description=__doc__.split("\n")[0])
    ap.add_argument("--bins", type=int, default=QUICK.bins, help="bins (and their heartbeats)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    exit_on_sigterm()
    from tests.support.services import InfluxServer

    r = Regency(QUICK)
    bins = min(args.bins, QUICK.bins)
    day = datetime.combine(datetime.now(TZ).date() - timedelta(days=2), datetime.min.time(), TZ)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    points = day_points(r, bins, day)
    print(
        f"{', '.join(f'{len(v):,} {k}' for k, v in points.items())} points built "
        f"in {time.monotonic() - t0:.0f}s",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="sal-bench-influxday-"))
    server = influx_server(InfluxServer)
    server.conf.write_text(
        server.conf.read_text().replace(
            "[data]\n", '[data]\n  compact-full-write-cold-duration = "5s"\n'
        )
    )
    measured: dict[str, dict[str, Any]] = {}
    try:
        with server.start() as influx:
            for kind, pts in points.items():
                measured[kind] = weigh(influx, f"day_{kind}", pts, work)
                m = measured[kind]
                print(
                    f"{kind}: {m['points']:,} points, {m['series']:,} series, "
                    f"{m['tsm_bytes'] / 2**20:.1f} MiB TSM = {m['bytes_per_point']:.2f} B/point",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_day = day_counts(Regency(FULL), FULL, day)
    full_day = sum(per_day[k] * measured[k]["bytes_per_point"] for k in measured)
    out = {
        "day": day.isoformat(),
        "bins": bins,
        "measured": measured,
        "per_day_full": per_day,
        "full_gib_per_day": full_day / 2**30,
        "full_gib_per_month": full_day * 30 / 2**30,
        "full_gib_per_year": full_day * 365 / 2**30,
        "full_gib_raw_retained": full_day * RAW_DAYS / 2**30,
    }
    lines = [
        f"One day ({day.date()}) of {bins:,} bins and {len(r.sites)} sites' "
        f"{QUICK.stations + QUICK.collectors:,} scales, through the production writer; "
        "TSM after full compaction:",
        "",
        "| measurement | points | series | points per series | TSM bytes | bytes per point |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {k} | {m['points']:,} | {m['series']:,} | {m['points'] / max(1, m['series']):.0f} "
            f"| {m['tsm_bytes']:,} | {m['bytes_per_point']:.2f} |"
            for k, m in measured.items()
        ),
        "",
        f"Full regency ({', '.join(f'{v:,.0f} {k}' for k, v in per_day.items())} a day): "
        f"**{out['full_gib_per_day']:.2f} GiB a day, {out['full_gib_per_month']:.1f} a month, "
        f"{out['full_gib_per_year']:.0f} a year**; {RAW_DAYS} days of raw points kept: "
        f"{out['full_gib_raw_retained']:.1f} GiB. Not included: the rollups (the continuous "
        "queries roll up recent hours only, and this day is two days old).",
    ]
    md = machine_md(machine()) + "\n" + "\n".join(lines) + "\n"
    save_report(args.out, "influx_day", started, out, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
