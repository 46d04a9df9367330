"""Motorbike route planning for a collector's shift (JEKNYONG pickups and full bins).

A self-contained domain module: plain dataclasses in and out, a real vehicle-routing
engine (VROOM via ``pyvroom``) underneath, travel times from a pluggable matrix
(straight-line by default, OSRM or Valhalla when configured, straight-line again when
the server fails). No database, no web framework: callers build the inputs.

Example::

    from datetime import datetime, timedelta, timezone
    from cloud.routing import (
        Collector, LatLon, RoutingSettings, Stop, Window, matrix_provider, plan_routes,
    )

    wib = timezone(timedelta(hours=7))
    day = datetime(2026, 3, 2, tzinfo=wib)
    settings = RoutingSettings()                 # or the process's [api.routing]
    provider = matrix_provider(settings)         # once per process
    plan = plan_routes(
        depot=LatLon(-7.4245, 109.2302),
        stops=[
            Stop("pickup:41", LatLon(-7.4301, 109.2388), weight_g=3_500,
                 window=Window(day.replace(hour=9), day.replace(hour=11))),
            Stop("bin:B-07", LatLon(-7.4190, 109.2251), weight_g=12_000,
                 volume_ml=120_000, kind="bin", service_s=600),
        ],
        collectors=[Collector("col-1", day.replace(hour=8), day.replace(hour=14),
                              capacity_g=60_000, capacity_ml=150_000)],
        matrix=provider,
        settings=settings,
    )
    for route in plan.routes:
        for s in route.stops:
            print(route.collector_id, s.stop_id, s.start, s.load_g)  # service starts
    for u in plan.unserved:
        print(u.stop_id, u.reason, u.detail)

Re-plan when a stop is added or a collector is late: :func:`replan_routes` with a
:class:`Progress` per collector (position, time, load, stops done).
"""

from cloud.routing.engine import RoutingError, stop_worker, warm_up
from cloud.routing.matrix import (
    MatrixError,
    MatrixProvider,
    MatrixStats,
    RoadMatrix,
    StraightLine,
    TravelMatrix,
    matrix_provider,
)
from cloud.routing.model import (
    Collector,
    LatLon,
    Plan,
    PlannedStop,
    Progress,
    Route,
    Stop,
    Unserved,
    UnservedReason,
    Window,
)
from cloud.routing.planner import plan_routes, replan_routes
from cloud.routing.settings import RoutingSettings

__all__ = [
    "Collector",
    "LatLon",
    "MatrixError",
    "MatrixProvider",
    "MatrixStats",
    "Plan",
    "PlannedStop",
    "Progress",
    "RoadMatrix",
    "Route",
    "RoutingError",
    "RoutingSettings",
    "Stop",
    "StraightLine",
    "TravelMatrix",
    "Unserved",
    "UnservedReason",
    "Window",
    "matrix_provider",
    "plan_routes",
    "replan_routes",
    "stop_worker",
    "warm_up",
]
