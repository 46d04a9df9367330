"""Security headers on every kind of response the API sends (cloud/api/headers.py).

One API (SQLite, a tile server configured) and one look at each kind of response: API
JSON, problem+json (401, 404, 422), an unhandled 500, the admission gate's 503, a CSV,
the SSE stream, the dashboard's pages and files, /docs and /redoc. Each carries the
CSP (scripts from 'self' only, images also from the tile server and nowhere else, no
framing), X-Frame-Options, nosniff and Referrer-Policy; every /api/ response but the
public QR code is ``no-store``; the dashboard's files may be cached.

mutant: SecurityHeaders not added in create_app -> every check fails.
mutant: SecurityHeaders added inside AdmissionMiddleware (before it) -> the 503 has none -> fails.
mutant: a route's own Cache-Control kept outside /public/ -> its max-age survives ->
        test_own_cache_outside_public_is_overridden fails.
mutant: no-store on every path (the /api/ check dropped) -> the static file check fails.
mutant: img-src without the tile server -> fails; script-src with 'unsafe-inline' -> fails.
mutant: the unhandled-exception answer dropped (bare 500 from Starlette) -> the 500 check fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import Response
from fastapi.routing import APIRoute

from cloud.api.headers import content_security_policy, tile_source
from tests.api.support import (
    ApiServer,
    World,
    household_login,
    login,
    serve,
    settings_for,
    stream_ticket,
)

pytestmark = pytest.mark.integration

TILES = "https://{s}.tiles.bank.example/{z}/{x}/{y}.png"


def _boom() -> Response:
    raise RuntimeError("a bug no handler knows")


def _own_cache() -> Response:
    return Response("{}", media_type="application/json", headers={"Cache-Control": "max-age=60"})


@pytest.fixture
def tiled_api(sqlite_url: str, world_sqlite: World, tmp_path: Path) -> Iterator[ApiServer]:
    settings = settings_for(sqlite_url, tmp_path, map={"tiles_url": TILES})
    with serve(settings) as server:
        # two routes a bug or a careless route would make (ahead of the dashboard's mount)
        server.app.router.routes[0:0] = [
            APIRoute("/api/v1/test-boom", _boom),
            APIRoute("/api/v1/test-own-cache", _own_cache),
        ]
        yield server


def assert_secured(r: httpx.Response, *, api: bool = True) -> None:
    what = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    csp = r.headers.get("content-security-policy", "")
    policy = {d.split()[0]: d.split()[1:] for d in csp.split("; ") if d}
    assert policy.get("script-src") == ["'self'"], (what, csp)
    assert policy.get("frame-ancestors") == ["'none'"], (what, csp)
    assert policy.get("img-src") == ["'self'", "data:", "https://*.tiles.bank.example"], what
    assert policy.get("default-src") == ["'self'"], (what, csp)
    others = [s for d, srcs in policy.items() if d != "img-src" for s in srcs if "//" in s]
    assert others == [], (what, csp)  # no CDN, nowhere
    assert r.headers.get("x-frame-options") == "DENY", what
    assert r.headers.get("x-content-type-options") == "nosniff", what
    assert r.headers.get("referrer-policy") == "strict-origin", what
    if api:
        assert r.headers.get("cache-control") == "no-store", what


def test_every_kind_of_response_is_secured(tiled_api: ApiServer, world_sqlite: World) -> None:
    with tiled_api.client() as anon:
        admin = login(anon, "admin")
        home = household_login(anon, "M-A", world_sqlite.pins["M-A"])
        hh = world_sqlite.ids["household-a"]
        with tiled_api.client(admin) as c:
            assert_secured(c.get("/api/v1/health"))
            r = c.get(f"/api/v1/households/{hh}/balance")
            assert r.status_code == 200
            assert_secured(r)
            today = date.today().isoformat()
            r = c.get("/api/v1/reports/weighins.csv", params={"from": today, "to": today})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert_secured(r)
            r = c.post("/api/v1/households", json={"name": 7})
            assert r.status_code == 422
            assert_secured(r)
            r = c.get("/api/v1/no-such-route")
            assert r.status_code == 404
            assert_secured(r)
        with tiled_api.client(home) as c:
            assert_secured(c.get(f"/api/v1/households/{hh}/balance"))
        r = anon.get(f"/api/v1/households/{hh}/balance")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert_secured(r)
        r = anon.post("/api/v1/auth/login", json={"username": "admin", "password": "x" * 12})
        assert_secured(r)
        r = anon.get("/api/v1/test-boom")
        assert r.status_code == 500
        assert r.json()["status"] == 500
        assert_secured(r)
        for page in ("/", "/household.html", "/collector.html", "/docs", "/redoc"):
            r = anon.get(page)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/html")
            assert_secured(r, api=False)
        r = anon.get("/vendor/leaflet/leaflet.js")
        assert r.status_code == 200
        assert_secured(r, api=False)
        assert r.headers.get("cache-control") != "no-store"  # the dashboard's files may be cached
        r = anon.get("/api/v1/public/verify/7K3Q-X9M2-PA4T/qr.svg")
        assert r.status_code == 200
        assert_secured(r, api=False)
        assert r.headers["cache-control"] == "max-age=86400"  # public, no personal data
        ticket = stream_ticket(anon, admin)
        with anon.stream("GET", "/api/v1/stream", params={"ticket": ticket}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event")
            assert_secured(r)


def test_own_cache_outside_public_is_overridden(tiled_api: ApiServer) -> None:
    with tiled_api.client() as c:
        assert_secured(c.get("/api/v1/test-own-cache"))


def test_the_gates_503_is_secured(tiled_api: ApiServer, world_sqlite: World) -> None:
    gate = tiled_api.app.state.api.gate
    with tiled_api.client() as c:
        token = login(c, "admin")
        held, wait_s = 0, gate.wait_s
        gate.wait_s = 0  # no queue: a request finding no free slot is refused at once
        try:
            while gate.in_use < gate.slots:  # hold every slot (no request is in flight)
                assert asyncio.run(gate.acquire())
                held += 1
            r = c.get("/api/v1/households", headers={"Authorization": f"Bearer {token}"})
        finally:
            gate.wait_s = wait_s
            for _ in range(held):
                gate.release()
        assert r.status_code == 503
        assert_secured(r)


def test_tile_sources() -> None:
    assert tile_source(None) is None
    assert tile_source("/tiles/{z}/{x}/{y}.png") is None  # the API's own origin: 'self'
    assert tile_source("http://tiles.bank.local:8080/{z}/{x}/{y}.png") == (
        "http://tiles.bank.local:8080"
    )
    assert tile_source(TILES) == "https://*.tiles.bank.example"
    assert "img-src 'self' data:;" in content_security_policy(None)
