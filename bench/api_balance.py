"""Balance lookups per second and latency on the API (uvicorn, one or more workers).

    .venv/bin/python -m bench.api_balance [--seconds 15] [--connections 32] [--db sqlite]
        [--workers 1] [--profile]

Seeds a ledger (households with credits and a held payout each), starts
``salinmas api run`` as a separate process (MQTT off), logs every household in, then
drives ``GET /api/v1/households/{id}/balance`` with each household's own token over
``--connections`` keep-alive HTTP/1.1 connections from a small asyncio client (so the
load generator costs little CPU). Prints requests/s, p50/p99/max latency and the
server's CPU per request (all its worker processes), and writes a JSON record to
``bench/out/``. Target: >= 2,000 requests/s per worker. ``--profile`` samples the (first)
worker with py-spy during the measured interval and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.common import OUT_DIR, REPO, cpu_seconds, machine, percentile
from tests.support.procs import children, cmdline
from tests.support.services import PostgresServer, free_port

FLOOR = False


def seed(url: str, count: int) -> list[tuple[int, str, str]]:
    """Households with 3 credits each; returns (id, member_no, pin)."""
    from cloud import crediting, households, pricing
    from cloud.auth import set_household_pin
    from cloud.db import make_engine, migrate, session_factory
    from cloud.payouts import request_payout
    from tests.cloud.factories import weighin

    migrate(url)
    engine = make_engine(url)
    out = []
    try:
        with session_factory(engine)() as s:
            pricing.ensure_category(s, code="plastic-pet", name_id="PET", name_en="PET")
            pricing.set_price(
                s,
                category="plastic-pet",
                rp_per_kg=3_000,
                effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            )
            now = datetime.now(UTC)
            seq = 0
            for i in range(count):
                hh = households.register_household(s, member_no=f"B-{i:05d}", name=f"HH {i}")
                households.link_card(s, card_id=f"C{i:05d}", household_id=hh.id)
                set_household_pin(s, household_id=hh.id, pin="2468", by="bench")
                for _ in range(3):
                    seq += 1
                    crediting.credit_weighin(
                        s, event=weighin(seq=seq, card_id=f"C{i:05d}"), received_at=now
                    )
                request_payout(s, household_id=hh.id, amount_rp=1_000, by="bench")
                out.append((hh.id, hh.member_no, "2468"))
            s.commit()
    finally:
        engine.dispose()
    return out


def start_api(
    url: str, workdir: Path, port: int, workers: int = 1, extra: str = ""
) -> subprocess.Popen[bytes]:
    conf = workdir / "api.toml"
    conf.write_text(
        "[api]\n"
        f'ledger_url = "{url}"\nport = {port}\nmigrate_on_start = false\naccess_log = false\n'
        f'workers = {workers}\njwt_secret = "bench-secret-0123456789abcdef0123456789"\n'
        f"{extra}"
        "[api.mqtt]\nenabled = false\n"
        f'[api.telemetry]\nbackend = "sqlite"\nsqlite_path = "{workdir / "t.db"}"\n'
        f'[api.broker]\nbackend = "file"\npath = "{workdir / "broker-accounts.json"}"\n'
    )
    log = (workdir / "api.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "salinmas", "api", "run", "--config", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                if len(server_pids(proc.pid)) >= workers:
                    return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    tail = (workdir / "api.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"API did not start in 60 s; its log ends:\n{tail}")


def server_pids(pid: int) -> list[int]:
    """The API process and its worker processes (uvicorn's children), workers first."""
    # uvicorn's multiprocess supervisor also starts a resource tracker: skip non-workers
    workers = [
        k
        for k in children(pid)
        if "multiprocessing" not in cmdline(k) or "spawn_main" in cmdline(k)
    ]
    return [*workers, pid]


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in server_pids(pid))


def tokens(port: int, hhs: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    out = []
    for hid, member_no, pin in hhs:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/household-login",
            data=json.dumps({"member_no": member_no, "pin": pin}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            out.append((hid, json.loads(r.read())["access_token"]))
    return out


async def _worker(
    port: int, reqs: list[bytes], until: float, lat: list[float], errors: list[int], offset: int
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n, i = 0, offset
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            writer.write(reqs[i % len(reqs)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
            n += 1
    finally:
        writer.close()
    return n


async def drive(
    port: int, toks: list[tuple[int, str]], seconds: float, conns: int
) -> tuple[int, list[float], list[int], float]:
    path = "/api/v1/households/{hid}/balance" if not FLOOR else "/api/v1/health"
    reqs = [
        (
            f"GET {path.format(hid=hid)} HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {tok}\r\n\r\n"
        ).encode()
        for hid, tok in toks
    ]
    lat: list[float] = []
    errors: list[int] = []
    t0 = time.perf_counter()
    until = t0 + seconds
    counts = await asyncio.gather(
        *(_worker(port, reqs, until, lat, errors, k * 7) for k in range(conns))
    )
    return sum(counts), lat, errors, time.perf_counter() - t0


def drive_wrk(
    port: int, toks: list[tuple[int, str]], seconds: float, conns: int, work: Path
) -> tuple[int, dict[str, float], int, float]:
    """The same requests from ``wrk`` (C, one thread: far less CPU per request than the
    asyncio client, so more of the 2 cores is left to the server and the database).
    Returns (requests, latency percentiles in ms, answers not 2xx/3xx, seconds)."""
    path = "/api/v1/households/{hid}/balance" if not FLOOR else "/api/v1/health"
    reqs = ",\n".join(
        json.dumps(
            f"GET {path.format(hid=hid)} HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {tok}\r\n\r\n"
        )
        for hid, tok in toks
    )
    script = work / "balance.lua"
    script.write_text(
        f"local reqs = {{\n{reqs}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n  return reqs[(i % #reqs) + 1]\nend\n"
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{round(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    lat: dict[str, float] = {}
    n, bad, wall = 0, 0, seconds
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0].endswith("%"):
            lat[words[0]] = _ms(words[1])
        elif "requests in" in line:  # "18378 requests in 15.02s, 4.2MB read"
            n, wall = int(words[0]), float(words[3].rstrip(",s"))
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            bad = int(words[-1])
        elif words[:1] == ["Latency"] and len(words) >= 4:
            lat["max"] = _ms(words[3])
    return n, lat, bad, wall


def _ms(text: str) -> float:
    """wrk's duration ("812.00us", "24.61ms", "1.20s") in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


def _spy(pid: int, seconds: float, work: Path) -> subprocess.Popen[bytes]:
    import shutil

    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    OUT_DIR.mkdir(exist_ok=True)
    return subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--duration",
            str(int(seconds)),
            "--output",
            str(OUT_DIR / "api_balance.folded"),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--households", type=int, default=200)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument(
        "--floor", action="store_true", help="hit /api/v1/health instead: the framework's own cost"
    )
    ap.add_argument("--workers", type=int, default=1, help="API worker processes")
    ap.add_argument("--profile", action="store_true", help="py-spy the first worker")
    ap.add_argument(
        "--client",
        choices=["asyncio", "wrk"],
        default="asyncio",
        help="load generator: the built-in asyncio client, or wrk (apt install wrk)",
    )
    args = ap.parse_args(argv)
    global FLOOR
    FLOOR = args.floor

    with tempfile.TemporaryDirectory(prefix="sal-bench-api-") as tmp:
        work = Path(tmp)
        pg = PostgresServer().start() if args.db == "postgresql" else None
        try:
            url = pg.create_database("bench") if pg else f"sqlite:///{work / 'ledger.db'}"
            hhs = seed(url, args.households)
            port = free_port()
            proc = start_api(url, work, port, args.workers)
            try:
                toks = tokens(port, hhs)
                asyncio.run(drive(port, toks, args.warmup, args.connections))
                # one worker: uvicorn serves in the API process itself (its children are helpers)
                first = server_pids(proc.pid)[0] if args.workers > 1 else proc.pid
                spy = _spy(first, args.seconds, work) if args.profile else None
                cpu0 = tree_cpu(proc.pid)
                if args.client == "wrk":
                    n, wlat, bad, wall = drive_wrk(port, toks, args.seconds, args.connections, work)
                    lat, errors = [], [0] * bad
                else:
                    n, lat, errors, wall = asyncio.run(
                        drive(port, toks, args.seconds, args.connections)
                    )
                cpu = tree_cpu(proc.pid) - cpu0
                if spy is not None:
                    spy.wait(args.seconds + 60)
            finally:
                proc.terminate()
                proc.wait(15)
        finally:
            if pg is not None:
                pg.stop()

    ms = [x * 1000 for x in lat]
    wrk = args.client == "wrk"
    if args.profile:
        from bench.profile_ingest import summarise

        print(summarise(OUT_DIR / "api_balance.folded", 40))
    result = {
        "bench": "api_balance" if not args.floor else "api_health_floor",
        "at": datetime.now(UTC).isoformat(),
        "db": args.db,
        "workers": args.workers,
        "connections": args.connections,
        "households": args.households,
        "seconds": round(wall, 2),
        "requests": n,
        "errors": len(errors),
        "refused_503": errors.count(503),
        "req_per_s": round(n / wall, 1),
        "client": args.client,
        "p50_ms": round(wlat.get("50%", 0) if wrk else percentile(ms, 50) or 0, 2),
        "p99_ms": round(wlat.get("99%", 0) if wrk else percentile(ms, 99) or 0, 2),
        "max_ms": round(wlat.get("max", 0) if wrk else max(ms, default=0), 2),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_us_per_req": round(cpu / n * 1e6, 1) if n else None,
        "machine": machine(),
    }
    what = "health checks" if args.floor else "balance lookups"
    print(
        f"{what}, {args.workers} uvicorn worker(s), {args.db}, {args.connections} connections "
        f"({args.client} client):"
    )
    print(
        f"  {result['req_per_s']:,} req/s over {result['seconds']} s ({n:,} requests, "
        f"{len(errors)} not 200, of which {errors.count(503)} were 503)"
    )
    print(
        f"  latency p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms"
    )
    print(f"  server CPU {result['server_cpu_us_per_req']} us/request (target >= 2,000 req/s)")
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT_DIR / f"api_balance-{args.db}-{stamp}.json").write_text(json.dumps(result, indent=2))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
