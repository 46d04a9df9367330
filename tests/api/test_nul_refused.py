"""A NUL (U+0000) anywhere in a request is a 422 naming the field, never a 500 (PostgreSQL
cannot store one): a household's own note, a household's name, a note in a model of a
route's own (not the shared request base), a query string and a path parameter; on
SQLite and PostgreSQL. The same requests without the NUL succeed (so the 422 is the NUL's).

mutant: refuse_nul not among create_app's dependencies -> PostgreSQL answers 500 for the
        note (SQLite 201) -> fails.
mutant: the body walk dropped from refuse_nul -> the notes and the name pass -> fails.
mutant: the query check dropped -> ?q= with a NUL answers 200 -> fails.
mutant: nul_paths skips lists -> the NUL in categories[1] is not named -> fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.support import ApiServer, World, household_login, login, serve, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def any_api(
    seeded_ledger_url: tuple[str, World], tmp_path: Path
) -> Iterator[tuple[ApiServer, World]]:
    url, world = seeded_ledger_url
    with serve(settings_for(url, tmp_path)) as server:
        yield server, world


def refused(r: httpx.Response, *fields: str) -> None:
    assert r.status_code == 422, (r.request.url, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    named = {e["field"] for e in r.json()["errors"]}
    assert named == set(fields), r.json()
    assert all("NUL" in e["message"] for e in r.json()["errors"]), r.json()


def test_nul_is_refused_with_422_naming_the_field(any_api: tuple[ApiServer, World]) -> None:
    api, world = any_api
    hh = world.ids["household-b"]  # household A has a pickup open already
    with api.client() as anon:
        home = household_login(anon, "M-B", world.pins["M-B"])
        admin = login(anon, "admin")
    with api.client(home) as c:
        pickup: dict[str, Any] = {"categories": ["plastic-pet"], "address": "Jl. Melati 1"}
        r = c.post(f"/api/v1/households/{hh}/pickups", json={**pickup, "note": "2 karung\x00"})
        refused(r, "body.note")
        r = c.post(
            f"/api/v1/households/{hh}/pickups",
            json={**pickup, "categories": ["plastic-pet", "\x00"]},
        )
        refused(r, "body.categories.1")
        r = c.post(f"/api/v1/households/{hh}/pickups", json={**pickup, "note": "2 karung"})
        assert r.status_code == 201, r.text
    with api.client(admin) as c:
        r = c.patch(f"/api/v1/households/{hh}", json={"name": "Bu\x00Siti", "address": "\x00"})
        refused(r, "body.name", "body.address")
        # a model of the route's own (not the shared request base)
        change = {"category": "plastic-pet", "rp_per_kg": 3_100, "note": "naik\x00"}
        refused(c.post("/api/v1/price-changes", json=change), "body.note")
        r = c.get("/api/v1/households", params={"q": "HH\x00"})
        refused(r, "query.q")
        assert c.get("/api/v1/households", params={"q": "HH"}).status_code == 200
        refused(c.get("/api/v1/public/verify/7K3Q%00X9M2"), "path.code")
