"""Route-planning solve time: 40 stops / 2 collectors and 500 stops / 10 collectors.

    .venv/bin/python -m bench.routing [--seeds 5] [--sizes 40x2,500x10]
                                      [--exploration N] [--threads 2] [--timeout 10]

For each size and seed: households spread over a town (radius grows with the number
of stops), a third with a two-hour window, sized so the stops add up to ~90 % of the
fleet's kg and ~80 % of its box volume; collectors with a 60 kg / 150 L motorbike box
and an 08:00-15:00 shift; straight-line travel times.
Prints, per size, the p50 and max wall time of :func:`cloud.routing.plan_routes` (the
whole call: matrix, VROOM, checks and explanations), the matrix's share, stops served,
unserved by reason and kilometres ridden. Settings are RoutingSettings' defaults
(exploration by size, 10 s search limit) unless overridden. Writes a JSON record to
``bench/out/``.
Figures taken while other work loads the machine are noisy: the record keeps the load
average before and after.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from bench.common import OUT_DIR, machine
from cloud.routing import (
    Collector,
    LatLon,
    RoutingSettings,
    Stop,
    StraightLine,
    Window,
    plan_routes,
    warm_up,
)

WIB = timezone(timedelta(hours=7))
DEPOT = LatLon(-7.4245, 109.2302)
CAPACITY_G, CAPACITY_ML = 60_000, 150_000


def scenario(stops: int, collectors: int, seed: int) -> tuple[list[Stop], list[Collector]]:
    """Demand ~90 % of the fleet's kg and ~80 % of its box volume, on average."""
    rng = random.Random(seed)
    mean_g = 0.9 * CAPACITY_G * collectors / stops
    mean_ml = 0.8 * CAPACITY_ML * collectors / stops
    day = datetime(2026, 3, 2, tzinfo=WIB)
    radius_deg = min(0.15, 0.012 * stops**0.5) / 2  # ~4 km for 40 stops, ~8 km for 500
    out = []
    for i in range(stops):
        window = None
        if i % 3 == 0:
            h = rng.randint(8, 12)
            window = Window(day.replace(hour=h), day.replace(hour=h + 2))
        where = LatLon(
            DEPOT.lat + rng.uniform(-radius_deg, radius_deg),
            DEPOT.lon + rng.uniform(-radius_deg, radius_deg),
        )
        out.append(
            Stop(
                f"pickup:{i}",
                where,
                weight_g=int(rng.uniform(0.4, 1.6) * mean_g),
                volume_ml=int(rng.uniform(0.4, 1.6) * mean_ml),
                service_s=rng.choice([180, 240, 300]),
                window=window,
            )
        )
    fleet = [
        Collector(
            f"col-{k}",
            day.replace(hour=8),
            day.replace(hour=15),
            capacity_g=CAPACITY_G,
            capacity_ml=CAPACITY_ML,
        )
        for k in range(collectors)
    ]
    return out, fleet


def loadavg() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sizes", default="40x2,500x10", help="STOPSxCOLLECTORS,...")
    defaults = RoutingSettings()
    ap.add_argument("--exploration", type=int, default=None, help="0..5 (default: by size)")
    ap.add_argument("--threads", type=int, default=defaults.threads)
    ap.add_argument(
        "--timeout", type=float, default=defaults.solve_timeout_s, help="0: search to the end"
    )
    args = ap.parse_args()
    settings = RoutingSettings(
        exploration_level=args.exploration,
        threads=args.threads,
        solve_timeout_s=args.timeout or None,
    )
    line = StraightLine(detour_factor=settings.detour_factor, speed_kmh=settings.speed_kmh)
    record: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings.model_dump(),
        "load average before": loadavg(),
        "results": [],
    }
    warm_up(settings)  # start the solver's worker process outside the timings
    print(f"load average before: {record['load average before']}")
    print(f"{'size':>8} {'p50 s':>7} {'max s':>7} {'matrix s':>9} {'served':>8} unserved  km")
    results = []
    for size in args.sizes.split(","):
        n, k = (int(x) for x in size.lower().split("x"))
        walls, matrices, served, km = [], [], [], []
        why: Counter[str] = Counter()
        for seed in range(args.seeds):
            stops, fleet = scenario(n, k, seed)
            t = time.perf_counter()
            line.matrix([DEPOT] + [DEPOT] * k + [s.location for s in stops])
            matrices.append(time.perf_counter() - t)
            t = time.perf_counter()
            plan = plan_routes(
                depot=DEPOT, stops=stops, collectors=fleet, matrix=line, settings=settings
            )
            walls.append(time.perf_counter() - t)
            served.append(sum(len(r.stops) for r in plan.routes))
            km.append(sum(r.distance_m for r in plan.routes) / 1000)
            why.update(u.reason for u in plan.unserved)
        row = {
            "stops": n,
            "collectors": k,
            "seeds": args.seeds,
            "p50_s": statistics.median(walls),
            "max_s": max(walls),
            "matrix_p50_s": statistics.median(matrices),
            "served_p50": statistics.median(served),
            "unserved_by_reason_all_seeds": dict(why),
            "km_p50": statistics.median(km),
            "engine": plan.engine,
        }
        results.append(row)
        reasons = ",".join(f"{r}:{c}" for r, c in sorted(why.items())) or "-"
        print(
            f"{size:>8} {row['p50_s']:7.2f} {row['max_s']:7.2f} {row['matrix_p50_s']:9.3f} "
            f"{row['served_p50']:>8} {reasons} {row['km_p50']:.0f}"
        )
        print(f"         ({plan.engine})")
    record["results"] = results
    record["load average after"] = loadavg()
    record["machine"] = machine()
    print(f"load average after: {record['load average after']}")
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT_DIR / f"routing-{stamp}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
