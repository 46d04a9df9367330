"""The planner's integer problem and its one timing rule.

Times are whole seconds from an epoch (the earliest departure), amounts are
``(grams, millilitres)``. The rule, used for ETAs, for the pre-check of each stop and
for explaining why the engine left a stop out: leave a node, ride ``T[a][b]`` seconds,
wait until the stop's window opens, start service no later than the window's end,
serve ``service_s``; a route ends when the collector is back at the depot, no later
than the shift end; the load only grows, so the box holds the route's total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cloud.routing.model import Stop, UnservedReason

#: a capacity no stop reaches (a box whose volume is not limiting)
UNLIMITED = 2**31 - 1


@dataclass(frozen=True)
class Vehicle:
    index: int
    id: str
    origin: int  #: location index where the route starts
    depart: int  #: seconds
    end: int  #: latest return to the depot, seconds
    cap_g: int  #: room left in the box (capacity minus what is already loaded)
    cap_ml: int
    load_g: int  #: already in the box at departure
    load_ml: int


@dataclass(frozen=True)
class Job:
    index: int
    stop: Stop
    loc: int
    weight_g: int
    volume_ml: int
    service: int
    open: int  #: earliest service start (0 when no window)
    close: int  #: latest service start (UNLIMITED when no window)
    allowed: frozenset[int]  #: vehicle indices that may serve it


@dataclass(frozen=True)
class Visit:
    job: int
    arrival: int
    start: int
    departure: int
    travel: int
    load_g: int
    load_ml: int


@dataclass
class Problem:
    T: list[list[int]]
    vehicles: list[Vehicle]
    jobs: list[Job]
    depot: int = 0
    #: why a job was found infeasible on its own (filled by :meth:`precheck`)
    rejected: dict[int, tuple[UnservedReason, str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ the rule

    def schedule(self, v: Vehicle, order: list[int]) -> tuple[list[Visit], int]:
        """Earliest ETAs of ``order`` for ``v``; returns (visits, back at depot)."""
        t, here, g, ml = v.depart, v.origin, v.load_g, v.load_ml
        visits = []
        for j in order:
            job = self.jobs[j]
            travel = self.T[here][job.loc]
            arrival = t + travel
            start = max(arrival, job.open)
            t, here = start + job.service, job.loc
            g, ml = g + job.weight_g, ml + job.volume_ml
            visits.append(Visit(j, arrival, start, t, travel, g, ml))
        return visits, t + self.T[here][self.depot]

    def violations(self, v: Vehicle, order: list[int]) -> list[str]:
        """What ``order`` breaks for ``v`` (empty when the route is feasible)."""
        visits, back = self.schedule(v, order)
        out = [
            f"{self.jobs[x.job].stop.id}: service starts {x.start - self.jobs[x.job].close}"
            " s after its window"
            for x in visits
            if x.start > self.jobs[x.job].close
        ]
        if back > v.end:
            out.append(f"back {back - v.end} s after shift end")
        total_g = sum(self.jobs[j].weight_g for j in order)
        total_ml = sum(self.jobs[j].volume_ml for j in order)
        if total_g > v.cap_g or total_ml > v.cap_ml:
            out.append(f"load {total_g} g / {total_ml} ml over {v.cap_g} g / {v.cap_ml} ml")
        if any(v.index not in self.jobs[j].allowed for j in order):
            out.append("serves a stop it may not serve")
        return out

    # ------------------------------------------------------------------ pre-check

    def precheck(self) -> list[int]:
        """Jobs at least one vehicle could serve alone; the others go to ``rejected``."""
        feasible = []
        for job in self.jobs:
            verdict = self._alone(job)
            if verdict is None:
                feasible.append(job.index)
            else:
                self.rejected[job.index] = verdict
        return feasible

    def _alone(self, job: Job) -> tuple[UnservedReason, str] | None:
        vehicles = [v for v in self.vehicles if v.index in job.allowed]
        if not vehicles:
            return "no_collector", "no collector on this shift may serve it"
        roomy = [v for v in vehicles if job.weight_g <= v.cap_g and job.volume_ml <= v.cap_ml]
        if not roomy:
            room = max(vehicles, key=lambda v: (v.cap_g, v.cap_ml))
            return "capacity", (
                f"{job.weight_g} g / {job.volume_ml} ml does not fit in the largest box "
                f"left ({room.cap_g} g / {room.cap_ml} ml)"
            )
        in_window = []
        for v in roomy:
            start = max(v.depart + self.T[v.origin][job.loc], job.open)
            if start <= job.close:
                in_window.append((v, start))
        if not in_window:
            soonest = min(v.depart + self.T[v.origin][job.loc] for v in roomy)
            return "time_window", (
                f"the earliest arrival is {soonest - job.close} s after the window closes"
            )
        home = job.service + self.T[job.loc][self.depot]
        for v, start in in_window:
            if start + home <= v.end:
                return None
        if all(job.open + home > v.end for v, _ in in_window):
            return "time_window", "its window opens too late to serve it within the shift"
        return "shift", "no collector can serve it and be back at the depot by shift end"

    # ------------------------------------------------------------------ diagnosis

    def explain(self, j: int, routes: dict[int, list[int]]) -> tuple[UnservedReason, str]:
        """Why job ``j`` (feasible alone) fits in none of the routes the engine made."""
        job = self.jobs[j]
        time_ok_full = window_ok_late = cap_ok_late = False
        for v in self.vehicles:
            if v.index not in job.allowed:
                continue
            order = routes.get(v.index, [])
            cap_ok = self._room(v, order, job)
            for own_ok, rest_ok in self._insertions(v, order, job):
                if own_ok and rest_ok and cap_ok:
                    return "shift", (
                        "the engine left it out within its search effort although it fits "
                        f"on {v.id}'s route; a re-plan may place it"
                    )
                time_ok_full |= own_ok and rest_ok and not cap_ok
                window_ok_late |= cap_ok and rest_ok and not own_ok
                cap_ok_late |= cap_ok and own_ok and not rest_ok
        if time_ok_full:
            return "capacity", "the boxes of the collectors who could reach it in time are full"
        if window_ok_late:
            return "time_window", "no route passes by while its window is open"
        if cap_ok_late:
            return "shift", (
                "serving it would make the collector late for later stops or the shift end"
            )
        if all(
            not self._room(v, routes.get(v.index, []), job)
            for v in self.vehicles
            if v.index in job.allowed
        ):
            return "capacity", "the boxes of the collectors who may serve it are full"
        if job.stop.window is not None:
            return "time_window", "its window cannot be met with the other stops planned"
        return "shift", "the shifts are full"

    def _room(self, v: Vehicle, order: list[int], job: Job) -> bool:
        return (
            sum(self.jobs[k].weight_g for k in order) + job.weight_g <= v.cap_g
            and sum(self.jobs[k].volume_ml for k in order) + job.volume_ml <= v.cap_ml
        )

    def _insertions(self, v: Vehicle, order: list[int], job: Job) -> list[tuple[bool, bool]]:
        """(own window kept, rest of the route kept) for each place ``job`` could go."""
        visits, _ = self.schedule(v, order)
        # latest service start at each stop that keeps the rest of the route feasible
        latest = [0] * (len(order) + 1)
        latest[-1] = v.end  # the end node: latest arrival at the depot
        nxt = self.depot
        for i in range(len(order) - 1, -1, -1):
            o = self.jobs[order[i]]
            latest[i] = min(o.close, latest[i + 1] - self.T[o.loc][nxt] - o.service)
            nxt = o.loc
        out = []
        for pos in range(len(order) + 1):
            here = v.origin if pos == 0 else self.jobs[order[pos - 1]].loc
            left = v.depart if pos == 0 else visits[pos - 1].departure
            there = self.depot if pos == len(order) else self.jobs[order[pos]].loc
            start = max(left + self.T[here][job.loc], job.open)
            arrive_next = start + job.service + self.T[job.loc][there]
            out.append((start <= job.close, arrive_next <= latest[pos]))
        return out


def seconds_after(epoch_ts: float, ts: float, *, up: bool) -> int:
    """Whole seconds from ``epoch_ts`` to ``ts``, rounded up or down."""
    d = ts - epoch_ts
    return math.ceil(d) if up else math.floor(d)
