"""Ingest throughput and latency, level by level, against the broker's own limit.

    .venv/bin/python bench/ingest_levels.py            # full run, <= ~10 minutes
    .venv/bin/python bench/ingest_levels.py --quick    # smoke run, <= ~2 minutes

One run, one machine, one message stream: a fleet of 1,000 device accounts (one MQTT
connection each, :mod:`bench.publisher`) publishes valid contract v1 fill events into a
private Mosquitto with the project's accounts and ACL; every level consumes the same
stream (see :mod:`bench.consumers`):

L0 broker ceiling (fleet -> ``mosquitto_sub``), L1 paho counting, L2 Telegraf-style
line protocol to InfluxDB, L3 the real ingest (validation, ledger, InfluxDB), L3x2 two
ingest workers on the shared subscription.

For each level and QoS: the highest rate held with zero loss (:mod:`bench.steps`), the
consumer's CPU per message and RSS (from ``/proc``), and publish-to-stored p50/p99 at
half that rate. Output: a markdown table with the ratios L3/L1, L3/L2, L3x2/L3 against
the targets, a PNG of throughput and p99 against offered rate, and every step as JSON,
all under ``bench/out/``. Private servers are started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import OUT_DIR, LoadSampler, exit_on_sigterm, machine
from bench.consumers import Consumer, MosquittoSub, PahoCounter, ReadAheadCounter, TelegrafLike
from bench.publisher import FleetProcess
from bench.report import plot, ratios, table
from bench.steps import SLACK_S, Plan, Runner, Search
from bench.stream import DEVICE_PASSWORD, fleet_ids

LEVELS = ("L0", "L1", "L1r", "L2", "L3", "L3x2")
#: each level's own flush interval: the lag it may show when it keeps pace
#: (L3: the telemetry sender's 0.25-s interval plus the ingest's 0.05-s batch linger)
#: levels that count deliveries themselves (no store to poll)
FAST = ("L0", "L1", "L1r")
FLUSH_S = {"L0": 0.0, "L1": 0.0, "L1r": 0.0, "L2": 0.25, "L3": 0.3, "L3x2": 0.3}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/ingest_levels.py",
        description="Ingest levels L0-L3x2 at QoS 0 and 1: max zero-loss rate, CPU/msg, RSS, "
        "publish-to-stored latency; table + PNG under bench/out/.",
    )
    ap.add_argument("--quick", action="store_true", help="short steps, fewer rounds (<= 2 min)")
    ap.add_argument("--levels", default=",".join(LEVELS), help="comma list (default: all)")
    ap.add_argument("--qos", help="comma list of QoS levels (default: 1,0; --quick: 1)")
    ap.add_argument("--devices", type=int, default=1000, help="fleet size (default 1000)")
    ap.add_argument(
        "--ledger",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="ledger database of L3 (default postgres)",
    )
    ap.add_argument("--step-s", type=float, help="seconds per full-length step")
    ap.add_argument("--start-rate", type=float, help="first ramp rate (msg/s)")
    ap.add_argument("--max-rate", type=float, default=400_000.0, help="highest rate tried")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = ap.parse_args(argv)
    args.levels = [lv for lv in args.levels.split(",") if lv]
    bad = set(args.levels) - set(LEVELS)
    if bad:
        ap.error(f"unknown level(s) {sorted(bad)}; choose from {LEVELS}")
    args.qos = [int(q) for q in (args.qos or ("1" if args.quick else "1,0")).split(",") if q]
    return args


def plan_for(args: argparse.Namespace) -> Plan:
    """Quick: 1-s ramp steps x2.5 from 100/s, no bisection, 2-s steps, no 80 % check.
    Full: 1-s ramp steps x2 from 250/s, four bisections (to ~4 %), 5-s steps."""
    if args.quick:
        return Plan(
            ramp_s=1.0,
            step_s=args.step_s or 2.0,
            start_rate=args.start_rate or 100,
            ramp_factor=2.5,
            bisect_rounds=0,
            max_rate=args.max_rate,
            stall_s=3.0,
            check_80=False,
        )
    return Plan(
        ramp_s=1.0,
        step_s=args.step_s or 5.0,
        start_rate=args.start_rate or 250,
        ramp_factor=2.0,
        bisect_rounds=4,
        max_rate=args.max_rate,
        budget_s=120.0,
    )


class Services:
    """The private broker, InfluxDB and (for L3) the ledger database."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from tests.support.services import InfluxServer, MosquittoServer, PostgresServer

        self.args, self.workdir = args, workdir
        ids = fleet_ids("fill", args.devices)
        self.mqtt = MosquittoServer(devices=dict.fromkeys(ids, DEVICE_PASSWORD)).start()
        self.influx = InfluxServer().start()
        self.pg: PostgresServer | None = None
        self.template: str | None = None
        self._n = 0
        if any(lv.startswith("L3") for lv in args.levels):
            self._prepare_ledger_template()

    def _prepare_ledger_template(self) -> None:
        from bench.ingest_proc import prepare_ledger

        t = time.monotonic()
        if self.args.ledger == "postgres":
            from tests.support.services import PostgresServer

            self.pg = PostgresServer().start()
            self.template = self.pg.create_database("bench_template")
        else:
            self.template = f"sqlite:///{self.workdir / 'template.db'}"
        prepare_ledger(self.template, "fill", self.args.devices)
        print(f"ledger template ({self.args.ledger}) ready in {time.monotonic() - t:.1f}s")

    def fresh_ledger(self, name: str) -> str:
        """A copy of the prepared ledger for one configuration."""
        assert self.template is not None
        if self.pg is None:
            path = self.workdir / f"{name}.db"
            shutil.copy(self.workdir / "template.db", path)
            return f"sqlite:///{path}"
        from sqlalchemy import create_engine, text

        eng = create_engine(self.pg.url("postgres"), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE bench_template'))
        eng.dispose()
        return self.pg.url(name)

    def consumer(self, level: str, qos: int) -> Consumer:
        user, pw = self.mqtt.service("ingest")
        port = self.mqtt.port
        db = f"{level.lower()}_q{qos}"
        if level == "L0":
            return MosquittoSub(port, qos, user, pw, self.workdir)
        if level == "L1":
            return PahoCounter(port, qos, user, pw)
        if level == "L1r":
            return ReadAheadCounter(port, qos, user, pw)
        if level == "L2":
            self.influx.query(f'CREATE DATABASE "{db}"', method="POST")
            return TelegrafLike(port, qos, user, pw, self.influx.url, db)
        from bench.ingest_proc import IngestWorkers

        return IngestWorkers(
            level,
            2 if level == "L3x2" else 1,
            port=port,
            password=pw,
            ledger_url=self.fresh_ledger(db),
            influx_url=self.influx.url,
            database=db,
            workdir=self.workdir,
        )

    def stop(self) -> None:
        for s in (self.pg, self.influx, self.mqtt):
            if s is not None:
                s.stop()


def run(args: argparse.Namespace) -> list[Search]:
    plan = plan_for(args)
    workdir = Path(tempfile.mkdtemp(prefix="sal-bench-"))
    results: list[Search] = []
    services = Services(args, workdir)
    try:
        fleet = FleetProcess("127.0.0.1", services.mqtt.port, "fill", args.devices)
        assert services.mqtt.proc is not None
        try:
            for qos in args.qos:
                for level in args.levels:
                    consumer = services.consumer(level, qos)
                    consumer.start()
                    try:
                        runner = Runner(
                            fleet,
                            consumer,
                            level=level,
                            qos=qos,
                            allow_lag_s=FLUSH_S[level] + SLACK_S + (0.05 if level in FAST else 0.2),
                            flush_s=FLUSH_S[level],
                            broker_pid=services.mqtt.proc.pid,
                            plan=plan,
                        )
                        if level.startswith("L3"):
                            wait_stored(runner)
                        runner.log = False
                        runner.step(min(plan.start_rate, 200), 1.0, "warmup")  # caches
                        if level.startswith("L3"):
                            # every bin once, as a worker that has been running has seen
                            # them: the first reading of a bin in a fresh ledger may open a
                            # pickup (the stream's levels are anywhere in 0-100 %)
                            runner.step(500, max(2.0, args.devices / 500), "warmup")
                        runner.log = True
                        results.append(runner.search())
                    finally:
                        consumer.stop()
        finally:
            fleet.close()
    finally:
        services.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def wait_stored(runner: Runner, timeout_s: float = 60) -> None:
    """Wait until the ingest workers store a trickle (they are up and subscribed)."""
    deadline = time.monotonic() + timeout_s
    runner.log = False
    while time.monotonic() < deadline:
        st = runner.step(100, 0.2, "probe")
        if st.delivered == st.sent:
            runner.log = True
            return
    raise TimeoutError(f"{runner.level} stored nothing within {timeout_s:.0f}s")


def write_outputs(
    args: argparse.Namespace, results: list[Search], started: datetime, load: LoadSampler
) -> Path:
    plan = plan_for(args)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    facts = machine()
    ratio_md, ratio_rows = ratios(results)
    title = (
        f"Salinmas ingest levels, {args.devices} devices, {'quick' if args.quick else 'full'} "
        f"run {started:%Y-%m-%d %H:%M} UTC, {facts['cpu']} x{facts['cores']}"
    )
    png = plot(results, out / f"ingest_levels-{stamp}.png", title)
    md = [
        f"# {title}\n",
        "## Machine\n",
        *[f"- {k}: {v}" for k, v in facts.items()],
        f"- {load.summary()}",
        "",
        "## Levels\n",
        f"Plan: ramp x{plan.ramp_factor:g} from {plan.start_rate:,.0f}/s with {plan.ramp_s:g}-s "
        f"steps, {plan.bisect_rounds} bisection(s) and confirmation with "
        f"{plan.step_s:g}-s steps; a step holds with zero loss and the last message stored "
        f"<= flush interval + {SLACK_S} s after the last publish (L0/L1 0.5 s, "
        f"L2 {FLUSH_S['L2'] + SLACK_S:g} s, L3 {FLUSH_S['L3'] + SLACK_S:g} s). "
        "`>=`: the fleet could not publish faster. CPU at the highest held rate; "
        "latency at half of it.\n",
        table(results),
        "## Ratios (max zero-loss rates)\n",
        ratio_md,
    ]
    if png is not None:
        md.append(f"![throughput and latency]({png.name})\n")
    md_path = out / f"ingest_levels-{stamp}.md"
    md_path.write_text("\n".join(md))
    (out / f"ingest_levels-{stamp}.json").write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "args": {k: str(v) for k, v in vars(args).items()},
                "machine": facts,
                "load": load.stats(),
                "results": [asdict(r) for r in results],
                "ratios": ratio_rows,
            },
            indent=1,
        )
    )
    print()
    print(table(results))
    print(ratio_md)
    print(load.summary())
    print(f"written: {md_path}" + (f", {png}" if png else ""))
    return md_path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    started = datetime.now(UTC)
    t0 = time.monotonic()
    with LoadSampler() as load:
        results = run(args)
    write_outputs(args, results, started, load)
    print(f"total {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
