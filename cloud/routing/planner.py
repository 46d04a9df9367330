"""Plan and re-plan a shift's motorbike routes (the entry points of :mod:`cloud.routing`).

:func:`plan_routes` plans a shift from its start; :func:`replan_routes` plans what is
left of it from where each collector is now (a stop was added, a collector is late):
stops already done are never moved or planned again, and ``pins`` keep chosen stops
with their collector (e.g. households already told who is coming).

Every stop ends up either on exactly one route or in ``Plan.unserved`` with a reason.
Stops that no collector could serve even alone (box too small, window closed before
anyone can get there, no time to get back) are reported without asking the engine;
the rest go to VROOM, and whatever it leaves out is explained against its routes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cloud.routing import engine
from cloud.routing.engine import RoutingError
from cloud.routing.matrix import MatrixProvider
from cloud.routing.model import (
    Collector,
    LatLon,
    Plan,
    PlannedStop,
    Progress,
    Route,
    Stop,
    Unserved,
)
from cloud.routing.problem import UNLIMITED, Job, Problem, Vehicle, seconds_after
from cloud.routing.settings import RoutingSettings

log = logging.getLogger(__name__)


def plan_routes(
    *,
    depot: LatLon,
    stops: Sequence[Stop],
    collectors: Sequence[Collector],
    matrix: MatrixProvider,
    settings: RoutingSettings | None = None,
    pins: Mapping[str, str] | None = None,
) -> Plan:
    """Plan a whole shift: each collector leaves its start at ``shift_start``."""
    return replan_routes(
        depot=depot,
        stops=stops,
        collectors=collectors,
        progress=(),
        now=None,
        matrix=matrix,
        settings=settings,
        pins=pins,
    )


def replan_routes(
    *,
    depot: LatLon,
    stops: Sequence[Stop],
    collectors: Sequence[Collector],
    progress: Sequence[Progress],
    now: datetime | None,
    matrix: MatrixProvider,
    settings: RoutingSettings | None = None,
    pins: Mapping[str, str] | None = None,
) -> Plan:
    """Plan the rest of a shift.

    ``stops`` may include the stops already done (they are left out by id).
    A collector with a :class:`Progress` leaves ``position`` at ``max(at, shift_start)``
    with ``load_*`` already in the box; one without leaves its start at
    ``max(now, shift_start)``. ``pins`` maps stop id -> the only collector who may serve it.
    """
    settings = settings or RoutingSettings()
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError("now must be timezone-aware")
    _unique("stop", [s.id for s in stops])
    _unique("collector", [c.id for c in collectors])
    by_collector = {p.collector_id: p for p in progress}
    _unique("progress", [p.collector_id for p in progress])
    known = {c.id for c in collectors}
    for cid in by_collector:
        if cid not in known:
            raise ValueError(f"progress for unknown collector {cid!r}")
    pins = dict(pins or {})
    for sid, cid in pins.items():
        if cid not in known:
            raise ValueError(f"stop {sid!r} is pinned to unknown collector {cid!r}")
    done = {sid for p in progress for sid in p.done}
    todo = [s for s in stops if s.id not in done]

    # departures and the epoch every integer time counts from
    departs: list[tuple[LatLon, datetime]] = []
    for c in collectors:
        p = by_collector.get(c.id)
        if p is not None:
            departs.append((p.position, max(p.at, c.shift_start)))
        else:
            when = c.shift_start if now is None else max(now, c.shift_start)
            departs.append((c.start or depot, when))
    epoch = min((when for _, when in departs), default=datetime.now().astimezone())
    ets = epoch.timestamp()

    points = [depot] + [where for where, _ in departs] + [s.location for s in todo]
    t0 = time.perf_counter()
    travel = matrix.matrix(points)
    T = travel.durations_s.tolist()

    vehicles = []
    for i, (c, (_, when)) in enumerate(zip(collectors, departs, strict=True)):
        p = by_collector.get(c.id)
        load_g, load_ml = (p.load_g, p.load_ml) if p else (0, 0)
        cap_ml = UNLIMITED if c.capacity_ml is None else c.capacity_ml
        vehicles.append(
            Vehicle(
                index=i,
                id=c.id,
                origin=1 + i,
                depart=seconds_after(ets, when.timestamp(), up=True),
                end=seconds_after(ets, c.shift_end.timestamp(), up=False),
                cap_g=max(0, c.capacity_g - load_g),
                cap_ml=max(0, cap_ml - load_ml),
                load_g=load_g,
                load_ml=load_ml,
            )
        )
    index_of = {c.id: i for i, c in enumerate(collectors)}
    jobs = []
    for j, s in enumerate(todo):
        allowed = set(range(len(collectors)))
        if s.collectors is not None:
            allowed &= {index_of[c] for c in s.collectors if c in index_of}
        if s.id in pins:
            allowed &= {index_of[pins[s.id]]}
        volume = s.volume_ml
        if volume is None:
            volume = s.weight_g * settings.unknown_volume_ml_per_kg // 1000
        opens, closes = 0, UNLIMITED
        if s.window is not None:
            opens = max(0, seconds_after(ets, s.window.start.timestamp(), up=True))
            closes = seconds_after(ets, s.window.end.timestamp(), up=False)
        jobs.append(
            Job(
                index=j,
                stop=s,
                loc=1 + len(collectors) + j,
                weight_g=s.weight_g,
                volume_ml=volume,
                service=s.service_s,
                open=opens,
                close=closes,
                allowed=frozenset(allowed),
            )
        )
    problem = Problem(T=T, vehicles=vehicles, jobs=jobs)

    candidates = problem.precheck()
    solved = engine.solve(problem, candidates, settings)
    orders, left_out = solved.routes, solved.unassigned
    for v in vehicles:
        broken = problem.violations(v, orders.get(v.index, []))
        if broken:
            raise RoutingError(f"route of {v.id} breaks a rule: {'; '.join(broken)}")
    planned = [j for order in orders.values() for j in order]
    if sorted(planned + left_out) != sorted(candidates):
        raise RoutingError("the engine lost or duplicated stops")
    unserved = [Unserved(jobs[j].stop.id, *problem.rejected[j]) for j in sorted(problem.rejected)]
    unserved += [Unserved(jobs[j].stop.id, *problem.explain(j, orders)) for j in sorted(left_out)]
    solve_s = time.perf_counter() - t0

    D = travel.distances_m.tolist()

    def at(seconds: int) -> datetime:
        return epoch + timedelta(seconds=seconds)

    routes = []
    for v, c in zip(vehicles, collectors, strict=True):
        order = orders.get(v.index, [])
        visits, back = problem.schedule(v, order)
        planned_stops = []
        prev = v.origin
        for x in visits:
            job = jobs[x.job]
            planned_stops.append(
                PlannedStop(
                    stop_id=job.stop.id,
                    location=job.stop.location,
                    arrival=at(x.arrival),
                    start=at(x.start),
                    departure=at(x.departure),
                    wait_s=x.start - x.arrival,
                    travel_s=x.travel,
                    distance_m=D[prev][job.loc],
                    load_g=x.load_g,
                    load_ml=x.load_ml,
                )
            )
            prev = job.loc
        p = by_collector.get(c.id)
        routes.append(
            Route(
                collector_id=c.id,
                origin=points[v.origin],
                depart=at(v.depart),
                back=at(back),
                stops=tuple(planned_stops),
                done=p.done if p else (),
                distance_m=sum(ps.distance_m for ps in planned_stops) + D[prev][0],
                travel_s=sum(ps.travel_s for ps in planned_stops) + T[prev][0],
                load_g=v.load_g + sum(jobs[j].weight_g for j in order),
                load_ml=v.load_ml + sum(jobs[j].volume_ml for j in order),
            )
        )
    if unserved:
        log.info("%d of %d stops unserved", len(unserved), len(todo))
    return Plan(
        routes=tuple(routes),
        unserved=tuple(unserved),
        matrix_source=travel.source,
        solve_s=solve_s,
        engine=engine.engine_name(settings, len(candidates)),
    )


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {what} id {i!r}")
        seen.add(i)
