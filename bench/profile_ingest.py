"""Profile one ingest worker under a steady load with py-spy (all threads, sampling).

    .venv/bin/python bench/profile_ingest.py --kind fill --rate 400 --seconds 20

Starts private Mosquitto, InfluxDB and PostgreSQL (or ``--ledger sqlite``), prepares the
ledger, runs one ingest worker (:func:`cloud.ingest.run`) in a child process, publishes
``--rate`` events a second from the 1,000-device fleet, and samples the worker with
``py-spy record --format raw`` (folded stacks). Prints where the worker's time goes:
the busiest functions by inclusive and by own time (idle waits left out), and writes
the folded stacks and a flame graph SVG under ``bench/out/``. Needs ``py-spy``
(``pip install py-spy``) and ptrace rights (root, or ``kernel.yama.ptrace_scope=0``).

``--wall`` samples idle threads too (``py-spy --idle``) and adds where the *processing
thread's wall-clock time* goes, stage by stage (waiting for messages, lingering for a
batch, validation, the ledger's statements, its commit, the telemetry buffer's fsync,
waiting for the receipts' PUBACKs, ...): at a low rate (100 weigh-ins/s) latency is
waits, not CPU, and only a wall-clock profile shows them::

    .venv/bin/python -m bench.profile_ingest --kind weighin --rate 100 --seconds 20 --wall
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import OUT_DIR, cpu_seconds, exit_on_sigterm
from bench.ingest_proc import IngestWorkers, prepare_ledger
from bench.publisher import FleetProcess
from bench.stream import DEVICE_PASSWORD, fleet_ids

#: frames that mean "waiting", not working
IDLE = (
    "wait (threading.py",
    "_wait_for_tstate_lock",
    "select (selectors.py",
    "get (queue.py",
    "_loop (paho",
    "loop_forever",
    "_next_batch",
    "recv_into",
)


#: (category, substrings of a frame): the first category whose substring appears in a
#: sample's stack (checked leaf-first) gets the sample
CATEGORIES = (
    ("JSON validation (pydantic)", ("parse_payload", "validate_json", "pydantic")),
    ("line protocol", ("to_line", "line_protocol")),
    ("durable telemetry buffer (SQLite)", ("buffer.py",)),
    ("InfluxDB HTTP", ("httpx", "_send_one_batch")),
    ("receipts publish + wait", ("_publish_receipts",)),
    ("ledger / bins via SQLAlchemy + driver", ("sqlalchemy", "psycopg", "sqlite3")),
    ("MQTT client (paho)", ("paho",)),
)


def categorise(folded: Path) -> str:
    """Busy samples by kind of work (the leaf-most matching frame decides)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or any(any(i in f for i in IDLE) for f in frames[-3:]):
            continue
        n = int(n_text)
        total += n
        for f in reversed(frames):
            cat = next((c for c, keys in CATEGORIES if any(k in f for k in keys)), None)
            if cat is not None:
                counts[cat] += n
                break
        else:
            counts["other Python (ingest, domain)"] += n
    lines = ["busy time by kind of work:"]
    lines += [f"  {100 * c / max(1, total):5.1f}%  {k}" for k, c in counts.most_common()]
    return "\n".join(lines)


#: (stage, substrings of a frame) of the processing thread's wall-clock breakdown: the
#: first stage (in this order) with a frame in a sample's stack gets the sample
STAGES = (
    ("telemetry buffer write (SQLite fsync)", ("DurableBuffer.add", "buffer.py")),
    ("ledger commit (PostgreSQL/SQLite)", ("Session.commit", "_commit_impl", ".commit (")),
    ("receipts: wait for the broker's PUBACK", ("wait_for_publish",)),
    ("receipts: publish", ("_publish_receipts",)),
    ("acks to the broker", ("_ack (", "ack_many")),
    ("confirmations (ack messages)", ("_send_confirmations", "Confirmations.")),
    ("contract validation", ("parse_payload",)),
    ("crediting statements", ("credit_many",)),
    ("other ledger statements", ("sqlalchemy", "psycopg", "sqlite3")),
    ("heartbeat / takeover check", ("Takeover.", "Peers.")),
    ("write-behind, maintenance", ("write_behind", "maintenance")),
    ("idle: waiting for a message", ("Event.wait", "Condition.wait")),
    ("lingering for a fuller batch", ("_next_batch",)),
)


def wall_breakdown(folded: Path) -> str:
    """Share of the processing thread's wall time per stage (needs ``py-spy --idle``)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if "_process_loop" not in stack:
            continue
        n = int(n_text)
        total += n
        stage = next((st for st, keys in STAGES if any(k in stack for k in keys)), None)
        counts[stage or "other Python in the loop"] += n
    if not total:
        return "no samples of the processing thread (was --wall given?)"
    lines = [f"processing thread, wall clock ({total} samples):"]
    lines += [f"  {100 * c / total:5.1f}%  {k}" for k, c in counts.most_common()]
    return "\n".join(lines)


def summarise(folded: Path, top: int) -> str:
    """Inclusive and own sample shares per function, from py-spy's raw (folded) output."""
    incl: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        if any(any(i in f for i in IDLE) for f in frames[-3:]):
            continue
        n = int(n_text)
        total += n
        for f in set(frames):
            incl[f] += n
        own[frames[-1]] += n
    if not total:
        return "no busy samples"
    out = [f"busy samples: {total}", "", "inclusive (share of busy time):"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top)]
    out += ["", "own time:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    return "\n".join(out)


class PgWaits:
    """Samples what the ledger's active backends wait on (``pg_stat_activity``) every 50 ms."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url.replace("postgresql+psycopg", "postgresql")
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchall()
                self.counts["(samples)"] += 1
                for etype, event in rows:
                    self.counts[f"{etype}:{event}"] += 1

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(2)
        n = self.counts.pop("(samples)", 0) or 1
        parts = [f"{k} {v / n:.2f}" for k, v in self.counts.most_common(8)]
        return "active ledger backends per sample: " + (", ".join(parts) or "none")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/profile_ingest.py", description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=("fill", "weighin"), default="fill")
    ap.add_argument("--rate", type=float, default=400.0, help="events per second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--qos", type=int, default=1)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--ledger", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--workers", type=int, default=1, help="ingest workers ($share)")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument(
        "--wall", action="store_true", help="sample idle threads too: wall-clock stages"
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    exit_on_sigterm()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        ap.error("py-spy is not installed (pip install py-spy)")

    from tests.support.services import InfluxServer, MosquittoServer, PostgresServer

    workdir = Path(tempfile.mkdtemp(prefix="sal-prof-"))
    ids = fleet_ids(args.kind, args.devices)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"profile-{args.kind}-{args.ledger}-{time.strftime('%Y%m%dT%H%M%S')}"
    pg = None
    with (
        MosquittoServer(devices=dict.fromkeys(ids, DEVICE_PASSWORD)).start() as mqtt,
        InfluxServer().start() as influx,
    ):
        try:
            if args.ledger == "postgres":
                pg = PostgresServer().start()
                url = pg.create_database("bench")
            else:
                url = f"sqlite:///{workdir / 'ledger.db'}"
            prepare_ledger(url, args.kind, args.devices)
            workers = IngestWorkers(
                "L3",
                args.workers,
                port=mqtt.port,
                password=mqtt.service("ingest")[1],
                ledger_url=url,
                influx_url=influx.url,
                database="prof",
                workdir=workdir,
                kind=args.kind,
            )
            workers.start()
            with FleetProcess("127.0.0.1", mqtt.port, args.kind, args.devices) as fleet:
                fleet.run(rate=50, count=100, qos=args.qos)  # warm up
                time.sleep(3)
                pid = workers.pids()[0]
                spy = subprocess.Popen(
                    [
                        pyspy,
                        "record",
                        "--pid",
                        str(pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--duration",
                        str(int(args.seconds)),
                        "--output",
                        f"{stem}.folded",
                        "--nonblocking",
                        *(["--idle", "--threads"] if args.wall else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                time.sleep(1)
                waits = PgWaits(url) if pg is not None else None
                cpu0 = sum(cpu_seconds(p) for p in workers.pids())
                res = fleet.run(rate=args.rate, count=int(args.rate * args.seconds), qos=args.qos)
                spy.wait(args.seconds + 60)
                if waits is not None:
                    print(waits.stop())
                stored = workers.counter.count(res.t_first, res.t_last)
                deadline = time.monotonic() + 120
                while stored < res.sent and time.monotonic() < deadline:
                    time.sleep(1)
                    stored = workers.counter.count(res.t_first, res.t_last)
                print(f"stored {stored}/{res.sent} after {time.time() - res.t_last:.1f}s")
                cpu = sum(cpu_seconds(p) for p in workers.pids()) - cpu0
            workers.stop()
            if pg is not None:
                log = (pg.workdir / "server.log").read_text(errors="replace")
                print(
                    f"postgres: {log.count('deadlock detected')} deadlocks, "
                    f"{log.count('could not serialize')} serialization failures, "
                    f"{log.count('duplicate key')} unique violations"
                )
        finally:
            if pg is not None:
                pg.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"published {res.sent} {args.kind} events at {res.achieved_rate:.0f}/s; "
        f"CPU of the {args.workers} worker(s) {cpu:.1f}s = "
        f"{cpu / max(1, res.sent) * 1e6:.0f} us/msg (py-spy samples the first worker)"
    )
    folded = Path(f"{stem}.folded")
    if folded.exists():
        if args.wall:
            print(wall_breakdown(folded))
        print(categorise(folded))
        print(summarise(folded, args.top))
        print(f"folded stacks: {folded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
