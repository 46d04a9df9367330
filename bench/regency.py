"""The whole regency on one box: a busy day's window replayed, time-accelerated.

    .venv/bin/python bench/regency.py --quick   # a scaled regency, ~3 minutes
    .venv/bin/python bench/regency.py           # 550,000 households, the busiest hour at 10x

The production profile on private servers: Mosquitto (dynamic security, one account per
device), PostgreSQL 15 (the ledger, seeded by :mod:`bench.regency_seed` with COPY),
InfluxDB 1.x (telemetry) and ``--workers`` real ingest processes
(:func:`cloud.ingest.run`, shared subscription). The devices replay the window
(:mod:`bench.regency_fleet`: weigh-ins, doorstep weigh-ins, fills and heartbeats every 5
minutes) at ``--speed`` times real time, while an operator desk (a thread here) takes the
window's doorstep requests (request, assign, complete) and cash payouts (request,
approve, pay) through the domain functions at the same pace.

Reported: the real-time factor achieved (window length / wall time until the last event
was stored and credited), ingest CPU per event, each server's CPU as a share of what it
can use (the first to reach its ceiling is what saturates first), publish-to-credited
p50/p99, and PostgreSQL and InfluxDB growth per replayed event extrapolated to a full
regency's month and year (append-only money tables scale with weigh-ins, alerts with
fills; InfluxDB measured on its compressed TSM files, per point).
On a machine shared with other work the figures are noise: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    OUT_DIR,
    TICK,
    LoadSampler,
    cpu_seconds,
    exit_on_sigterm,
    machine,
    machine_busy,
    machine_md,
    percentile,
)
from bench.ingest_proc import IngestWorkers
from bench.regency_fleet import HEALTH_S, Plan, ReplayProcess, device_ids
from bench.regency_seed import seed
from bench.stream import DEVICE_PASSWORD
from cloud.telemetry import TelemetrySettings
from simulators.regency import BIN_REPORT_S, TZ, Regency, RegencyConfig

FULL = RegencyConfig()
QUICK = RegencyConfig(households=30_000, stations=400, bins=2_000, collectors=30)
#: append-only tables that grow with money events (weigh-ins, payouts, pickups); the other
#: PostgreSQL tables (devices, bins, fill samples) are updated in place or pruned
MONEY_TABLES = (
    "weighins",
    "processed_events",
    "journal_entries",
    "postings",
    "payouts",
    "pickups",
    "notification",
)
#: append-only tables that grow with telemetry (alerts: one per bin-full episode)
TELEMETRY_TABLES = ("alerts",)
#: InfluxDB snapshots its in-memory cache to compressed TSM files after this much quiet
#: (the default is 10 minutes): its size is measured on TSM, not on the write-ahead log
INFLUX_COLD = "5s"
#: days of raw telemetry the ingest's retention policy keeps (TelemetrySettings' default)
RAW_DAYS = int(TelemetrySettings().influx_retention.removesuffix("d"))
#: open files this machine allows a process (Mosquitto holds one per connection)
FD_HEADROOM = 2_000


def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of ``pid``; with ``children``, plus its waited-for children's and
    its live children's (PostgreSQL's backends)."""
    total = cpu_seconds(pid)
    if not children:
        return total
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    total += (int(fields[13]) + int(fields[14])) / TICK
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                st = (p / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(st[1]) == pid:
                total += cpu_seconds(int(p.name))
    return total


def dir_bytes(*paths: Path, pattern: str = "*") -> int:
    return sum(
        f.stat().st_size for p in paths if p.exists() for f in p.rglob(pattern) if f.is_file()
    )


def pg_sizes(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        rows = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        n = conn.execute("SELECT count(*) FROM weighins").fetchone()
    out = {str(name): int(size) for name, size in rows}
    out["_database"] = int(total[0]) if total else 0
    out["_weighins"] = int(n[0]) if n else 0
    return out


def influx_server(cls: Any) -> Any:
    """An InfluxDB server (``cls``) that snapshots its cache to TSM after ``INFLUX_COLD``."""
    server = cls()
    cold = f'[data]\n  cache-snapshot-write-cold-duration = "{INFLUX_COLD}"\n'
    server.conf.write_text(server.conf.read_text().replace("[data]\n", cold))
    return server


class Desk(threading.Thread):
    """The operators: the window's doorstep requests and payouts, at the replay's pace."""

    def __init__(self, url: str, r: Regency, plan: Plan, go: float) -> None:
        super().__init__(name="desk", daemon=True)
        self.url, self.r, self.plan, self.go = url, r, plan, go
        self.done: dict[str, int] = {"asked": 0, "pickups": 0, "payouts": 0, "refused": 0}
        self.stop = threading.Event()

    def run(self) -> None:
        from cloud import doorstep, payouts, pickups
        from cloud.db import make_engine, session_factory
        from cloud.errors import LedgerError
        from cloud.postings import funds

        p, r = self.plan, self.r
        # the plan's bags as they are (no minimum: the model decides what is asked)
        any_weight = doorstep.DoorstepSettings(min_pickup_g=0)
        start, end = (datetime.fromtimestamp(x, UTC) for x in (p.start, p.end))
        # the requests asked in the window, and those asked earlier in the day that are
        # picked up in it (asked at the window's start: the desk's backlog)
        due = r.doorstep_due(start, end)
        asked = {(d.requested, d.household) for d in r.doorstep(start, end)}
        todo: list[tuple[float, str, Any]] = [
            (d.requested, "ask", d) for d in r.doorstep(start, end)
        ]
        todo += [(p.start, "ask", d) for d in due if (d.requested, d.household) not in asked]
        todo += [(d.done, "done", d) for d in due]
        todo += [(x.t, "payout", x) for x in r.payouts(start, end)]
        todo.sort(key=lambda e: e[0])
        engine = make_engine(self.url)
        pickup_of: dict[int, int] = {}
        try:
            for t, what, item in todo:
                if self.stop.wait(max(0.0, self.go + (t - p.start) / p.speed - time.time())):
                    return
                with session_factory(engine)() as s:
                    try:
                        if what == "ask":
                            pk = doorstep.request_pickup(
                                s,
                                household_id=item.household + 1,
                                categories=[cat for cat, _ in item.bags],
                                estimated_g=sum(g for _, g in item.bags),
                                settings=any_weight,
                                requested_by="regency-desk",
                            )
                            pickups.assign_pickup(
                                s, pickup_id=pk.id, collector_id=item.collector + 1
                            )
                            pickup_of[item.household] = pk.id
                            self.done["asked"] += 1
                        elif what == "done" and item.household in pickup_of:
                            grams = sum(g for _, g in item.bags)
                            # the bags were credited by the collector's scale, with the
                            # household's card (bench.regency_fleet): weighed, not by the phone
                            pickups.complete_pickup(
                                s,
                                pickup_id=pickup_of.pop(item.household),
                                collected_g=grams,
                                weighed=True,
                            )
                            self.done["pickups"] += 1
                        elif what == "payout":
                            avail = funds(s, household_id=item.household + 1).available_rp
                            amount = int(avail * item.share) // 1000 * 1000
                            if amount <= 0:
                                continue
                            po = payouts.request_payout(
                                s,
                                household_id=item.household + 1,
                                amount_rp=amount,
                                by="regency-desk",
                            )
                            # one desk does it all: the bench measures volume, not duties
                            payouts.approve_payout(
                                s, payout_id=po.id, by="regency-desk", two_person_from_rp=None
                            )
                            payouts.pay_payout(
                                s, payout_id=po.id, by="regency-desk", two_person_from_rp=None
                            )
                            self.done["payouts"] += 1
                        s.commit()
                    except LedgerError:
                        s.rollback()
                        self.done["refused"] += 1
        finally:
            engine.dispose()


def day_counts(r: Regency, conf: RegencyConfig, day: datetime) -> dict[str, float]:
    """A full regency's events in one whole day (model counts; fills and heartbeats from
    the device counts), for the extrapolation."""
    scale = FULL.households / conf.households
    w = len(r.weighins(day, day + timedelta(days=1))) * scale
    w += len(r.doorstep(day, day + timedelta(days=1))) * 1.5 * scale
    devices = FULL.stations + FULL.collectors + FULL.bins
    return {
        "weighin": w,
        "fill": FULL.bins * 86_400 / BIN_REPORT_S,
        "health": devices * 86_400 / HEALTH_S,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/regency.py", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a scaled regency, 20 minutes at 10x")
    ap.add_argument("--speed", type=float, default=10.0, help="times real time")
    ap.add_argument("--start-hour", type=float, default=8.0, help="window start (local time)")
    ap.add_argument("--minutes", type=float, help="window length (simulated minutes)")
    ap.add_argument("--workers", type=int, default=2, help="ingest processes")
    ap.add_argument(
        "--max-connections",
        type=int,
        default=16_000,
        help="device sessions at most (this machine: 20,000 open files)",
    )
    ap.add_argument("--batch-gap-s", type=float, help="the ingest's batch_gap_s (default: its own)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    exit_on_sigterm()
    conf = QUICK if args.quick else FULL
    minutes = args.minutes or (20.0 if args.quick else 60.0)
    r = Regency(conf)
    bins_connected = min(conf.bins, args.max_connections - conf.stations - conf.collectors)
    day = datetime.combine(datetime.now(TZ).date() - timedelta(days=1), datetime.min.time(), TZ)
    start = day + timedelta(hours=args.start_hour)
    plan = Plan(
        conf,
        start.timestamp(),
        (start + timedelta(minutes=minutes)).timestamp(),
        args.speed,
        bins_connected,
    )
    ids, _ = device_ids(r, bins_connected)

    from tests.support.services import InfluxServer, MosquittoServer, PostgresServer

    started = datetime.now(UTC)
    t_all = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="sal-bench-regency-"))
    out: dict[str, Any] = {
        "config": conf.__dict__,
        "window_min": minutes,
        "speed": args.speed,
        "workers": args.workers,
        "batch_gap_s": args.batch_gap_s,
        "bins_connected": bins_connected,
    }
    pg = PostgresServer().start()
    try:
        with (
            MosquittoServer(devices=dict.fromkeys(ids, DEVICE_PASSWORD)).start() as mqtt,
            influx_server(InfluxServer).start() as influx,
        ):
            url = pg.create_database("regency")
            print(f"seeding {conf.households:,} households ...", flush=True)
            rep = seed(url, r, now=datetime.now(UTC))
            out["seed"] = {
                "rows": rep.rows,
                "seconds": rep.seconds,
                "total_s": rep.total_s,
                "database_bytes": rep.database_bytes,
            }
            print(f"seeded {rep.total_rows:,} rows in {rep.total_s:.0f}s", flush=True)
            workers = IngestWorkers(
                "regency",
                args.workers,
                port=mqtt.port,
                password=mqtt.service("ingest")[1],
                ledger_url=url,
                influx_url=influx.url,
                database="regency",
                workdir=workdir,
                **({} if args.batch_gap_s is None else {"batch_gap_s": args.batch_gap_s}),
            )
            workers.start()
            fleet = ReplayProcess("127.0.0.1", mqtt.port, plan)
            print(f"{fleet.connections:,} device sessions; window {fleet.counts}", flush=True)
            out.update(run_replay(args, plan, r, url, pg, mqtt, influx, workers, fleet, conf, day))
            workers.stop()
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    facts = machine()
    md = machine_md(facts) + "\n" + render(out) + "\n" + out["load"] + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"regency-{stamp}.json").write_text(
        json.dumps({"machine": facts, **out}, indent=1, default=str)
    )
    png = plot(out, args.out / f"regency-{stamp}.png")
    if png is not None:
        md += f"\nPlot: `{png}`\n"
    (args.out / f"regency-{stamp}.md").write_text(md)
    print("\n" + md + f"\nwritten under {args.out}; total {time.monotonic() - t_all:.0f}s")
    return 0


def run_replay(
    args: argparse.Namespace,
    plan: Plan,
    r: Regency,
    url: str,
    pg: Any,
    mqtt: Any,
    influx: Any,
    workers: IngestWorkers,
    fleet: ReplayProcess,
    conf: RegencyConfig,
    day: datetime,
) -> dict[str, Any]:
    from cloud.telemetry import open_reader

    reader = open_reader(
        TelemetrySettings(backend="influx", influx_url=influx.url, influx_database="regency")
    )
    idir = [influx.workdir / "data" / "regency", influx.workdir / "wal" / "regency"]
    pg_pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    pids: dict[str, tuple[list[int], float, bool]] = {
        "ingest": (workers.pids(), float(args.workers), False),
        "mosquitto": ([mqtt.proc.pid], 1.0, False),
        "postgresql": ([pg_pid], 2.0, True),
        "influxdb": ([influx.proc.pid], 2.0, False),
        "replay fleet (bench)": ([fleet.pid], 1.0, False),
    }
    # points are counted on the TSM files; the series file and index grow with devices
    # (fixed for a fleet), not with time, and are reported apart
    sizes0, influx0 = pg_sizes(url), dir_bytes(idir[0], pattern="*.tsm")
    stored0 = {k: reader.count(k) for k in ("fill", "health", "weighin")}
    cpu0 = {k: sum(proc_cpu(p, ch) for p in ps) for k, (ps, _, ch) in pids.items()}
    busy0 = machine_busy()
    go = time.time() + 2.0
    desk = Desk(url, r, plan, go)
    window_s = plan.end - plan.start
    with LoadSampler() as load:
        desk.start()
        res = fleet.replay(go, drain_s=max(300.0, window_s / plan.speed))
        # fills and heartbeats are processed once every one is counted in InfluxDB
        want = {k: res.sent[k] for k in ("fill", "health")}
        seen, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < 120:  # until all stored, or 2 minutes stuck
            got = {k: reader.count(k) - stored0[k] for k in want}
            if all(got[k] >= want[k] for k in want):
                break
            if sum(got.values()) != seen:
                seen, last_change = sum(got.values()), time.monotonic()
            time.sleep(0.5)
        t_done = max(time.time(), res.last_receipt)
        desk.stop.set()
        desk.join(30)
    wall = t_done - go
    cpu = {k: sum(proc_cpu(p, ch) for p in ps) - cpu0[k] for k, (ps, _, ch) in pids.items()}
    busy1 = machine_busy()
    fleet.close()
    deadline = time.monotonic() + 60  # InfluxDB snapshots its cache to TSM: the WAL empties
    while dir_bytes(idir[1]) > 64 * 1024 and time.monotonic() < deadline:
        time.sleep(1)
    sizes1, influx1 = pg_sizes(url), dir_bytes(idir[0], pattern="*.tsm")
    influx_fixed = dir_bytes(idir[0]) - influx1
    stored = {k: reader.count(k) - stored0[k] for k in ("fill", "health", "weighin")}
    reader.close()
    events = sum(res.sent.values())
    growth = {k: v - sizes0.get(k, 0) for k, v in sizes1.items()}
    credited = growth.pop("_weighins")
    money = sum(v for k, v in growth.items() if k.startswith(MONEY_TABLES))
    alerts = sum(v for k, v in growth.items() if k.startswith(TELEMETRY_TABLES))
    per_day = day_counts(r, conf, day)
    pg_day = money / max(1, credited) * per_day["weighin"]
    pg_day += alerts / max(1, stored["fill"]) * per_day["fill"]
    points = sum(stored.values())
    influx_day = (influx1 - influx0) / max(1, points) * sum(per_day.values())
    p50, p99 = percentile(res.latencies, 50), percentile(res.latencies, 99)
    use = {k: cpu[k] / wall / pids[k][1] for k in pids}
    # a window not wholly processed counts for the share that was
    share = min(1.0, (stored["fill"] + stored["health"] + credited) / max(1, events))
    return {
        "load": load.summary(),
        "sent": res.sent,
        "acked": res.acked,
        "stored_influx": stored,
        "receipts": len(res.latencies),
        "credited_rows": credited,
        "statuses": res.statuses,
        "desk": desk.done,
        "window_s": window_s,
        "wall_s": wall,
        "processed_share": share,
        "rtf": window_s * share / wall,
        "publisher_late_p99_s": res.late_p99_s,
        "publisher_late_max_s": res.late_max_s,
        "go": go,
        "timeline": res.timeline,
        "weighins_at": res.weighins_at,
        "p50_ms": None if p50 is None else p50 * 1000,
        "p99_ms": None if p99 is None else p99 * 1000,
        "ingest_cpu_us_per_event": cpu["ingest"] / max(1, events) * 1e6,
        "cpu_s": cpu,
        "ceiling_share": use,
        "machine_busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "saturates_first": max(use, key=lambda k: use[k]),
        "pg_growth": growth,
        "pg_bytes_per_weighin": money / max(1, credited),
        "influx_growth_bytes": influx1 - influx0,
        "influx_series_and_index_bytes": influx_fixed,
        "influx_wal_bytes_left": dir_bytes(idir[1]),
        # one series per device and measurement: fill (bins), health (all), weighin (scales)
        "series": plan.bins_connected
        + len(device_ids(r, plan.bins_connected)[0])
        + conf.stations
        + conf.collectors,
        "influx_bytes_per_point": (influx1 - influx0) / max(1, points),
        "per_day_full": per_day,
        "pg_month_gib": pg_day * 30 / 2**30,
        "pg_year_gib": pg_day * 365 / 2**30,
        "influx_month_gib": influx_day * 30 / 2**30,
        "influx_year_gib": influx_day * 365 / 2**30,
        "influx_retention_days": RAW_DAYS,
        "influx_retained_gib": influx_day * RAW_DAYS / 2**30,
    }


def render(o: dict[str, Any]) -> str:
    c, st = o["config"], o["stored_influx"]
    lines = [
        f"Regency: {c['households']:,} households, {c['stations']:,} stations, {c['bins']:,} "
        f"bins ({o['bins_connected']:,} connected), {c['collectors']:,} collectors; seeded "
        f"{sum(o['seed']['rows'].values()):,} rows in {o['seed']['total_s']:.0f}s "
        f"({o['seed']['database_bytes'] / 2**20:,.0f} MiB).",
        f"Window: {o['window_min']:.0f} simulated minutes from the busiest hour at "
        f"{o['speed']:g}x, {o['workers']} ingest workers"
        + ("" if o["batch_gap_s"] is None else f" (batch_gap_s {o['batch_gap_s']:g})")
        + ".",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| events published (weigh-in / fill / health) | {o['sent']['weighin']:,} / "
        f"{o['sent']['fill']:,} / {o['sent']['health']:,} |",
        f"| receipts / weigh-ins credited (ledger rows) / fills stored / health stored | "
        f"{o['receipts']:,} / {o['credited_rows']:,} / {st['fill']:,} / {st['health']:,} |",
        f"| desk: doorstep pickups asked / done, payouts paid / refused | "
        f"{o['desk']['asked']:,} / {o['desk']['pickups']:,}, "
        f"{o['desk']['payouts']:,} / {o['desk']['refused']:,} |",
        f"| share of the window processed | {o['processed_share']:.1%} |",
        f"| real-time factor achieved | {o['rtf']:.1f}x ({o['window_s']:.0f} s in "
        f"{o['wall_s']:.0f} s) |",
        f"| publisher behind schedule p99 / max | {o['publisher_late_p99_s']:.2f} / "
        f"{o['publisher_late_max_s']:.2f} s |",
        f"| publish-to-credited p50 / p99 | {fmt_ms(o['p50_ms'])} / {fmt_ms(o['p99_ms'])} |",
        f"| ingest CPU per event | {o['ingest_cpu_us_per_event']:,.0f} us |",
        f"| PostgreSQL per weigh-in (append-only tables) / InfluxDB per point (TSM) | "
        f"{o['pg_bytes_per_weighin']:,.0f} B / {o['influx_bytes_per_point']:,.1f} B |",
        f"| PostgreSQL growth, full regency, per month / year | {o['pg_month_gib']:.1f} / "
        f"{o['pg_year_gib']:.0f} GiB |",
        f"| InfluxDB growth, full regency, per month / year | {o['influx_month_gib']:.1f} / "
        f"{o['influx_year_gib']:.0f} GiB |",
        f"| InfluxDB series file and index (grow with devices, not time) | "
        f"{o['influx_series_and_index_bytes'] / 2**20:,.0f} MiB |",
        f"| InfluxDB raw points kept ({o['influx_retention_days']} days' retention) | "
        f"{o['influx_retained_gib']:.1f} GiB |",
        f"| machine CPU busy during the replay (all processes) | {o['machine_busy']:.0%} |",
        "",
        "| part | CPU s | share of its ceiling |",
        "|---|---:|---:|",
    ]
    for k, v in sorted(o["ceiling_share"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {o['cpu_s'][k]:.0f} | {v:.0%} |")
    lines.append(f"\nSaturates first: **{o['saturates_first']}**.")
    if o["machine_busy"] > 0.9:
        lines.append(
            f"\nThe machine was {o['machine_busy']:.0%} busy: the parts got what others left "
            "them, so these shares rank them but do not measure their ceilings."
        )
    per_series = sum(st.values()) / max(1, o["series"])
    lines.append(
        f"\nInfluxDB: {per_series:.1f} points per series in the window; TSM stores a series "
        "in blocks of up to 1,000 points, so a window of a few points per series overstates "
        "the bytes per point of a day (288 per series) many times."
    )
    return "\n".join(lines) + "\n"


def plot(o: dict[str, Any], path: Path) -> Path | None:
    """Weigh-ins over the window in simulated minutes: published and credited (receipt
    back at the device) per minute, and each one's publish-to-credited time with the p99
    of its minute against the 100 ms target."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    go, speed = float(o["go"]), float(o["speed"])

    def minute(wall: float) -> float:  # wall time -> simulated minutes into the window
        return (wall - go) * speed / 60.0

    n = int(o["window_min"]) + 1
    sent, done = [0] * n, [0] * n
    for t in o["weighins_at"]:
        sent[min(n - 1, max(0, int(minute(t))))] += 1
    per_min: list[list[float]] = [[] for _ in range(n)]
    xs, ys = [], []
    for t, lat in o["timeline"]:
        m = minute(t)
        xs.append(m)
        ys.append(lat * 1000)
        done[min(n - 1, max(0, int(m + lat * speed / 60.0)))] += 1
        per_min[min(n - 1, max(0, int(m)))].append(lat * 1000)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    ax1.step(range(n), sent, where="post", label="published", color="tab:blue", lw=3, alpha=0.4)
    ax1.step(range(n), done, where="post", label="credited (receipt back)", color="tab:red")
    ax1.set_xlabel("simulated minute of the window")
    ax1.set_ylabel("weigh-ins per simulated minute")
    ax1.legend(fontsize=8)
    ax2.scatter(xs, ys, s=4, alpha=0.4, color="tab:gray", label="one weigh-in")
    p99 = [(i + 0.5, percentile(v, 99)) for i, v in enumerate(per_min) if v]
    if p99:
        ax2.plot(*zip(*p99, strict=True), "-o", ms=3, color="tab:red", label="p99 of the minute")
    ax2.axhline(100, ls=":", color="black", lw=0.8, label="target p99 100 ms")
    ax2.set_yscale("log")
    ax2.set_xlabel("simulated minute of the window (publish time)")
    ax2.set_ylabel("publish-to-credited (ms)")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    c = o["config"]
    fig.suptitle(
        f"Regency replay: {c['households']:,} households, {o['bins_connected']:,} bins, "
        f"{c['stations']:,} stations, {o['window_min']:.0f} min at {o['speed']:g}x, "
        f"{o['workers']} ingest workers; {o['rtf']:.1f}x achieved",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
