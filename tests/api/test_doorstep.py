"""JEKNYONG end to end through the real API (uvicorn), on SQLite and PostgreSQL: a
household asks, the routes plan themselves, the collector's phone completes the pickup
with its weigh-ins, and the household's balance and statement change by exactly the
priced sum — once, however often the phone sends it — at the price in force when each
bag was weighed.

mutant: doorstep completion keeps collected_g only (no crediting) -> balance unchanged, fails
mutant: a doorstep weigh-in priced at its receive time (payee ignored) -> mixed at 2000, fails
mutant: no replay lookup of the completion's event id -> the second sending is refused 409, fails
mutant: replay lookup ignores the body digest -> the altered resend answers 200, fails
mutant: cash at the door not posted (cash_rp recorded only) -> the float stays, fails
mutant: settle_float without the difference entry -> the float is not back at Rp 0, fails
mutant: the phone not bound to its collector -> collector B's use of A's phone id passes, fails
mutant: back_at_depot ignoring delivered_g -> no doorstep stock movement, fails
mutant: undelivered_doorstep without the "not yet delivered" filter -> the second unloading
  carries the weigh-in again (deliver_to_depot refuses it: 409), fails
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cloud import postings
from cloud.db import make_engine, session_factory
from cloud.models import JournalEntry, WeighinRecord
from cloud.models.stock import DepotDeliveryWeighin, StockMovement
from simulators.phone import Phone
from tests.api.doorstep_support import DOOR_B, prepare
from tests.api.support import ApiServer, World, household_login, login, serve, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def door_api(
    seeded_ledger_url: tuple[str, World], tmp_path: Path
) -> Iterator[tuple[ApiServer, World, str]]:
    url, world = seeded_ledger_url
    prepare(url, world)
    with serve(settings_for(url, tmp_path)) as server:
        yield server, world, url


def tokens(api: ApiServer, world: World) -> dict[str, str]:
    with api.client() as c:
        return {
            "hh": household_login(c, "M-B", world.pins["M-B"]),
            "op": login(c, "operator"),
            "col": login(c, "collector-a"),
            "col_b": login(c, "collector-b"),
            "admin": login(c, "admin"),
        }


def new_price(api: ApiServer, t: dict[str, str], category: str, rp_per_kg: int) -> None:
    """A price in force from now: proposed by the operator, approved by the admin."""
    with api.client(t["op"]) as c:
        r = c.post(f"/api/v1/categories/{category}/prices", json={"rp_per_kg": rp_per_kg})
        assert r.status_code == 201, r.text
    with api.client(t["admin"]) as c:
        r = c.post(f"/api/v1/price-changes/{r.json()['id']}/approve")
        assert r.status_code == 200, r.text


def count(url: str, stmt: Any) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(stmt) or 0)
    finally:
        engine.dispose()


def request_pickup(c: httpx.Client, hh: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    r = c.post(
        f"/api/v1/households/{hh}/pickups",
        json={
            "categories": ["plastic-pet", "plastic-mixed"],
            "estimated_kg": 6,
            "window_start": now.isoformat(),
            "window_end": (now + timedelta(hours=3)).isoformat(),
            "lat": DOOR_B[0],
            "lon": DOOR_B[1],
            "note": "2 karung di teras",
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_request_route_complete_credits_the_priced_sum_once(
    door_api: tuple[ApiServer, World, str],
) -> None:
    api, world, url = door_api
    hh, site = world.ids["household-b"], world.ids["site"]
    t = tokens(api, world)
    with api.client(t["hh"]) as c:
        before = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
        lines_before = len(c.get(f"/api/v1/households/{hh}/statement").json()["lines"])
        pickup = request_pickup(c, hh)
        assert (pickup["estimated_g"], pickup["categories"]) == (
            6_000,
            ["plastic-pet", "plastic-mixed"],
        )
        small = c.post(
            f"/api/v1/households/{hh}/pickups",
            json={"categories": ["plastic-pet"], "estimated_kg": 1},
        )
        assert small.status_code == 422, small.text  # under the 2 kg minimum
    pid = pickup["id"]

    # the route: the operator sees collector A's route with the stop, the collector too
    with api.client(t["op"]) as c:
        routes = c.get(f"/api/v1/sites/{site}/routes").json()
        assert routes["problem"] is None, routes
        mine = [r for r in routes["routes"] if r["collector_id"] == world.ids["collector-a"]]
        assert [s["pickup_id"] for s in mine[0]["stops"]] == [pid]
    # the price of PET goes up after the request, before the collector weighs
    new_price(api, t, "plastic-pet", 3_500)
    with api.client(t["col"]) as c:
        day = c.get(f"/api/v1/collectors/{world.ids['collector-a']}/route").json()
        stop = day["stops"][0]
        assert (stop["pickup_id"], stop["household_name"]) == (pid, "HH b")
        assert stop["maps_url"].startswith(f"geo:{DOOR_B[0]},{DOOR_B[1]}")
        assert datetime.fromisoformat(stop["eta"]) >= datetime.fromisoformat(day["depart"])

    # weighed at the door (the phone's clock), sent later: the mixed price changes between
    phone = Phone()
    weighed = datetime.now(UTC)
    body = phone.completion(
        [("plastic-pet", 1_250), ("plastic-pet", 2_000), ("plastic-mixed", 3_100)],
        weighed_at=weighed,
    )
    new_price(api, t, "plastic-mixed", 2_000)
    # 1250 g and 2000 g of PET at Rp 3,500; 3100 g of mixed at Rp 1,500 (when weighed)
    expected = [4_375, 7_000, 4_650]
    with api.client(t["col"]) as c:
        first = c.post(f"/api/v1/pickups/{pid}/doorstep", json=body)
        assert first.status_code == 201, first.text
        done = first.json()
        assert [ln["amount_rp"] for ln in done["lines"]] == expected
        assert [ln["price_rp_per_kg"] for ln in done["lines"]] == [3_500, 3_500, 1_500]
        assert (done["total_rp"], done["total_g"], done["replay"]) == (16_025, 6_350, False)
        for _ in range(3):  # the phone did not see the answer: it sends again
            again = c.post(f"/api/v1/pickups/{pid}/doorstep", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["replay"] is True
            assert again.json()["lines"] == done["lines"]
        altered = {**body, "lines": [{**body["lines"][0], "net_g": 9_999}, *body["lines"][1:]]}
        assert c.post(f"/api/v1/pickups/{pid}/doorstep", json=altered).status_code == 409
        later = phone.completion([("plastic-pet", 500)])  # a new completion of a done pickup
        assert c.post(f"/api/v1/pickups/{pid}/doorstep", json=later).status_code == 409

    with api.client(t["hh"]) as c:
        after = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
        assert after - before == sum(expected)
        statement = c.get(f"/api/v1/households/{hh}/statement").json()["lines"]
        new = statement[lines_before:]
        assert [(ln["kind"], ln["amount_rp"]) for ln in new] == [
            ("weighin_credit", a) for a in expected
        ]
        mine = {p["id"]: p for p in c.get(f"/api/v1/households/{hh}/pickups").json()}
        assert (mine[pid]["status"], mine[pid]["collected_g"]) == ("done", 6_350)
        assert mine[pid]["collector_name"] is not None
    event_ids = [f"{phone.phone_id}:{ln['seq']}" for ln in body["lines"]]
    assert count(url, select(func.count()).where(WeighinRecord.event_id.in_(event_ids))) == 3
    theirs = select(WeighinRecord.id).where(WeighinRecord.event_id.in_(event_ids))
    credits = select(func.count()).select_from(JournalEntry)
    credits = credits.where(
        JournalEntry.kind == "weighin_credit", JournalEntry.weighin_id.in_(theirs)
    )
    assert count(url, credits) == 3

    # an operator reverses one line (corrections.py): the balance drops by exactly it
    with api.client(t["op"]) as c:
        wid = done["lines"][2]["weighin_id"]
        r = c.post(
            f"/api/v1/weighins/{wid}/reverse",
            json={"reason": "wet plastic, weighed twice"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 200, r.text
    with api.client(t["hh"]) as c:
        final = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
        assert final - before == sum(expected) - expected[2]
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            assert postings.postings_total(s) == 0
    finally:
        engine.dispose()


def test_cash_at_the_door_against_the_float_and_who_may_complete(
    door_api: tuple[ApiServer, World, str],
) -> None:
    api, world, url = door_api
    hh, col_a = world.ids["household-b"], world.ids["collector-a"]
    t = tokens(api, world)
    with api.client(t["hh"]) as c:
        pid = request_pickup(c, hh)["id"]
        before = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
    with api.client(t["op"]) as c:
        r = c.post(
            f"/api/v1/collectors/{col_a}/float",
            json={"amount_rp": 50_000},
            headers={"Idempotency-Key": "float-2026-12-02-a"},
        )
        assert (r.status_code, r.json()["float_rp"]) == (200, 50_000)
        # the route assigns the request to collector A
        assert c.get(f"/api/v1/sites/{world.ids['site']}/routes").status_code == 200
    phone = Phone()
    body = phone.completion([("plastic-pet", 3_250)], payment="cash")
    with api.client(t["hh"]) as c:  # a household does not weigh its own bags
        assert c.post(f"/api/v1/pickups/{pid}/doorstep", json=body).status_code == 403
    with api.client(t["col_b"]) as c:  # nor does a collector it was not given to
        assert c.post(f"/api/v1/pickups/{pid}/doorstep", json=body).status_code == 404
    with api.client(t["col"]) as c:
        r = c.post(f"/api/v1/pickups/{pid}/doorstep", json=body)
        assert r.status_code == 201, r.text
        assert (r.json()["total_rp"], r.json()["cash_rp"]) == (9_750, 9_750)
        assert c.get(f"/api/v1/collectors/{col_a}/float").json()["float_rp"] == 50_000 - 9_750
    with api.client(t["hh"]) as c:
        assert c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"] == before
        kinds = [
            (ln["kind"], ln["amount_rp"])
            for ln in c.get(f"/api/v1/households/{hh}/statement").json()["lines"][-2:]
        ]
        assert kinds == [("weighin_credit", 9_750), ("doorstep_cash", -9_750)]
    # back at the depot: Rp 40,000 counted of the Rp 40,250 expected; the box weighs
    # 3.2 kg at the depot (3.25 kg at the door) and enters the site's stock
    with api.client(t["op"]) as c:
        r = c.post(
            f"/api/v1/collectors/{col_a}/depot",
            json={"counted_cash_rp": 40_000, "delivered_g": {"plastic-pet": 3_200}},
            headers={"Idempotency-Key": "depot-2026-12-02-a"},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["float_rp"], r.json()["delivered_weighins"]) == (0, 1)
        first_delivery = r.json()["delivery_id"]
        # the next unloading carries only what is new (nothing): the weigh-in went once
        r = c.post(
            f"/api/v1/collectors/{col_a}/depot",
            json={"delivered_g": {"plastic-pet": 100}},
            headers={"Idempotency-Key": "depot-2026-12-02-b"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["delivered_weighins"] == 0
        assert r.json()["delivery_id"] != first_delivery
    diff = select(JournalEntry.description).where(JournalEntry.kind == "float_difference")
    door = select(StockMovement.delivery_id, StockMovement.category_code, StockMovement.qty_g)
    door = door.where(StockMovement.kind == "doorstep").order_by(StockMovement.id)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            assert "short by Rp 250" in (s.scalar(diff) or "")
            assert postings.postings_total(s) == 0
            assert [tuple(m) for m in s.execute(door)] == [
                (first_delivery, "plastic-pet", 3_200),
                (first_delivery + 1, "plastic-pet", 100),
            ]
            carried = select(DepotDeliveryWeighin.delivery_id, WeighinRecord.net_g).join(
                WeighinRecord, WeighinRecord.id == DepotDeliveryWeighin.weighin_id
            )
            assert [tuple(x) for x in s.execute(carried)] == [(first_delivery, 3_250)]
    finally:
        engine.dispose()
    # collector B cannot send with collector A's phone (event ids are per phone)
    with api.client(t["hh"]) as c:
        pid2 = request_pickup(c, hh)["id"]
    with api.client(t["op"]) as c:
        r = c.post(
            f"/api/v1/pickups/{pid2}/assign", json={"collector_id": world.ids["collector-b"]}
        )
        assert r.status_code == 200, r.text
    with api.client(t["col_b"]) as c:
        stolen = c.post(
            f"/api/v1/pickups/{pid2}/doorstep", json=phone.completion([("plastic-pet", 1_000)])
        )
        assert stolen.status_code == 409, stolen.text
        assert "another collector" in stolen.json()["detail"]


def test_the_same_completion_sent_at_once_from_four_threads_credits_once(
    door_api: tuple[ApiServer, World, str],
) -> None:
    """A phone that retries while its first sending is still under way: the pickup row's
    lock (then the stored completion) makes every other sending a replay.

    mutant: the pickup row not locked (plain SELECT) -> on PostgreSQL the other sendings
      race the first and are refused 409 instead of answered as replays, fails
      (run: [201, 409, 409, 409]; SQLite's BEGIN IMMEDIATE queues them either way)
    """
    api, world, url = door_api
    hh = world.ids["household-b"]
    t = tokens(api, world)
    with api.client(t["hh"]) as c:
        pid = request_pickup(c, hh)["id"]
        before = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
    with api.client(t["op"]) as c:  # planned: assigned to collector A
        assert c.get(f"/api/v1/sites/{world.ids['site']}/routes").status_code == 200
    body = Phone().completion([("plastic-pet", 2_000), ("plastic-mixed", 1_000)])
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def send() -> None:
        with api.client(t["col"]) as c:
            barrier.wait()
            codes.append(c.post(f"/api/v1/pickups/{pid}/doorstep", json=body).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(codes) == [200, 200, 200, 201]
    with api.client(t["hh"]) as c:
        after = c.get(f"/api/v1/households/{hh}/balance").json()["balance_rp"]
    assert after - before == 6_000 + 1_500
    ids = [f"{body['phone_id']}:{ln['seq']}" for ln in body["lines"]]
    assert count(url, select(func.count()).where(WeighinRecord.event_id.in_(ids))) == 2
