"""What signing and verification cost per weigh-in, and what the journal's head lock costs.

    .venv/bin/python -m bench.integrity_cost            # ~2 minutes
    .venv/bin/python -m bench.integrity_cost --quick

1. **CPU per weigh-in** (``time.process_time``, this process only):
   - the station: building a weigh-in and sealing it (``edge.identity.Signer.seal``:
     signed bytes, Ed25519 signature, JSON) against building an unsigned one; and
     queueing it durably (``Outbox.append_chained`` vs ``Outbox.append``, WAL +
     ``synchronous=FULL``: the fsync dominates, and is the same for both);
   - the cloud: what ingest adds per new weigh-in (:mod:`cloud.integrity`): the signature
     verified over the signed bytes, the frames re-parsed, the record hash; and per
     credit, the journal entry's hash (:func:`cloud.ledger_chain.entry_hash`).
2. **The journal's head lock** on PostgreSQL: batches of 200 unsigned weigh-ins credited
   by one and by two worker processes (each its own ``Processor``, disjoint stations),
   with the chain as it is, and with ``ledger_chain.link`` replaced by the same hashing
   *without* the lock (what crediting cost before the chain, plus the hashing). Two
   workers take the lock once per batch each; the table shows how much of the second
   worker's gain the lock eats.

Run on a 2-core machine shared with other work: figures are indicative (ratios, orders
of magnitude). ``docs/benchmarks.md`` records a run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _per_call(fn: Any, n: int) -> float:
    """CPU microseconds per call of ``fn`` (``n`` calls)."""
    fn()  # warm
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1e6


def cpu_costs(n: int) -> dict[str, float]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cloud.integrity import check_frames, signature_valid
    from cloud.ledger_chain import entry_hash
    from contract import parse_payload
    from contract.models import to_json
    from contract.signing import record_hash
    from edge.clock import Clock
    from edge.events import EventFactory
    from edge.identity import DeviceKey, Signer
    from edge.outbox import ChainHead, Outbox

    key = DeviceKey(Ed25519PrivateKey.generate())
    signer = Signer(key, "1" * 64, "2" * 64)
    events = EventFactory("st-bench01", Clock(boot_id=uuid.uuid4(), synced=lambda: True))
    frames = [b"ST,GS,+001.250kg"] * 3
    kw: dict[str, Any] = dict(
        net_g=1250,
        division_g=10,
        protocol="and_indicator",
        category="organic",
        card_id="0A1B2C3D4E",
        frames=frames,
        stable_ms=1200,
    )
    out: dict[str, float] = {}
    unsigned = events.weighin(**kw)
    signed = events.signed_weighin(signer, **kw)
    head = ChainHead(0, "")
    out["edge: build an unsigned weigh-in (us)"] = _per_call(lambda: unsigned(7), n)
    out["edge: build and seal a signed one (us)"] = _per_call(lambda: signed(7, head), n)
    with tempfile.TemporaryDirectory() as d:
        box = Outbox(Path(d) / "a.db", capacity=10 * n)
        m = max(50, n // 20)
        out["edge: queue unsigned, fsync included (us)"] = _per_call(
            lambda: box.append("weighin", unsigned), m
        )
        out["edge: queue signed + chain head, fsync included (us)"] = _per_call(
            lambda: box.append_chained("weighin", signer.chain, signed), m
        )
        box.close()
    payload, _ = signed(7, head)
    w = parse_payload("weighin", payload)
    out["cloud: parse the signed weigh-in (contract, us)"] = _per_call(
        lambda: parse_payload("weighin", payload), n
    )
    out["cloud: verify the signature (us)"] = _per_call(lambda: signature_valid(w), n)
    out["cloud: re-parse the frames (us)"] = _per_call(lambda: check_frames(w, 10), n)
    out["cloud: record hash (us)"] = _per_call(lambda: record_hash(w), n)
    now = datetime.now(UTC)
    row = {
        "chain_pos": 1,
        "prev_hash": "0" * 64,
        "kind": "weighin_credit",
        "created_at": now,
        "effective_at": now,
        "description": "1250 g organic @ Rp 500/kg (st-1:7)",
        "created_by": None,
        "weighin_id": 7,
        "reverses_entry_id": None,
    }
    out["cloud: journal entry hash (us)"] = _per_call(
        lambda: entry_hash(row, [(1, 625), (2, -625)]), n
    )
    _ = to_json
    return out


# --------------------------------------------------------------------------- lock


def _seed(url: str, stations: int) -> None:
    from cloud import households, pricing
    from cloud.db import make_engine, migrate, session_factory
    from cloud.devices import register_device

    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        pricing.ensure_category(s, code="organic", name_id="Organik", name_en="Organic")
        pricing.set_price(
            s, category="organic", rp_per_kg=500, effective_from=datetime(2026, 1, 1, tzinfo=UTC)
        )
        for i in range(stations):
            register_device(s, device_id=f"st-{i:04d}", kind="station", site="bench")
            hh = households.register_household(s, member_no=f"M{i:05d}", name=f"HH {i}")
            households.link_card(s, card_id=f"C{i:05d}", household_id=hh.id, by="bench")
        s.commit()
    engine.dispose()


def _worker(
    url: str, stations: range, batches: int, per: int, locked: bool, q: Any, go: Any
) -> None:
    from cloud import ledger_chain
    from cloud.db import make_engine, session_factory
    from cloud.ingest import Message, Processor
    from contract import Kind, Weighin, device_topic
    from contract.models import to_json

    if not locked:  # the same hashing, no head lock: what crediting costs without the chain

        def link(session: Any, rows: Any, postings: Any) -> None:
            for i, (row, posts) in enumerate(zip(rows, postings, strict=True)):
                row["chain_pos"], row["prev_hash"] = None, "0" * 64
                row["entry_hash"] = ledger_chain.entry_hash({**row, "chain_pos": i}, posts)

        ledger_chain.link = link  # type: ignore[assignment]
    engine = make_engine(url)
    p = Processor(session_factory(engine), None, enforce_integrity=False)
    boot, t0 = uuid.uuid4(), datetime.now(UTC)
    seq = {s: 0 for s in stations}
    msgs = []
    for b in range(batches):
        batch = []
        for k in range(per):
            st = stations[(b * per + k) % len(stations)]
            seq[st] += 1
            dev = f"st-{st:04d}"
            w = Weighin(
                device_id=dev,
                seq=seq[st],
                event_id=f"{dev}:{seq[st]}",
                device_time=t0 - timedelta(seconds=1),
                clock_synced=True,
                boot_id=boot,
                mono_ms=seq[st],
                card_id=f"C{st:05d}",
                category="organic",
                net_g=1250,
                division_g=10,
                protocol="and_indicator",
            )
            batch.append(Message(device_topic(dev, Kind.WEIGHIN), to_json(w), t0))
        msgs.append(batch)
    q.put("ready")
    go.wait()  # every worker starts together
    start = time.monotonic()
    for batch in msgs:
        p.process(batch)
    q.put(time.monotonic() - start)
    engine.dispose()


def lock_costs(batches: int, per: int) -> list[dict[str, Any]]:
    from tests.support.services import PostgresServer

    ctx = mp.get_context("spawn")
    rows = []
    with PostgresServer().start() as pg:
        for locked in (False, True):
            for workers in (1, 2):
                url = pg.create_database(f"chain_{int(locked)}_{workers}")
                stations = 200
                _seed(url, stations)
                q, go = ctx.Queue(), ctx.Event()
                share = stations // workers
                procs = [
                    ctx.Process(
                        target=_worker,
                        args=(url, range(i * share, (i + 1) * share), batches, per, locked, q, go),
                    )
                    for i in range(workers)
                ]
                for pr in procs:
                    pr.start()
                for _ in procs:
                    assert q.get(timeout=300) == "ready"
                go.set()
                spans = [q.get(timeout=600) for _ in procs]
                for pr in procs:
                    pr.join(30)
                total = workers * batches * per
                rows.append(
                    {
                        "chain lock": locked,
                        "workers": workers,
                        "credited/s": total / max(spans),
                    }
                )
                print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/integrity_cost.py", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from bench.common import machine

    n = 300 if args.quick else 2000
    print(f"machine: {machine()}")
    print("\n| CPU per weigh-in | us |\n|---|---:|")
    for name, us in cpu_costs(n).items():
        print(f"| {name} | {us:,.1f} |")
    batches = 5 if args.quick else 15
    rows = lock_costs(batches, 200)
    print("\n| journal head lock | workers | credited/s (PostgreSQL) |\n|---|---:|---:|")
    for r in rows:
        print(f"| {'on' if r['chain lock'] else 'off'} | {r['workers']} | {r['credited/s']:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
