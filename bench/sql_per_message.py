"""SQL statements and round trips per message in the ingest's processing of a batch.

    .venv/bin/python bench/sql_per_message.py [--ledger postgres|sqlite] [--batch 500]
    .venv/bin/python -m bench.sql_per_message --ledger sqlite --kinds weighin --batch 300

Calls the ingest's own :class:`cloud.ingest.Processor` directly (no MQTT, telemetry store
left out) on one batch of fill events and one batch of weigh-ins from the bench fleet,
and counts the statements SQLAlchemy sends (``before_cursor_execute``), by kind. On a
shared, busy machine every round trip costs a context switch to the database process,
so statements per message, not Python, set the ingest's rate; this command makes the
number visible and checkable after a change. It prints the processor's CPU per message
too (``time.process_time`` of this process, after the start-up heap is frozen as in the
worker): the weigh-in path's crediting cost without MQTT and telemetry around it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import exit_on_sigterm
from bench.ingest_proc import prepare_ledger
from bench.stream import EventEncoder, fleet_ids


def count_batch(
    url: str, kind: str, n_devices: int, batch: int, rounds: int, warm: int | None = None
) -> str:
    from sqlalchemy import event

    from cloud.db import make_engine, session_factory
    from cloud.ingest import Message, Processor
    from cloud.ingest.lifecycle import settle_heap

    prepare_ledger(url, kind, n_devices)
    engine = make_engine(url)
    stmts: Counter[str] = Counter()

    def _count(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        words = statement.split()
        upper = [w.upper() for w in words]
        verb = upper[0] if upper else "?"
        key = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO"}.get(verb, verb)
        table = ""
        if key in upper and upper.index(key) + 1 < len(words):
            table = words[upper.index(key) + 1].strip('"')
        stmts[f"{verb} {table}{' (executemany)' if many else ''}"] += 1

    proc = Processor(session_factory(engine), None)
    enc = EventEncoder(kind, fleet_ids(kind, n_devices), seq_base=0)
    topics = [t.decode() for t in enc.topics]
    total_msgs = 0
    # warm-up: every device seen once (the ingest's first sight of a device or bin costs
    # more than its steady state, see cloud/ingest/state.py); not counted
    warm = -(-n_devices // batch) if warm is None else warm
    t0 = time.perf_counter()
    cpu0 = 0.0
    for r in range(warm + rounds):
        if r == warm:
            settle_heap()  # as the worker does after its start (cloud.ingest.lifecycle)
            event.listen(engine, "before_cursor_execute", _count)
            total_msgs, t0, cpu0 = 0, time.perf_counter(), time.process_time()
        msgs = []
        for i in range(batch):
            dev = (r * batch + i) % n_devices
            now = time.time()
            msgs.append(Message(topics[dev], enc.encode(dev, now), datetime.now(UTC)))
        out = proc.process(msgs)
        if out.dead_letters:
            raise RuntimeError(f"dead letters in the bench batch: {out.dead_letters}")
        total_msgs += len(msgs)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    from sqlalchemy import text

    event.remove(engine, "before_cursor_execute", _count)
    with engine.connect() as conn:  # the price of one round trip on this machine, now
        n_rt = 2000
        t1 = time.perf_counter()
        for _ in range(n_rt):
            conn.execute(text("SELECT 1")).scalar()
        rt_us = (time.perf_counter() - t1) / n_rt * 1e6
    engine.dispose()
    total = sum(stmts.values())
    lines = [
        f"{kind}: {total_msgs} messages in {rounds} batches of {batch} (after {warm} warm-up "
        f"batches): {total} statements = "
        f"{total / total_msgs:.1f} per message; {elapsed / total_msgs * 1e6:.0f} us/msg wall, "
        f"{cpu / total_msgs * 1e6:.0f} us/msg CPU (processor only, no MQTT, no telemetry)",
        f"  one trivial statement (SELECT 1) through the same engine: {rt_us:.0f} us",
    ]
    lines += [
        f"  {v / total_msgs:6.2f}/msg  {v / rounds:7.1f}/batch  {k}" for k, v in stmts.most_common()
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/sql_per_message.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--ledger", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--batch", type=int, default=750, help="messages per batch (~50 ms at 15k/s)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--warm", type=int, help="batches before counting (default: every device once)")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--kinds", default="fill,weighin", help="which batches (fill, weighin)")
    args = ap.parse_args(argv)
    exit_on_sigterm()
    from tests.support.services import PostgresServer

    workdir = Path(tempfile.mkdtemp(prefix="sal-sql-"))
    pg = PostgresServer().start() if args.ledger == "postgres" else None
    try:
        for kind in args.kinds.split(","):
            if pg is not None:
                url = pg.create_database(f"sql_{kind}")
            else:
                url = f"sqlite:///{workdir / f'{kind}.db'}"
            print(
                count_batch(url, kind, args.devices, args.batch, args.rounds, args.warm),
                flush=True,
            )
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
