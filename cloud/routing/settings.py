"""Settings of the route planner: a section of a process's settings (``[api.routing]``).

Example ``salinmas.toml`` once the API wires it in as ``routing``::

    [api.routing]
    matrix = "osrm"                       # "straight" (default) | "osrm" | "valhalla"
    url = "http://osrm.local:5000"        # OSRM base URL (or Valhalla's)
    osrm_profile = "driving"              # the profile segment of /table/v1/{profile}/
    timeout_s = 5                         # whole matrix, else straight-line fallback
    speed_kmh = 22                        # the straight-line model (also the fallback)
    detour_factor = 1.35
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RoutingSettings(BaseModel):
    """Where travel times come from and how hard the engine searches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: travel-time source; "straight" needs no server
    matrix: Literal["straight", "osrm", "valhalla"] = "straight"
    #: straight-line model: road distance = great-circle distance x detour_factor
    detour_factor: float = Field(default=1.35, ge=1.0, le=4.0)
    #: straight-line model: average motorbike speed door to door, km/h
    speed_kmh: float = Field(default=22.0, gt=0, le=120)
    #: base URL of the OSRM or Valhalla server (no trailing path)
    url: str | None = None
    osrm_profile: str = Field(default="driving", pattern=r"^[A-Za-z0-9_-]+$")
    valhalla_costing: str = Field(default="motorcycle", pattern=r"^[a-z_]+$")
    #: the whole matrix must arrive within this many seconds, or straight-line is used
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    #: most coordinates one request may carry (OSRM's --max-table-size, default 100)
    max_locations: int = Field(default=100, ge=2, le=10_000)
    #: multiply the server's durations (e.g. 0.8 when a car profile is slower than bikes)
    duration_factor: float = Field(default=1.0, gt=0, le=10)
    #: volume assumed per kg for a stop whose volume is unknown (0 = volume not counted)
    unknown_volume_ml_per_kg: int = Field(default=0, ge=0, le=1_000_000)
    #: VROOM's search effort 0..5 (5: best routes, slowest); None picks by the number of
    #: stops (5 up to 100, 3 up to 250, 0 above: VROOM's start-up work at levels 1-5
    #: grows with long routes and is not bounded by the time limit, see docs/routing.md)
    exploration_level: int | None = Field(default=None, ge=0, le=5)
    #: threads VROOM may use for one solve
    threads: int = Field(default=2, ge=1, le=64)
    #: run VROOM in a worker process (it holds the GIL while it solves; in-process
    #: solving would freeze the caller's other threads, an API's event loop included)
    solve_in_worker: bool = True
    #: stop improving routes after this many seconds (None: search to the end)
    solve_timeout_s: float | None = Field(default=10.0, gt=0, le=600)

    def exploration_for(self, stops: int) -> int:
        """The exploration level used for a problem of ``stops`` stops."""
        if self.exploration_level is not None:
            return self.exploration_level
        return 5 if stops <= 100 else 3 if stops <= 250 else 0

    @model_validator(mode="after")
    def _server_needs_url(self) -> Self:
        if self.matrix != "straight" and not self.url:
            raise ValueError(f"matrix = {self.matrix!r} needs url (the server's base URL)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self
