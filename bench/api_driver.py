"""Async driver or bounded thread pool? The balance query both ways, on PostgreSQL.

    .venv/bin/python -m bench.api_driver [--seconds 8] [--concurrency 16]

The API must never block its event loop on the database. Two ways to get there:

* ``threads``: the sync SQLAlchemy engine (psycopg 3), each query run on a worker thread
  through ``anyio.to_thread.run_sync`` with a ``CapacityLimiter`` sized like the pool;
* ``async``: SQLAlchemy's asyncio engine on psycopg 3's async connections
  (``AsyncSession``), the queries awaited on the loop.

Both run the API's real balance statement (:func:`cloud.payouts.funds`, one round trip)
from ``--concurrency`` asyncio tasks against a private PostgreSQL seeded with households,
and print queries/s and this process's CPU per query (PostgreSQL's own CPU is not
counted). Not a test: a figure for ``docs/benchmarks.md`` ("API", driver choice).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

import anyio
import anyio.to_thread

from bench.api_balance import seed
from bench.common import cpu_seconds
from tests.support.services import PostgresServer


async def _threads(url: str, hids: list[int], seconds: float, conc: int) -> int:
    from cloud.db import make_engine, session_factory
    from cloud.postings import funds

    engine = make_engine(url, pool_size=conc, max_overflow=0)
    sessions = session_factory(engine)
    limiter = anyio.CapacityLimiter(conc)

    def one(hid: int) -> int:
        with sessions() as s:
            return funds(s, household_id=hid).balance_rp

    async def task(k: int, until: float) -> int:
        n = 0
        while time.perf_counter() < until:
            await anyio.to_thread.run_sync(one, hids[(k + n) % len(hids)], limiter=limiter)
            n += 1
        return n

    try:
        until = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(task(k, until) for k in range(conc))))
    finally:
        engine.dispose()


async def _async(url: str, hids: list[int], seconds: float, conc: int) -> int:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from cloud.db import normalise_url
    from cloud.postings import FUNDS

    engine = create_async_engine(normalise_url(url), pool_size=conc, max_overflow=0)
    sessions = async_sessionmaker(engine)

    async def task(k: int, until: float) -> int:
        n = 0
        while time.perf_counter() < until:
            async with sessions() as s:
                conn = await s.connection()
                row = await conn.execute(FUNDS, {"household_id": hids[(k + n) % len(hids)]})
                row.one()
            n += 1
        return n

    try:
        until = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(task(k, until) for k in range(conc))))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--households", type=int, default=100)
    args = ap.parse_args(argv)
    runners: dict[str, Any] = {"threads": _threads, "async": _async}
    with tempfile.TemporaryDirectory(prefix="sal-bench-driver-"), PostgresServer() as pg:
        pg.start()
        url = pg.create_database("driver")
        hids = [h for h, _, _ in seed(url, args.households)]
        for name, fn in runners.items():
            asyncio.run(fn(url, hids, 1.0, args.concurrency))  # warm-up
            cpu0, t0 = cpu_seconds(os.getpid()), time.perf_counter()
            n = asyncio.run(fn(url, hids, args.seconds, args.concurrency))
            wall, cpu = time.perf_counter() - t0, cpu_seconds(os.getpid()) - cpu0
            print(
                f"{name:8} {n / wall:8,.0f} queries/s   {cpu / n * 1e6:6.0f} us client CPU/query"
                f"   ({n:,} in {wall:.1f} s, {args.concurrency} concurrent)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
