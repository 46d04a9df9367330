"""The VROOM adapter (``pyvroom``): an integer :class:`Problem` in, ordered routes out.

Each collector is a VROOM vehicle (start at its origin no earlier than its departure,
end at the depot by shift end, capacity ``[grams, millilitres]`` left in the box);
each stop a job with a pickup amount, a service time, an optional time window and a
priority. Who-may-serve-what (``Stop.collectors``, pins) becomes VROOM skills: one
skill per distinct set of allowed collectors. Cost = travel seconds.

pyvroom holds Python's GIL for the whole solve (up to the time limit), which would
freeze every other thread of the process — an API's event loop included. So by default
(``RoutingSettings.solve_in_worker``) the solve runs in one long-lived worker process
(started with ``spawn`` on first use, reused, replaced if it dies); a crash of the C++
engine then costs one plan (:class:`RoutingError`), never the service.

A server stops the worker with :func:`stop_worker` when it stops (the API's lifespan):
concurrent.futures' own ``atexit`` shut-down never runs when the process dies of a
signal, and uvicorn ends a SIGTERMed server by raising SIGTERM again once it has shut
down. Should the server be killed outright, the worker still ends: it exits with its
parent (:func:`salinmas.lifeline.exit_with_parent`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from typing import TypeVar

import numpy as np
import vroom

from cloud.routing.problem import UNLIMITED, Problem
from cloud.routing.settings import RoutingSettings
from salinmas.lifeline import exit_with_parent

PROFILE = "motorbike"
_R = TypeVar("_R")


def engine_name(settings: RoutingSettings, stops: int) -> str:
    limit = "none" if settings.solve_timeout_s is None else f"{settings.solve_timeout_s:g} s"
    return (
        f"vroom (pyvroom {version('pyvroom')}), exploration "
        f"{settings.exploration_for(stops)}, time limit {limit}"
    )


class RoutingError(Exception):
    """The engine failed or returned routes that break a rule (never bad input)."""


@dataclass(frozen=True)
class Solved:
    routes: dict[int, list[int]]  #: vehicle index -> ordered job indices
    unassigned: list[int]  #: job indices on no route
    pid: int  #: the process that ran VROOM


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _run(fn: Callable[..., _R], *args: object) -> _R:
    """``fn(*args)`` on the worker process (started now if there is none)."""
    global _pool
    pool = None
    try:
        with _pool_lock:  # a concurrent stop_worker() sees the pool with the task or neither
            if _pool is None:
                _pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=exit_with_parent,  # a light module: the worker imports no VROOM
                )
            pool = _pool
            # a pool that already saw its worker die refuses the task here
            future = pool.submit(fn, *args)
        return future.result()
    except BrokenProcessPool:
        with _pool_lock:
            if _pool is pool:
                _pool = None
        raise RoutingError("the routing engine's worker process died; plan again") from None
    except CancelledError:
        raise RoutingError("the routing engine's worker was stopped (server stopping)") from None


def warm_up(settings: RoutingSettings) -> int:
    """Start the worker process now rather than on the first plan; returns the pid that
    will solve. Call it at a server's start-up, and :func:`stop_worker` when it stops."""
    if not settings.solve_in_worker:
        return os.getpid()
    return _run(os.getpid)


def stop_worker() -> None:
    """Stop the worker process and wait until it has exited: a solve under way finishes
    (its time limit bounds the wait), queued ones fail with :class:`RoutingError`. The
    next :func:`solve` or :func:`warm_up` starts a new worker. Safe to call any time."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def solve(problem: Problem, jobs: list[int], settings: RoutingSettings) -> Solved:
    """Route ``jobs`` (indices into ``problem.jobs``) over the problem's vehicles.

    Vehicles with no time left (cannot even ride home by shift end) get no route.
    """
    if not settings.solve_in_worker:
        return solve_here(problem, jobs, settings)
    return _run(solve_here, problem, jobs, settings)


def solve_here(problem: Problem, jobs: list[int], settings: RoutingSettings) -> Solved:
    """:func:`solve` in this process (blocks every thread of it until done)."""
    vehicles = [v for v in problem.vehicles if v.depart + problem.T[v.origin][0] <= v.end]
    if not jobs or not vehicles:
        return Solved({}, list(jobs), os.getpid())
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
    return Solved(routes, [j for j in jobs if j not in placed], os.getpid())
