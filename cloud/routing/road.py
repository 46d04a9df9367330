"""Road servers' matrix APIs: OSRM ``/table/v1`` and Valhalla ``/sources_to_targets``.

Both split a large matrix into blocks so no request carries more than
``max_locations`` coordinates (OSRM refuses tables above its ``--max-table-size``,
100 by default), and share one deadline: the whole matrix arrives within
``timeout_s`` or :class:`~cloud.routing.matrix.MatrixError` is raised (the caller,
:class:`~cloud.routing.matrix.RoadMatrix`, then falls back to straight-line).
A pair the server cannot route comes back as ``nan``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import numpy as np

from cloud.routing.matrix import FloatArray, MatrixError
from cloud.routing.model import LatLon

Block = tuple[list[int], list[int]]
Rows = list[list[Any]]


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


def _number(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MatrixError(f"not a number in the matrix: {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class _HttpMatrix:
    """Blocks, the deadline and error mapping; subclasses send and read one block."""

    name: ClassVar[str] = "road"
    base_url: str
    timeout_s: float = 5.0
    max_locations: int = 100

    def fetch(self, points: Sequence[LatLon]) -> tuple[FloatArray, FloatArray]:
        n = len(points)
        seconds = np.full((n, n), np.nan)
        metres = np.full((n, n), np.nan)
        try:
            with httpx.Client(base_url=self.base_url.rstrip("/")) as client:
                deadline = time.monotonic() + self.timeout_s
                for src, dst in _blocks(n, self.max_locations):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise MatrixError(f"no complete matrix within {self.timeout_s:g} s")
                    a, b = [points[i] for i in src], [points[j] for j in dst]
                    r = self._send(client, a, b, src is dst, left)
                    r.raise_for_status()
                    s, m = self._read(r.json())
                    for what, rows in (("durations", s), ("distances", m)):
                        if len(rows) != len(src) or any(len(row) != len(dst) for row in rows):
                            raise MatrixError(f"{self.name} {what} have the wrong shape")
                    seconds[np.ix_(src, dst)] = [[_number(v) for v in row] for row in s]
                    metres[np.ix_(src, dst)] = [[_number(v) for v in row] for row in m]
        except httpx.TimeoutException:
            raise MatrixError(f"no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPStatusError as exc:
            raise MatrixError(f"HTTP {exc.response.status_code} from {self.base_url}") from None
        except httpx.HTTPError as exc:
            raise MatrixError(f"{type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise MatrixError(f"unexpected answer: {type(exc).__name__}: {exc}") from None
        return seconds, metres

    def _send(
        self, client: httpx.Client, src: list[LatLon], dst: list[LatLon], same: bool, t: float
    ) -> httpx.Response:
        """Ask for the ``src`` x ``dst`` block (``same``: they are one list)."""
        raise NotImplementedError

    def _read(self, body: Any) -> tuple[Rows, Rows]:
        """(seconds, metres) rows of the block from the decoded JSON answer."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class OsrmTable(_HttpMatrix):
    """``GET {url}/table/v1/{profile}/{lon,lat;...}?annotations=duration,distance``."""

    name: ClassVar[str] = "osrm"
    profile: str = "driving"

    def _send(
        self, client: httpx.Client, src: list[LatLon], dst: list[LatLon], same: bool, t: float
    ) -> httpx.Response:
        params = {"annotations": "duration,distance"}
        coords = src if same else src + dst
        if not same:
            params["sources"] = ";".join(str(k) for k in range(len(src)))
            params["destinations"] = ";".join(str(len(src) + k) for k in range(len(dst)))
        path = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in coords)
        return client.get(f"/table/v1/{self.profile}/{path}", params=params, timeout=t)

    def _read(self, body: Any) -> tuple[Rows, Rows]:
        if body.get("code") != "Ok":
            raise MatrixError(f"OSRM said {body.get('code')!r}: {body.get('message', '')}")
        return body["durations"], body["distances"]


@dataclass(frozen=True, kw_only=True)
class ValhallaMatrix(_HttpMatrix):
    """``POST {url}/sources_to_targets`` with a costing (``motorcycle`` by default)."""

    name: ClassVar[str] = "valhalla"
    costing: str = "motorcycle"

    def _send(
        self, client: httpx.Client, src: list[LatLon], dst: list[LatLon], same: bool, t: float
    ) -> httpx.Response:
        request = {
            "sources": [{"lat": p.lat, "lon": p.lon} for p in src],
            "targets": [{"lat": p.lat, "lon": p.lon} for p in dst],
            "costing": self.costing,
            "units": "kilometers",
        }
        return client.post("/sources_to_targets", json=request, timeout=t)

    def _read(self, body: Any) -> tuple[Rows, Rows]:
        rows = body["sources_to_targets"]
        if isinstance(rows, dict):  # verbose=false: {"durations": [[...]], "distances": ...}
            times, kms = rows["durations"], rows["distances"]
        else:
            times = [[cell["time"] for cell in row] for row in rows]
            kms = [[cell["distance"] for cell in row] for row in rows]
        return times, [[None if km is None else _number(km) * 1000.0 for km in row] for row in kms]
