"""Plain inputs and outputs of the route planner (no ORM, no web framework).

Units follow the rest of Salinmas: weights in integer grams, volumes in integer
millilitres, durations in integer seconds, distances in integer metres, times as
timezone-aware datetimes (UTC or any zone; never naive). Every input validates itself
in ``__post_init__`` and raises :class:`ValueError` with a clear message.

A time window constrains when service *starts* at a stop (the collector may finish
after the window closes), the way the household reads "come between 9 and 11".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

#: why a stop is not on any route
#:   no_collector - no collector on this shift may serve it (``Stop.collectors``/pins)
#:   capacity     - its weight/volume does not fit in the box (alone, or with the rest)
#:   time_window  - service cannot start inside the household's window
#:   shift        - it cannot be served and the collector back at the depot by shift end
UnservedReason = Literal["no_collector", "capacity", "time_window", "shift"]


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class LatLon:
    """A point in WGS84 degrees (``LatLon(-7.4245, 109.2302)`` is Purwokerto)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude out of range: {self.lat!r}")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude out of range: {self.lon!r}")


@dataclass(frozen=True, slots=True)
class Window:
    """The span in which service may start, both ends included."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _aware("window start", self.start)
        _aware("window end", self.end)
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True, slots=True)
class Stop:
    """Something to collect: a household's pickup request or a full bin.

    ``volume_ml=None`` means unknown: the planner then assumes
    ``RoutingSettings.unknown_volume_ml_per_kg`` per kg. ``collectors`` limits who may
    serve the stop (e.g. the bins a collector is allowed to empty); ``None`` = anyone.
    ``priority`` 0..100: when not everything fits, higher priorities are served first.
    """

    id: str
    location: LatLon
    weight_g: int
    service_s: int = 300
    volume_ml: int | None = None
    window: Window | None = None
    kind: str = "household"
    collectors: frozenset[str] | None = None
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a stop needs an id")
        if self.weight_g < 0:
            raise ValueError(f"stop {self.id}: weight_g must be >= 0, got {self.weight_g}")
        if self.volume_ml is not None and self.volume_ml < 0:
            raise ValueError(f"stop {self.id}: volume_ml must be >= 0, got {self.volume_ml}")
        if self.service_s < 0:
            raise ValueError(f"stop {self.id}: service_s must be >= 0, got {self.service_s}")
        if not 0 <= self.priority <= 100:
            raise ValueError(f"stop {self.id}: priority must be 0..100, got {self.priority}")


@dataclass(frozen=True, slots=True)
class Collector:
    """A collector's motorbike for one shift.

    The route starts at ``start`` (the depot when ``None``) no earlier than
    ``shift_start`` and must be back at the depot by ``shift_end``.
    ``capacity_ml=None``: the box volume is not limiting (only weight is).
    """

    id: str
    shift_start: datetime
    shift_end: datetime
    capacity_g: int
    capacity_ml: int | None = None
    start: LatLon | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a collector needs an id")
        _aware(f"collector {self.id} shift_start", self.shift_start)
        _aware(f"collector {self.id} shift_end", self.shift_end)
        if self.shift_end <= self.shift_start:
            raise ValueError(f"collector {self.id}: shift ends before it starts")
        if self.capacity_g <= 0:
            raise ValueError(f"collector {self.id}: capacity_g must be > 0")
        if self.capacity_ml is not None and self.capacity_ml <= 0:
            raise ValueError(f"collector {self.id}: capacity_ml must be > 0 or None")


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a collector is in the shift, for a re-plan.

    ``done`` are the stops already served, in order: they are never moved nor planned
    again. ``load_g``/``load_ml`` is what is already in the box.
    """

    collector_id: str
    position: LatLon
    at: datetime
    load_g: int = 0
    load_ml: int = 0
    done: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _aware(f"progress of {self.collector_id} at", self.at)
        if self.load_g < 0 or self.load_ml < 0:
            raise ValueError(f"progress of {self.collector_id}: load must be >= 0")


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """One stop on a route with its ETA. ``load_*`` is in the box after this stop."""

    stop_id: str
    location: LatLon
    arrival: datetime
    start: datetime
    departure: datetime
    wait_s: int
    travel_s: int
    distance_m: int
    load_g: int
    load_ml: int


@dataclass(frozen=True, slots=True)
class Route:
    """A collector's ordered stops, from ``depart`` at ``origin`` to ``back`` at the depot.

    ``done`` echoes the stops already served before a re-plan (in order), unchanged.
    """

    collector_id: str
    origin: LatLon
    depart: datetime
    back: datetime
    stops: tuple[PlannedStop, ...]
    done: tuple[str, ...] = ()
    distance_m: int = 0
    travel_s: int = 0
    load_g: int = 0
    load_ml: int = 0


@dataclass(frozen=True, slots=True)
class Unserved:
    """A stop on no route, with the reason and a sentence an operator can read."""

    stop_id: str
    reason: UnservedReason
    detail: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer of :func:`cloud.routing.plan_routes` / :func:`replan_routes`.

    ``matrix_source`` says where travel times came from (``"straight"``, ``"osrm"``,
    ``"valhalla"``, or ``"straight (fallback: ...)"`` when the road server failed).
    ``solve_s`` is the wall time of the whole call (matrix, engine and checks).
    """

    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...]
    matrix_source: str
    solve_s: float
    engine: str

    def assignments(self) -> dict[str, str]:
        """``stop_id -> collector_id`` of every planned stop (to pin them in a re-plan)."""
        return {ps.stop_id: r.collector_id for r in self.routes for ps in r.stops}

    def route_of(self, collector_id: str) -> Route:
        for r in self.routes:
            if r.collector_id == collector_id:
                return r
        raise KeyError(collector_id)
