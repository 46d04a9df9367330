"""The VROOM adapter (``pyvroom``): an integer :class:`Problem` in, ordered routes out.

Each collector is a VROOM vehicle (start at its origin no earlier than its departure,
end at the depot by shift end, capacity ``[grams, millilitres]`` left in the box);
each stop a job with a pickup amount, a service time, an optional time window and a
priority. Who-may-serve-what (``Stop.collectors``, pins) becomes VROOM skills: one
skill per distinct set of allowed collectors. Cost = travel seconds.
"""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version

import numpy as np
import vroom

from cloud.routing.problem import UNLIMITED, Problem
from cloud.routing.settings import RoutingSettings

PROFILE = "motorbike"


def engine_name(settings: RoutingSettings, stops: int) -> str:
    limit = "none" if settings.solve_timeout_s is None else f"{settings.solve_timeout_s:g} s"
    return (
        f"vroom (pyvroom {version('pyvroom')}), exploration "
        f"{settings.exploration_for(stops)}, time limit {limit}"
    )


def solve(
    problem: Problem, jobs: list[int], settings: RoutingSettings
) -> tuple[dict[int, list[int]], list[int]]:
    """Route ``jobs`` (indices into ``problem.jobs``) over the problem's vehicles.

    Returns (vehicle index -> ordered job indices, job indices left unassigned).
    Vehicles with no time left (cannot even ride home by shift end) get no route.
    """
    vehicles = [v for v in problem.vehicles if v.depart + problem.T[v.origin][0] <= v.end]
    if not jobs or not vehicles:
        return {}, list(jobs)
    everyone = frozenset(v.index for v in problem.vehicles)
    skills: dict[frozenset[int], int] = {}
    for j in jobs:
        allowed = problem.jobs[j].allowed
        if allowed != everyone and allowed not in skills:
            skills[allowed] = len(skills) + 1

    inp = vroom.Input()
    inp.set_durations_matrix(PROFILE, np.asarray(problem.T, dtype=np.uint32))
    for v in vehicles:
        inp.add_vehicle(
            vroom.Vehicle(
                v.index,
                start=v.origin,
                end=problem.depot,
                profile=PROFILE,
                capacity=[min(v.cap_g, UNLIMITED), min(v.cap_ml, UNLIMITED)],
                skills={s for allowed, s in skills.items() if v.index in allowed},
                time_window=vroom.TimeWindow(v.depart, v.end),
            )
        )
    for j in jobs:
        job = problem.jobs[j]
        windows = [] if job.close >= UNLIMITED else [vroom.TimeWindow(job.open, job.close)]
        skill = skills.get(job.allowed)
        inp.add_job(
            vroom.Job(
                j,
                location=job.loc,
                default_service=job.service,
                pickup=[job.weight_g, job.volume_ml],
                skills=set() if skill is None else {skill},
                priority=job.stop.priority,
                time_windows=windows,
            )
        )
    timeout = None
    if settings.solve_timeout_s is not None:
        timeout = timedelta(seconds=settings.solve_timeout_s)
    solution = inp.solve(
        exploration_level=settings.exploration_for(len(jobs)),
        nb_threads=settings.threads,
        timeout=timeout,
    )
    routes: dict[int, list[int]] = {}
    frame = solution.routes
    if "id" in frame.columns:
        for vid, kind, jid in zip(frame["vehicle_id"], frame["type"], frame["id"], strict=True):
            if kind == "job":
                routes.setdefault(int(vid), []).append(int(jid))
    # pyvroom's unassigned jobs expose no public id: whatever is on no route
    placed = {j for order in routes.values() for j in order}
    return routes, [j for j in jobs if j not in placed]
