"""Road servers' matrix APIs: OSRM ``/table/v1`` and Valhalla ``/sources_to_targets``.

Both split a large matrix into blocks so no request carries more than
``max_locations`` coordinates (OSRM refuses tables above its ``--max-table-size``,
100 by default), and share one deadline: the whole matrix arrives within
``timeout_s`` or :class:`~cloud.routing.matrix.MatrixError` is raised (the caller,
:class:`~cloud.routing.matrix.RoadMatrix`, then falls back to straight-line).
A pair the server cannot route comes back as ``nan``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import numpy as np

from cloud.routing.matrix import FloatArray, MatrixError
from cloud.routing.model import LatLon

Block = tuple[list[int], list[int]]


def _blocks(n: int, max_locations: int) -> Iterator[Block]:
    """(sources, destinations) index lists covering the n x n matrix."""
    if n <= max_locations:
        everything = list(range(n))
        yield everything, everything
        return
    size = max(1, max_locations // 2)
    chunks = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
    for a in chunks:
        for b in chunks:
            yield a, b


def _number(value: Any, scale: float = 1.0) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MatrixError(f"not a number in the matrix: {value!r}")
    return float(value) * scale


class _HttpMatrix:
    name = "road"

    def __init__(self, base_url: str, *, timeout_s: float, max_locations: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_locations = max_locations

    def fetch(self, points: Sequence[LatLon]) -> tuple[FloatArray, FloatArray]:
        n = len(points)
        seconds = np.full((n, n), np.nan)
        metres = np.full((n, n), np.nan)
        try:
            with httpx.Client() as client:
                deadline = time.monotonic() + self.timeout_s
                for src, dst in _blocks(n, self.max_locations):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise MatrixError(f"no complete matrix within {self.timeout_s:g} s")
                    s, m = self._block(client, points, src, dst, left)
                    seconds[np.ix_(src, dst)] = s
                    metres[np.ix_(src, dst)] = m
        except httpx.TimeoutException:
            raise MatrixError(f"no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPStatusError as exc:
            raise MatrixError(f"HTTP {exc.response.status_code} from {self.base_url}") from None
        except httpx.HTTPError as exc:
            raise MatrixError(f"{type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise MatrixError(f"unexpected answer: {type(exc).__name__}: {exc}") from None
        return seconds, metres

    def _block(
        self,
        client: httpx.Client,
        points: Sequence[LatLon],
        src: list[int],
        dst: list[int],
        timeout_s: float,
    ) -> tuple[list[list[float]], list[list[float]]]:
        raise NotImplementedError


class OsrmTable(_HttpMatrix):
    """``GET {url}/table/v1/{profile}/{lon,lat;...}?annotations=duration,distance``."""

    name = "osrm"

    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        timeout_s: float = 5.0,
        max_locations: int = 100,
    ) -> None:
        super().__init__(base_url, timeout_s=timeout_s, max_locations=max_locations)
        self.profile = profile

    def _block(
        self,
        client: httpx.Client,
        points: Sequence[LatLon],
        src: list[int],
        dst: list[int],
        timeout_s: float,
    ) -> tuple[list[list[float]], list[list[float]]]:
        params = {"annotations": "duration,distance"}
        if src is dst:
            coords = [points[i] for i in src]
        else:
            coords = [points[i] for i in src] + [points[j] for j in dst]
            params["sources"] = ";".join(str(k) for k in range(len(src)))
            params["destinations"] = ";".join(str(len(src) + k) for k in range(len(dst)))
        path = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in coords)
        r = client.get(
            f"{self.base_url}/table/v1/{self.profile}/{path}", params=params, timeout=timeout_s
        )
        r.raise_for_status()
        body = r.json()
        if body.get("code") != "Ok":
            raise MatrixError(f"OSRM said {body.get('code')!r}: {body.get('message', '')}")
        durations, distances = body["durations"], body["distances"]
        if len(durations) != len(src) or any(len(row) != len(dst) for row in durations):
            raise MatrixError("OSRM durations have the wrong shape")
        if len(distances) != len(src) or any(len(row) != len(dst) for row in distances):
            raise MatrixError("OSRM distances have the wrong shape")
        return (
            [[_number(v) for v in row] for row in durations],
            [[_number(v) for v in row] for row in distances],
        )


class ValhallaMatrix(_HttpMatrix):
    """``POST {url}/sources_to_targets`` with a costing (``motorcycle`` by default)."""

    name = "valhalla"

    def __init__(
        self,
        base_url: str,
        *,
        costing: str = "motorcycle",
        timeout_s: float = 5.0,
        max_locations: int = 100,
    ) -> None:
        super().__init__(base_url, timeout_s=timeout_s, max_locations=max_locations)
        self.costing = costing

    def _block(
        self,
        client: httpx.Client,
        points: Sequence[LatLon],
        src: list[int],
        dst: list[int],
        timeout_s: float,
    ) -> tuple[list[list[float]], list[list[float]]]:
        request = {
            "sources": [{"lat": points[i].lat, "lon": points[i].lon} for i in src],
            "targets": [{"lat": points[j].lat, "lon": points[j].lon} for j in dst],
            "costing": self.costing,
            "units": "kilometers",
        }
        r = client.post(
            f"{self.base_url}/sources_to_targets",
            content=json.dumps(request),
            headers={"Content-Type": "application/json"},
            timeout=timeout_s,
        )
        r.raise_for_status()
        rows = r.json()["sources_to_targets"]
        if isinstance(rows, dict):  # verbose=false: {"durations": [[...]], "distances": ...}
            times, kms = rows["durations"], rows["distances"]
        else:
            times = [[cell["time"] for cell in row] for row in rows]
            kms = [[cell["distance"] for cell in row] for row in rows]
        if len(times) != len(src) or any(len(row) != len(dst) for row in times):
            raise MatrixError("Valhalla matrix has the wrong shape")
        return (
            [[_number(v) for v in row] for row in times],
            [[_number(v, 1000.0) for v in row] for row in kms],
        )
