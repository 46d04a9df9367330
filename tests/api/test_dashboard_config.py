"""What the dashboard reads besides the data: the map's tile server, category colours,
and stations' coordinates.

mutant: default colour by position in the list instead of by code -> test_category_colours fails
mutant: a created category's colour not stored -> test_category_colours fails
mutant: ui-config ignores [api.map] tiles_url -> test_ui_config_exposes_the_tile_server fails
mutant: provisioning drops lat/lon -> test_a_station_is_provisioned_at_its_coordinates fails
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.api.settings import MapSettings
from tests.api.support import ApiServer, login, serve, settings_for

pytestmark = pytest.mark.integration


def test_ui_config_without_tiles_is_points_only(api: ApiServer) -> None:
    with api.client() as c:
        assert c.get("/api/v1/ui-config").status_code == 401
        c.headers["Authorization"] = f"Bearer {login(c, 'operator')}"
        cfg = c.get("/api/v1/ui-config").json()
    assert cfg["timezone"] == "Asia/Jakarta"
    assert cfg["map"]["tiles_url"] is None
    assert cfg["map"]["center"] == [-7.42, 109.23]


def test_ui_config_exposes_the_tile_server(sqlite_url: str, world: object, tmp_path: Path) -> None:
    template = "http://tiles.bank.local/{z}/{x}/{y}.png"
    settings = settings_for(
        sqlite_url, tmp_path, map={"tiles_url": template, "attribution": "© OSM", "max_zoom": 17}
    )
    with serve(settings) as server, server.client() as c:
        c.headers["Authorization"] = f"Bearer {login(c, 'operator')}"
        cfg = c.get("/api/v1/ui-config").json()["map"]
    assert (cfg["tiles_url"], cfg["attribution"], cfg["max_zoom"]) == (template, "© OSM", 17)


@pytest.mark.parametrize(
    "bad", ["ftp://x/{z}/{x}/{y}", "http://tiles.local/{z}/{x}.png", "javascript:{z}{x}{y}"]
)
def test_a_tile_url_must_be_an_http_template(bad: str) -> None:
    with pytest.raises(ValidationError):
        MapSettings(tiles_url=bad)


def test_category_colours_are_fixed_by_code_or_set(api: ApiServer) -> None:
    with api.client() as c:
        c.headers["Authorization"] = f"Bearer {login(c, 'admin')}"
        # created in an order that would shift a palette handed out by position
        for code in ("aaa-first", "zzz-last"):
            r = c.post("/api/v1/categories", json={"code": code, "name_id": code, "name_en": code})
            assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/categories",
            json={"code": "glass", "name_id": "Kaca", "name_en": "Glass", "colour": "#ABCDEF"},
        )
        assert r.status_code == 201, r.text
        bad = {"code": "badc", "name_id": "x", "name_en": "x", "colour": "red"}
        assert c.post("/api/v1/categories", json=bad).status_code == 422
        colours = {cat["code"]: cat["colour"] for cat in c.get("/api/v1/categories").json()}
    assert colours["plastic-pet"] == "#0072b2"  # a known code keeps its colour
    assert colours["glass"] == "#abcdef"  # the record's own colour wins
    from cloud.api.routes.categories import default_colour

    for code in ("aaa-first", "zzz-last"):
        assert colours[code] == default_colour(code)
    assert default_colour("zzz-last") == default_colour("zzz-last")


def test_a_station_is_provisioned_at_its_coordinates(api: ApiServer) -> None:
    with api.client() as c:
        c.headers["Authorization"] = f"Bearer {login(c, 'admin')}"
        body = {"device_id": "st-sokaraja", "kind": "station", "lat": -7.458, "lon": 109.2865}
        assert c.post("/api/v1/devices", json=body).status_code == 201
        dev = c.get("/api/v1/devices/st-sokaraja").json()
        assert (dev["lat"], dev["lon"]) == (-7.458, 109.2865)
        off_earth = {"device_id": "st-moon", "kind": "station", "lat": 91, "lon": 0}
        assert c.post("/api/v1/devices", json=off_earth).status_code == 422
