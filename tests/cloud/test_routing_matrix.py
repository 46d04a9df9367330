"""Travel-time matrices: straight-line, and OSRM / Valhalla over real HTTP.

The road servers are a tiny fake on 127.0.0.1 started by the test (http.server in a
thread): real sockets, real timeouts, no mock objects. Its travel times follow a rule
of its own (not the straight-line one) so the test sees which source answered and
that every block of a split matrix landed in the right cells.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from cloud.routing import LatLon, RoadMatrix, RoutingSettings, StraightLine, matrix_provider
from cloud.routing.road import OsrmTable, ValhallaMatrix

#: the fake server finds no road to or from this latitude
NOWHERE_LAT = -7.5


def fake_seconds(a: LatLon, b: LatLon) -> float:
    """The fake road network: Manhattan degrees, 1 degree = 5,000 s (not straight-line)."""
    return 0.0 if a == b else 30.0 + 5000.0 * (abs(a.lat - b.lat) + abs(a.lon - b.lon))


def fake_metres(a: LatLon, b: LatLon) -> float:
    return 7.0 * fake_seconds(a, b)


def routable(a: LatLon, b: LatLon) -> bool:
    return a == b or NOWHERE_LAT not in (a.lat, b.lat)


@dataclass
class FakeRoads:
    url: str
    mode: str = "ok"  # ok | compact (Valhalla) | hang | error | garbage | shape
    requests: list[int] = field(default_factory=list)  # coordinates per request
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    roads: FakeRoads

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _gate(self) -> bool:
        roads = self.roads
        if roads.mode == "hang":
            roads.release.wait(10)  # released by the fixture's teardown
            return False
        if roads.mode == "error":
            self._reply(500, {"message": "boom"})
            return False
        if roads.mode == "garbage":
            data = b"<html>502 Bad Gateway</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return False
        if roads.mode == "shape":
            self._reply(200, {"code": "Ok", "durations": [[1]], "distances": [[1]]})
            return False
        return roads.mode in ("ok", "compact")

    def do_GET(self) -> None:
        if not self._gate():
            return
        url = urlsplit(self.path)
        prefix = "/table/v1/driving/"
        assert url.path.startswith(prefix), url.path
        coords = [
            LatLon(float(lat), float(lon))
            for lon, lat in (c.split(",") for c in url.path[len(prefix) :].split(";"))
        ]
        self.roads.requests.append(len(coords))
        q = parse_qs(url.query)
        assert q["annotations"] == ["duration,distance"]
        everyone = ";".join(str(i) for i in range(len(coords)))
        src = [coords[int(i)] for i in q.get("sources", [everyone])[0].split(";")]
        dst = [coords[int(i)] for i in q.get("destinations", [everyone])[0].split(";")]

        def cell(f: Any, a: LatLon, b: LatLon) -> float | None:
            return f(a, b) if routable(a, b) else None

        self._reply(
            200,
            {
                "code": "Ok",
                "durations": [[cell(fake_seconds, a, b) for b in dst] for a in src],
                "distances": [[cell(fake_metres, a, b) for b in dst] for a in src],
            },
        )

    def do_POST(self) -> None:
        if not self._gate():
            return
        assert self.path == "/sources_to_targets"
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["costing"] == "motorcycle"
        src = [LatLon(p["lat"], p["lon"]) for p in body["sources"]]
        dst = [LatLon(p["lat"], p["lon"]) for p in body["targets"]]
        self.roads.requests.append(len(src) + len(dst))
        rows = [
            [
                {
                    "from_index": i,
                    "to_index": j,
                    "time": fake_seconds(a, b) if routable(a, b) else None,
                    "distance": fake_metres(a, b) / 1000 if routable(a, b) else None,
                }
                for j, b in enumerate(dst)
            ]
            for i, a in enumerate(src)
        ]
        if self.roads.mode == "compact":
            compact = {
                "durations": [[c["time"] for c in row] for row in rows],
                "distances": [[c["distance"] for c in row] for row in rows],
            }
            self._reply(200, {"sources_to_targets": compact})
        else:
            self._reply(200, {"sources_to_targets": rows})


@pytest.fixture
def roads() -> Iterator[FakeRoads]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = FakeRoads(url=f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.roads = state
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def grid(n: int) -> list[LatLon]:
    return [LatLon(-7.40 - 0.003 * (i % 7), 109.20 + 0.004 * (i // 7)) for i in range(n)]


def expected(points: list[LatLon]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    s = np.array([[fake_seconds(a, b) for b in points] for a in points])
    m = np.array([[fake_metres(a, b) for b in points] for a in points])
    return np.rint(s), np.rint(m)


# ----------------------------------------------------------------------------- tests


def test_straight_line_is_haversine_times_detour_at_speed() -> None:
    """One arc-minute of latitude is 1,853.2 m on the mean sphere.

    mutant: drop the detour factor -> fails; mutant: speed taken as m/s -> fails;
    mutant: lat/lon swapped in the haversine -> fails (the east-west leg shrinks).
    """
    a, b, c = LatLon(-7.0, 109.0), LatLon(-7.0 + 1 / 60, 109.0), LatLon(-7.0, 109.0 + 1 / 60)
    m = StraightLine(detour_factor=1.5, speed_kmh=18.0).matrix([a, b, c])
    assert m.source == "straight"
    assert m.distances_m[0, 1] == m.distances_m[1, 0] == round(1853.2 * 1.5)
    assert m.durations_s[0, 1] == round(1853.2 * 1.5 / 5.0)  # 18 km/h = 5 m/s
    # east-west: shorter by cos(latitude)
    assert m.distances_m[0, 2] == pytest.approx(1853.2 * 1.5 * np.cos(np.radians(7.0)), abs=2)
    assert m.durations_s[0, 0] == 0


@pytest.mark.parametrize("kind", ["osrm", "valhalla"])
def test_road_matrix_is_assembled_from_blocks(roads: FakeRoads, kind: str) -> None:
    """A 23-point matrix asked in blocks of <= 8 coordinates comes back cell for cell.

    mutant: blocks written at [dst, src] instead of [src, dst] -> fails;
    mutant: block size = max_locations (requests of 16 coords) -> fails (size check);
    mutant: OSRM sources/destinations offsets off by one -> fails.
    """
    points = grid(23)
    settings = RoutingSettings(matrix=kind, url=roads.url, max_locations=8)  # type: ignore[arg-type]
    provider = matrix_provider(settings)
    assert isinstance(provider, RoadMatrix)
    got = provider.matrix(points)
    want_s, want_m = expected(points)
    assert got.source == kind
    np.testing.assert_array_equal(got.durations_s, want_s)
    np.testing.assert_array_equal(got.distances_m, want_m)
    assert max(roads.requests) <= 8
    assert len(roads.requests) == 36  # 6 blocks of <= 4 points, squared
    assert provider.stats().fallbacks == 0


def test_small_matrix_is_one_request(roads: FakeRoads) -> None:
    points = grid(5)
    got = OsrmTable(base_url=roads.url, timeout_s=5).fetch(points)
    assert roads.requests == [5]
    np.testing.assert_array_equal(np.rint(got[0]), expected(points)[0])


@pytest.mark.parametrize("kind", ["osrm", "valhalla"])
def test_unroutable_pairs_get_straight_line_and_are_counted(roads: FakeRoads, kind: str) -> None:
    """mutant: no patching of null cells -> fails (garbage or an error)."""
    points = [*grid(3), LatLon(NOWHERE_LAT, 109.21)]
    settings = RoutingSettings(matrix=kind, url=roads.url)  # type: ignore[arg-type]
    provider = matrix_provider(settings)
    assert isinstance(provider, RoadMatrix)
    got = provider.matrix(points)
    straight = StraightLine(detour_factor=settings.detour_factor, speed_kmh=settings.speed_kmh)
    line = straight.matrix(points)
    want_s, _ = expected(points)
    assert got.source == kind
    for i in range(4):
        for j in range(4):
            cell = got.durations_s[i, j]
            if i == j:
                assert cell == 0
            elif 3 in (i, j):
                assert cell == line.durations_s[i, j]
            else:
                assert cell == want_s[i, j]
    assert provider.stats().patched_cells == 6
    assert provider.stats().fallbacks == 0


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("hang", "no answer within 0.3 s"),
        ("error", "HTTP 500"),
        ("garbage", "unexpected answer"),
        ("shape", "wrong shape"),
    ],
)
def test_server_failure_falls_back_to_straight_line(
    roads: FakeRoads, mode: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that hangs, fails or talks nonsense: straight-line, logged and counted.

    mutant: no timeout on the request -> fails (the fake answers nothing for 10 s,
    then the source is not a fallback); mutant: fallback not counted -> fails;
    mutant: exception not caught in RoadMatrix -> fails.
    """
    roads.mode = mode
    points = grid(4)
    timeout_s = 0.3 if mode == "hang" else 10.0
    settings = RoutingSettings(matrix="osrm", url=roads.url, timeout_s=timeout_s)
    provider = matrix_provider(settings)
    assert isinstance(provider, RoadMatrix)
    with caplog.at_level(logging.WARNING, logger="cloud.routing.matrix"):
        got = provider.matrix(points)
        again = provider.matrix(points)
    assert got.source.startswith("straight (fallback: osrm: ")
    assert why in got.source
    line = StraightLine(detour_factor=settings.detour_factor, speed_kmh=settings.speed_kmh)
    np.testing.assert_array_equal(got.durations_s, line.matrix(points).durations_s)
    np.testing.assert_array_equal(again.durations_s, got.durations_s)
    stats = provider.stats()
    assert (stats.requests, stats.fallbacks) == (2, 2)
    assert stats.last_error is not None
    assert why in stats.last_error
    assert sum("using straight-line" in r.getMessage() for r in caplog.records) == 2


def test_refused_connection_falls_back() -> None:
    """Nothing listens on the port at all."""
    from tests.support.services import free_port

    url = f"http://127.0.0.1:{free_port()}"
    provider = matrix_provider(RoutingSettings(matrix="valhalla", url=url, timeout_s=2))
    got = provider.matrix(grid(3))
    assert got.source.startswith("straight (fallback: valhalla: ConnectError")


def test_settings_refuse_a_server_without_url() -> None:
    with pytest.raises(ValueError, match="needs url"):
        RoutingSettings(matrix="osrm")
    with pytest.raises(ValueError, match="http"):
        RoutingSettings(matrix="osrm", url="osrm.local:5000")
    assert isinstance(matrix_provider(RoutingSettings()), StraightLine)
    by_size = RoutingSettings()
    assert [by_size.exploration_for(n) for n in (40, 100, 101, 250, 500)] == [5, 5, 3, 3, 0]
    assert RoutingSettings(exploration_level=2).exploration_for(40) == 2


def test_valhalla_compact_answer_is_read(roads: FakeRoads) -> None:
    """``verbose: false`` answers carry ``durations``/``distances`` arrays instead.

    mutant: compact distances not scaled from km to m -> fails.
    """
    roads.mode = "compact"
    points = grid(4)
    seconds, metres = ValhallaMatrix(base_url=roads.url, timeout_s=5).fetch(points)
    want_s, want_m = expected(points)
    np.testing.assert_array_equal(np.rint(seconds), want_s)
    np.testing.assert_array_equal(np.rint(metres), want_m)
