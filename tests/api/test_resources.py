"""Resource flows end to end: prices with history, cards, pickups, CSV reports, the
dashboard's static files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulators.phone import Phone
from tests.api.support import ApiServer, World, household_login, login, serve, settings_for

pytestmark = pytest.mark.integration


def test_prices_are_versioned_with_history(api: ApiServer) -> None:
    """A price is proposed by one person and in force once a second one approves it."""
    with api.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    with api.client(op) as c, api.client(admin) as second:
        prices = "/api/v1/categories/plastic-pet/prices"
        for body in ({"rp_per_kg": 3_500}, {"rp_per_kg": 4_000, "effective_from": later}):
            r = c.post(prices, json=body)
            assert r.status_code == 201
            assert r.json()["status"] == "pending"
            # an operator proposes, never approves (test_admin_domain: not the proposer)
            assert c.post(f"/api/v1/price-changes/{r.json()['id']}/approve").status_code == 403
            assert second.post(f"/api/v1/price-changes/{r.json()['id']}/approve").status_code == 200
        cats = {x["code"]: x for x in c.get("/api/v1/categories").json()}
        assert cats["plastic-pet"]["rp_per_kg"] == 3_500  # the future price is not yet in force
        history = c.get("/api/v1/categories/plastic-pet/prices").json()
        assert [p["rp_per_kg"] for p in history] == [4_000, 3_500, 3_000]
        naive = c.post(
            "/api/v1/categories/plastic-pet/prices",
            json={"rp_per_kg": 1, "effective_from": "2026-12-01T00:00:00"},
        )
        assert naive.status_code == 422
        assert naive.json()["errors"][0]["field"] == "body.effective_from"


def test_cards_link_unlink_and_move(api: ApiServer, world: World) -> None:
    a, b = world.ids["household-a"], world.ids["household-b"]
    with api.client() as c:
        op = login(c, "operator")
    with api.client(op) as c:
        assert (
            c.post(f"/api/v1/households/{b}/cards", json={"card_id": "CARD-A"}).status_code == 201
        )
        assert c.get(f"/api/v1/households/{a}").json()["cards"] == []  # moved, not duplicated
        assert c.get(f"/api/v1/households/{b}").json()["cards"] == ["CARD-B", "CARD-A"]
        assert c.delete(f"/api/v1/households/{b}/cards/CARD-A").status_code == 204
        assert c.delete(f"/api/v1/households/{b}/cards/CARD-A").status_code == 404
        history = c.get(f"/api/v1/households/{a}/cards").json()
        assert history[0]["active"] is False
        assert history[0]["unlinked_by"] == "user:operator"


def test_household_requests_a_pickup_and_its_collector_completes_it(
    api: ApiServer, world: World
) -> None:
    a = world.ids["household-a"]
    with api.client() as c:
        hh = household_login(c, "M-A", world.pins["M-A"])
        op = login(c, "operator")
        col_a, col_b = login(c, "collector-a"), login(c, "collector-b")
    with api.client(op) as c:  # the seeded request is cancelled: one open request at a time
        pid0 = world.ids["household-pickup-a"]
        assert (
            c.post(f"/api/v1/pickups/{pid0}/cancel", json={"reason": "asked twice"}).status_code
            == 200
        )
    with api.client(hh) as c:
        r = c.post(
            f"/api/v1/households/{a}/pickups", json={"category": "plastic-pet", "note": "2 karung"}
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert r.json()["kind"] == "household"
        assert r.json()["address"] == "Jl. Mawar 3"  # the household's, from its first request
    with api.client(op) as c:
        board = c.get("/api/v1/pickups", params={"status": ["open"]}).json()
        assert pid in {p["id"] for p in board}
        to_b = {"collector_id": world.ids["collector-b"]}
        assert c.post(f"/api/v1/pickups/{pid}/assign", json=to_b).status_code == 200
        not_a_collector = c.post(
            f"/api/v1/pickups/{pid}/assign", json={"collector_id": world.ids["operator"]}
        )
        assert not_a_collector.status_code == 422
    body = Phone().completion([("plastic-pet", 4_250)])
    with api.client(col_a) as c:  # not hers
        assert c.post(f"/api/v1/pickups/{pid}/doorstep", json=body).status_code == 404
    with api.client(col_b) as c:
        mine = c.get(f"/api/v1/collectors/{world.ids['collector-b']}/pickups").json()
        assert [p["id"] for p in mine] == [pid]
        # where to go: the household's details travel with the pickup
        assert (mine[0]["member_no"], mine[0]["household_name"]) == ("M-A", "HH a")
        # weighed, not just marked done: a household's pickup pays the household
        assert c.post(f"/api/v1/pickups/{pid}/complete", json={"collected_g": 1}).status_code == 409
        done = c.post(f"/api/v1/pickups/{pid}/doorstep", json=body)
        assert done.status_code == 201, done.text
        assert (done.json()["total_g"], done.json()["total_rp"]) == (4_250, 12_750)
        assert c.get(f"/api/v1/pickups/{pid}").json()["status"] == "done"
    with api.client(hh) as c:
        mine = c.get(f"/api/v1/households/{a}/pickups").json()
        assert {p["id"]: p["status"] for p in mine}[pid] == "done"


def test_csv_reports_per_local_day(api: ApiServer, world: World) -> None:
    with api.client() as c:
        op = login(c, "operator")
    today = datetime.now(UTC).astimezone(api.app.state.api.settings.zone).date()
    span = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    with api.client(op) as c:
        r = c.get("/api/v1/reports/payouts.csv", params=span)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [(x["member_no"], x["amount_rp"], x["status"]) for x in rows] == [
            ("M-A", "1000", "requested")
        ]
        bad = c.get(
            "/api/v1/reports/payouts.csv", params={"from": "2026-02-01", "to": "2026-01-01"}
        )
        assert bad.status_code == 422
        r = c.get("/api/v1/reports/weighins.csv", params={"from": "2026-10-31", "to": "2026-11-02"})
        rows = list(csv.DictReader(io.StringIO(r.text)))
        # the seeded weigh-ins' device time is 2026-11-01 03:00 UTC = 10:00 in Jakarta
        assert {x["local_day"] for x in rows} == {"2026-11-01"}
        assert sum(int(x["amount_rp"]) for x in rows if x["status"] == "credited") == 11_250


def test_the_dashboard_is_served_at_the_root_when_present(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>Salinmas</title>")
    with (
        serve(settings_for(sqlite_url, tmp_path, static_dir=str(static))) as api,
        api.client() as c,
    ):
        assert "Salinmas" in c.get("/").text
        assert c.get("/api/v1/health").json()["status"] == "ok"
