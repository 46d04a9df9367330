"""Many clients at once on the API: a mix of reads and writes, with /health probed throughout.

    .venv/bin/python -m bench.api_load [--clients 200] [--seconds 60] [--workers 1]
        [--db postgresql|sqlite] [--overload]

Seeds a ledger (PostgreSQL by default, or SQLite; households with credits, an
operator), starts ``salinmas api run`` as its own process (MQTT off), logs everyone in,
then runs ``--clients`` keep-alive HTTP/1.1 clients for ``--seconds``, each looping
over a mix of requests:

======  ==========================================================  =====
share   request                                                     who
======  ==========================================================  =====
55 %    ``GET /households/{id}/balance``                            household
15 %    ``GET /households/{id}/statement``                          household
10 %    ``GET /households?limit=20``                                operator
 5 %    ``GET /households/{id}/payouts``                            operator
15 %    ``POST /households/{id}/payouts`` (Rp 100, Idempotency-Key)  household
======  ==========================================================  =====

A separate probe asks ``GET /api/v1/health`` every 50 ms on its own connection. Prints
requests per second per kind, statuses (5xx called out), latency p50/p99 per kind and
the probe's p99/max. ``--overload`` gives the API a deliberately tiny admission (2
threads, 50 ms queue wait): then 503 with ``Retry-After`` is expected and nothing else
may be a 5xx. ``tests/api/test_load.py`` runs the same code for 15 s and asserts on the
result (no 5xx, /health answered); the minute-long run (the default here) is this bench's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.api_balance import seed, server_pids, start_api
from bench.common import OUT_DIR, cpu_seconds, machine, percentile
from tests.support.services import PostgresServer, free_port

PASSWORD = "load-operator-password"
MIX = (
    ("balance", 55),
    ("statement", 15),
    ("households", 10),
    ("payouts", 5),
    ("payout", 15),
)
OVERLOAD_SETTINGS = "[api.admission]\nthreads = 2\nqueue_wait_s = 0.05\nretry_after_s = 1\n"


@dataclass
class LoadResult:
    seconds: float
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: list[str] = field(default_factory=list)
    #: 503s that carried a Retry-After header / that did not
    retry_after_503: int = 0
    bare_503: int = 0
    health_ms: list[float] = field(default_factory=list)
    health_failures: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        total = sum(self.requests.values())
        out: dict[str, Any] = {
            "seconds": round(self.seconds, 1),
            "requests": total,
            "req_per_s": round(total / self.seconds, 1) if self.seconds else 0,
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors_not_503": len(self.server_errors),
            "503_with_retry_after": self.retry_after_503,
            "503_without_retry_after": self.bare_503,
            "health_probes": len(self.health_ms),
            "health_p99_ms": round(percentile(self.health_ms, 99) or 0, 1),
            "health_max_ms": round(max(self.health_ms, default=0), 1),
            "health_failures": len(self.health_failures),
            "server_cpu_us_per_req": round(self.server_cpu_s / total * 1e6) if total else None,
            "by_kind": {},
        }
        for kind, n in sorted(self.requests.items()):
            ms = [x * 1000 for x in self.latencies[kind]]
            out["by_kind"][kind] = {
                "req_per_s": round(n / self.seconds, 1),
                "p50_ms": round(percentile(ms, 50) or 0, 1),
                "p99_ms": round(percentile(ms, 99) or 0, 1),
            }
        return out


class Http:
    """One keep-alive HTTP/1.1 connection; just enough client for JSON and problem bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        data = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", "Host: load"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        hdrs: dict[str, str] = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            if k:
                hdrs[k.strip().lower()] = v.strip()
        payload = await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(
    port: int,
    k: int,
    households: list[tuple[int, str]],
    operator: str,
    until: float,
    res: LoadResult,
) -> None:
    rnd = random.Random(k)
    http = Http(port)
    kinds = [kind for kind, share in MIX for _ in range(share)]
    try:
        while time.monotonic() < until:
            hid, token = households[rnd.randrange(len(households))]
            kind = rnd.choice(kinds)
            if kind == "balance":
                req: tuple[Any, ...] = ("GET", f"/api/v1/households/{hid}/balance", token)
            elif kind == "statement":
                req = ("GET", f"/api/v1/households/{hid}/statement", token)
            elif kind == "households":
                req = ("GET", "/api/v1/households?limit=20", operator)
            elif kind == "payouts":
                req = ("GET", f"/api/v1/households/{hid}/payouts?limit=20", operator)
            else:
                req = (
                    "POST",
                    f"/api/v1/households/{hid}/payouts",
                    token,
                    {"amount_rp": 100},
                    {"Idempotency-Key": str(uuid.uuid4())},
                )
            t0 = time.monotonic()
            try:
                status, hdrs, body = await http.request(*req)
            except (OSError, asyncio.IncompleteReadError) as exc:
                http.close()
                res.server_errors.append(f"{kind}: connection {exc!r}")
                continue
            res.latencies[kind].append(time.monotonic() - t0)
            res.requests[kind] += 1
            res.statuses[f"{kind} {status}"] += 1
            if status == 503:
                if "retry-after" in hdrs:
                    res.retry_after_503 += 1
                else:
                    res.bare_503 += 1
            elif status >= 500:
                res.server_errors.append(f"{kind} {status}: {body[:200]!r}")
    finally:
        http.close()


async def _probe(port: int, until: float, res: LoadResult, bound_s: float) -> None:
    http = Http(port)
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            status, _, _ = await asyncio.wait_for(http.request("GET", "/api/v1/health"), bound_s)
            if status != 200:
                res.health_failures.append(f"status {status}")
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            res.health_failures.append(repr(exc))
            http.close()
        res.health_ms.append((time.monotonic() - t0) * 1000)
        await asyncio.sleep(0.05)
    http.close()


async def _drive(
    port: int,
    households: list[tuple[int, str]],
    operator: str,
    *,
    clients: int,
    seconds: float,
    health_bound_s: float,
) -> LoadResult:
    res = LoadResult(seconds=seconds)
    until = time.monotonic() + seconds
    t0 = time.monotonic()
    await asyncio.gather(
        _probe(port, until, res, health_bound_s),
        *(_client(port, k, households, operator, until, res) for k in range(clients)),
    )
    res.seconds = time.monotonic() - t0
    return res


def prepare(url: str, households: int) -> list[tuple[int, str, str]]:
    """Seed households (with credits) and an operator; returns (id, member_no, pin)."""
    from cloud.auth import create_user
    from cloud.db import make_engine, session_factory

    hhs = seed(url, households)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            create_user(s, username="load-operator", password=PASSWORD, role="admin")
            s.commit()
    finally:
        engine.dispose()
    return hhs


def _login(port: int, path: str, body: dict[str, str]) -> str:
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        token: str = json.loads(r.read())["access_token"]
        return token


def run_load(
    url: str,
    workdir: Path,
    hhs: list[tuple[int, str, str]],
    *,
    clients: int,
    seconds: float,
    workers: int = 1,
    overload: bool = False,
    health_bound_s: float = 5.0,
    settings: str = "",
) -> LoadResult:
    """Start the API on ``url`` (already prepared), drive it, stop it; the result.

    ``settings`` is extra TOML for the ``[api]`` table (e.g. ``"[api.admission]\n..."``).
    """
    port = free_port()
    proc = start_api(url, workdir, port, workers, OVERLOAD_SETTINGS if overload else settings)
    try:
        toks = [
            (hid, _login(port, "/api/v1/auth/household-login", {"member_no": m, "pin": pin}))
            for hid, m, pin in hhs
        ]
        operator = _login(
            port, "/api/v1/auth/login", {"username": "load-operator", "password": PASSWORD}
        )
        cpu0 = sum(cpu_seconds(p) for p in server_pids(proc.pid))
        res = asyncio.run(
            _drive(
                port,
                toks,
                operator,
                clients=clients,
                seconds=seconds,
                health_bound_s=health_bound_s,
            )
        )
        res.server_cpu_s = sum(cpu_seconds(p) for p in server_pids(proc.pid)) - cpu0
        return res
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--households", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--overload", action="store_true", help="tiny admission: expect 503s")
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sal-bench-load-") as tmp:
        pg = PostgresServer().start() if args.db == "postgresql" else None
        try:
            url = pg.create_database("load") if pg else f"sqlite:///{Path(tmp) / 'ledger.db'}"
            hhs = prepare(url, args.households)
            res = run_load(
                url,
                Path(tmp),
                hhs,
                clients=args.clients,
                seconds=args.seconds,
                workers=args.workers,
                overload=args.overload,
            )
        finally:
            if pg is not None:
                pg.stop()
    summary = res.summary()
    db = "PostgreSQL" if args.db == "postgresql" else "SQLite"
    print(
        f"{args.clients} clients, {args.workers} worker(s), {db}, "
        f"{'OVERLOAD (tiny admission)' if args.overload else 'normal admission'}:"
    )
    print(f"  {summary['req_per_s']:,} req/s ({summary['requests']:,} in {summary['seconds']} s)")
    for kind, k in summary["by_kind"].items():
        print(
            f"    {kind:11} {k['req_per_s']:8,.1f}/s  p50 {k['p50_ms']:7.1f} ms  "
            f"p99 {k['p99_ms']:7.1f} ms"
        )
    print(f"  statuses: {summary['statuses']}")
    print(
        f"  5xx other than 503: {summary['server_errors_not_503']}; 503 with Retry-After "
        f"{summary['503_with_retry_after']}, without {summary['503_without_retry_after']}"
    )
    print(
        f"  /health: {summary['health_probes']} probes, p99 {summary['health_p99_ms']} ms, "
        f"max {summary['health_max_ms']} ms, failures {summary['health_failures']}"
    )
    print(f"  server CPU {summary['server_cpu_us_per_req']} us/request")
    for e in res.server_errors[:10]:
        print("   ", e)
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "bench": "api_load",
        "db": args.db,
        "clients": args.clients,
        "workers": args.workers,
        "overload": args.overload,
        **summary,
        "machine": machine(),
    }
    (OUT_DIR / f"api_load-{stamp}.json").write_text(json.dumps(record, indent=2))
    return 0 if not res.server_errors and not res.health_failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
