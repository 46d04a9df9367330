"""Travel-time matrices: straight-line by default, a road server when configured.

A provider turns points into a square matrix of travel seconds and metres
(``matrix[i][j]`` = from point ``i`` to point ``j``). :class:`StraightLine` needs no
server: great-circle distance x a detour factor at an average motorbike speed.
:class:`RoadMatrix` asks a road server (:mod:`cloud.routing.road`: OSRM ``/table``,
Valhalla ``/sources_to_targets``) and falls back to straight-line when the server does
not answer in time or answers nonsense; every fallback is logged and counted
(:meth:`RoadMatrix.stats`), and the plan says which source it used. A cell the server
cannot route (``null``) gets the straight-line value, also counted.

Anything with a ``matrix(points) -> TravelMatrix`` method is a provider (tests and
callers may bring their own).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cloud.routing.model import LatLon
from cloud.routing.settings import RoutingSettings

log = logging.getLogger(__name__)

#: mean Earth radius, metres (IUGG)
EARTH_RADIUS_M = 6_371_008.8

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class MatrixError(Exception):
    """A road server gave no usable matrix (timeout, refused, HTTP error, bad body)."""


@dataclass(frozen=True)
class TravelMatrix:
    """Seconds and metres between every pair of points, plus where they came from."""

    durations_s: IntArray
    distances_m: IntArray
    source: str

    def __post_init__(self) -> None:
        n = self.durations_s.shape[0]
        if self.durations_s.shape != (n, n) or self.distances_m.shape != (n, n):
            raise ValueError("a travel matrix must be square, durations and distances alike")


class MatrixProvider(Protocol):
    def matrix(self, points: Sequence[LatLon]) -> TravelMatrix: ...


def great_circle_m(points: Sequence[LatLon]) -> FloatArray:
    """Haversine distances in metres between every pair of ``points``."""
    lat = np.radians(np.array([p.lat for p in points], dtype=np.float64))
    lon = np.radians(np.array([p.lon for p in points], dtype=np.float64))
    dlat = lat[None, :] - lat[:, None]
    dlon = lon[None, :] - lon[:, None]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


class StraightLine:
    """Road distance ~ great-circle distance x ``detour_factor``, driven at ``speed_kmh``."""

    def __init__(self, *, detour_factor: float = 1.35, speed_kmh: float = 22.0) -> None:
        if detour_factor < 1.0 or speed_kmh <= 0:
            raise ValueError("detour_factor must be >= 1 and speed_kmh > 0")
        self.detour_factor = detour_factor
        self.speed_kmh = speed_kmh

    def raw(self, points: Sequence[LatLon]) -> tuple[FloatArray, FloatArray]:
        """(seconds, metres) as floats."""
        metres = great_circle_m(points) * self.detour_factor
        return metres / (self.speed_kmh / 3.6), metres

    def matrix(self, points: Sequence[LatLon]) -> TravelMatrix:
        seconds, metres = self.raw(points)
        return TravelMatrix(_to_int(seconds), _to_int(metres), "straight")


class RoadSource(Protocol):
    """A road server's matrix as floats; ``nan`` where it found no route."""

    @property
    def name(self) -> str: ...

    def fetch(self, points: Sequence[LatLon]) -> tuple[FloatArray, FloatArray]: ...


@dataclass(frozen=True)
class MatrixStats:
    """Counters of one :class:`RoadMatrix` since it was made."""

    requests: int = 0
    fallbacks: int = 0
    patched_cells: int = 0
    last_error: str | None = None


class RoadMatrix:
    """A road server's matrix, or straight-line when it fails (logged and counted)."""

    def __init__(
        self, source: RoadSource, fallback: StraightLine, *, duration_factor: float = 1.0
    ) -> None:
        self.source = source
        self.fallback = fallback
        self.duration_factor = duration_factor
        self._lock = threading.Lock()
        self._stats = MatrixStats()

    def stats(self) -> MatrixStats:
        with self._lock:
            return self._stats

    def _count(self, *, fallback: bool = False, patched: int = 0, error: str | None = None) -> None:
        with self._lock:
            s = self._stats
            self._stats = MatrixStats(
                requests=s.requests + 1,
                fallbacks=s.fallbacks + int(fallback),
                patched_cells=s.patched_cells + patched,
                last_error=error if error is not None else s.last_error,
            )

    def matrix(self, points: Sequence[LatLon]) -> TravelMatrix:
        n = len(points)
        try:
            seconds, metres = self.source.fetch(points)
            if seconds.shape != (n, n) or metres.shape != (n, n):
                raise MatrixError(f"expected a {n}x{n} matrix, got {seconds.shape}")
        except MatrixError as exc:
            error = f"{self.source.name}: {exc}"
            log.warning("road matrix unavailable, using straight-line: %s", error)
            self._count(fallback=True, error=error)
            fs, fm = self.fallback.raw(points)
            return TravelMatrix(_to_int(fs), _to_int(fm), f"straight (fallback: {error})")
        seconds = seconds * self.duration_factor
        holes = ~(np.isfinite(seconds) & np.isfinite(metres))
        np.fill_diagonal(holes, False)
        patched = int(holes.sum())
        if patched:
            fs, fm = self.fallback.raw(points)
            seconds = np.where(holes, fs, seconds)
            metres = np.where(holes, fm, metres)
            log.warning(
                "%s found no route for %d of %d pairs; straight-line used for those",
                self.source.name,
                patched,
                n * (n - 1),
            )
        np.fill_diagonal(seconds, 0.0)
        np.fill_diagonal(metres, 0.0)
        self._count(patched=patched)
        return TravelMatrix(_to_int(seconds), _to_int(metres), self.source.name)


def _to_int(values: FloatArray) -> IntArray:
    out: IntArray = np.rint(np.clip(values, 0, 2**31 - 1)).astype(np.int64)
    return out


def matrix_provider(settings: RoutingSettings) -> StraightLine | RoadMatrix:
    """The provider the settings ask for (build it once per process and reuse it)."""
    straight = StraightLine(detour_factor=settings.detour_factor, speed_kmh=settings.speed_kmh)
    if settings.matrix == "straight":
        return straight
    from cloud.routing.road import OsrmTable, ValhallaMatrix

    assert settings.url is not None  # the settings validator requires it
    source: RoadSource
    if settings.matrix == "osrm":
        source = OsrmTable(
            base_url=settings.url,
            profile=settings.osrm_profile,
            timeout_s=settings.timeout_s,
            max_locations=settings.max_locations,
        )
    else:
        source = ValhallaMatrix(
            base_url=settings.url,
            costing=settings.valhalla_costing,
            timeout_s=settings.timeout_s,
            max_locations=settings.max_locations,
        )
    return RoadMatrix(source, straight, duration_factor=settings.duration_factor)
