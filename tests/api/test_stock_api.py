"""Stock, sales, mass balance, cases and the monthly report over real HTTP.

The seeded world (tests/api/support.py): household A has three credited weigh-ins of
1.25 kg PET at st-bank01 (bank01), and one of 1.25 kg is unassigned.

mutant: site_in_reach returning the requested site unchecked -> the other site's operator
        reads bank01's stock (scoping test fails)
mutant: create_sale without idempotent() -> the retried sale sells twice (stock 1.75 -> -0.25:
        refused, so the retry answers 409 instead of the stored 201)
mutant: payouts.request_payout without refuse_if_held -> the held payout answers 201
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud import crediting, households
from cloud.auth import create_user
from cloud.db import make_engine, session_factory
from cloud.devices import register_device
from cloud.models import Site
from tests.api.support import PASSWORD, ApiServer, World, login
from tests.cloud.factories import weighin

pytestmark = pytest.mark.integration

V = "/api/v1"
#: the seeded weigh-ins count at their device time, 1 November 2026
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
SALE = {
    "site_id": 1,
    "category": "plastic-pet",
    "buyer": "CV Daur Ulang",
    "qty_g": 2000,
    "rp_per_kg": 4500,
    "amount_rp": 9000,
    "ticket_no": "WB-1",
}


def _token(api: ApiServer, who: str = "operator") -> str:
    with api.client() as c:
        return login(c, who)


def _pet(api: ApiServer, token: str) -> dict[str, int]:
    with api.client(token) as c:
        rows = c.get(f"{V}/stock").json()
    return next(r for r in rows if r["category"] == "plastic-pet")


def test_stock_and_a_sale_once_per_key(api: ApiServer, world: World) -> None:
    token = _token(api)
    pet = _pet(api, token)
    assert (pet["site_code"], pet["qty_g"], pet["unassigned_g"]) == ("bank01", 3750, 1250)
    with api.client(token) as c:
        first = c.post(f"{V}/sales", json=SALE, headers={"Idempotency-Key": "sale-0001"})
        again = c.post(f"{V}/sales", json=SALE, headers={"Idempotency-Key": "sale-0001"})
        assert first.status_code == 201, first.text
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        over = c.post(
            f"{V}/sales",
            json={**SALE, "ticket_no": "WB-2"},
            headers={"Idempotency-Key": "sale-0002"},
        )
        assert over.status_code == 409
        assert "only 1.75 kg is in stock" in over.json()["detail"]
        bad = c.post(
            f"{V}/sales", json={**SALE, "ticket_no": None}, headers={"Idempotency-Key": "sale-0003"}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "body.ticket_no"
        kinds = [m["kind"] for m in c.get(f"{V}/stock/movements").json()]
        assert kinds.count("sale") == 1
    assert _pet(api, token)["qty_g"] == 1750


def test_an_operator_of_another_site_reaches_only_its_own(
    api: ApiServer, world: World, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as s:
        other = households.ensure_site(s, code="bank02").id
        create_user(s, username="op-bank02", password=PASSWORD, role="operator", site_id=other)
        s.commit()
    engine.dispose()
    token = _token(api, "op-bank02")
    with api.client(token) as c:
        assert {row["site_id"] for row in c.get(f"{V}/stock").json()} <= {other}  # its own
        assert c.get(f"{V}/stock", params={"site_id": 1}).status_code == 404
        assert c.get(f"{V}/mass-balance", params={"site_id": 1}).status_code == 404
        r = c.post(f"{V}/sales", json=SALE, headers={"Idempotency-Key": "sale-evil-1"})
        assert r.status_code == 404
        loss = {"site_id": 1, "category": "plastic-pet", "qty_g": 1, "reason": "other"}
        assert (
            c.post(
                f"{V}/stock/losses", json=loss, headers={"Idempotency-Key": "loss-evil"}
            ).status_code
            == 404
        )
        assert c.get(f"{V}/reports/programme", params={"site_id": 1}).status_code == 404
    assert _pet(api, _token(api))["qty_g"] == 3750


def test_a_case_confirmed_holds_payouts_until_released(
    api: ApiServer, world: World, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    with session_factory(engine)() as s:  # household A's card at a station of another site
        register_device(s, device_id="st-bank02", kind="station", site="bank02")
        crediting.credit_weighin(
            s,
            event=weighin(
                device_id="st-bank02",
                seq=51,  # (the world's site 2 has its own weigh-ins at seqs 1, 2 and 10)
                card_id="CARD-A",
                device_time=now - timedelta(minutes=3),
            ),
            received_at=now,
        )
        crediting.credit_weighin(
            s,
            event=weighin(
                device_id="st-bank01",
                seq=99,
                card_id="CARD-A",
                device_time=now - timedelta(minutes=9),
            ),
            received_at=now,
        )
        s.commit()
        assert s.scalar(select(Site.id).where(Site.code == "bank02")) is not None
    engine.dispose()
    admin, op = _token(api, "admin"), _token(api)
    with api.client(admin) as c:
        scan = c.post(f"{V}/fraud/scan", json={}).json()
        assert scan["raised_by_rule"].get("card_two_stations") == 1, scan
    # the case spans two sites (a site-1 card at a site-2 station): the administrator decides
    with api.client(admin) as c:
        (case,) = [
            k
            for k in c.get(f"{V}/cases", params={"status": "open"}).json()
            if k["rule_code"] == "card_two_stations"
        ]
        assert case["subject_key"] == "CARD-A"
        assert "30 menit" in case["explanation_id"]
        assert "30 minutes" in case["explanation_en"]
        r = c.post(
            f"{V}/cases/{case['id']}/confirm",
            json={"note": "card copied"},
            headers={"Idempotency-Key": "confirm-1"},
        )
        assert r.status_code == 200
        assert r.json()["status"] == "confirmed"
    with api.client(op) as c:
        hh = world.ids["household-a"]
        held = c.post(
            f"{V}/households/{hh}/payouts",
            json={"amount_rp": 100},
            headers={"Idempotency-Key": "payout-held"},
        )
        assert held.status_code == 409
        assert "held" in held.json()["detail"]
        (hold,) = c.get(f"{V}/payout-holds").json()
        r = c.post(
            f"{V}/payout-holds/{hold['id']}/release",
            json={"note": "ok"},
            headers={"Idempotency-Key": "release-1"},
        )
        assert r.status_code == 403  # an administrator's decision
    with api.client(admin) as c:
        r = c.post(
            f"{V}/payout-holds/{hold['id']}/release",
            json={"note": "card replaced"},
            headers={"Idempotency-Key": "release-1"},
        )
        assert r.status_code == 200
    with api.client(op) as c:
        ok = c.post(
            f"{V}/households/{hh}/payouts",
            json={"amount_rp": 100},
            headers={"Idempotency-Key": "payout-free"},
        )
        assert ok.status_code == 201


def test_rules_mass_balance_exports_and_the_monthly_report(api: ApiServer, world: World) -> None:
    admin, op = _token(api, "admin"), _token(api)
    with api.client(op) as c:
        assert len(c.get(f"{V}/fraud-rules").json()) == 7
        assert (
            c.put(
                f"{V}/fraud-rules/card_two_stations", json={"params": {"minutes": 10}}
            ).status_code
            == 403
        )
        (row,) = c.get(f"{V}/mass-balance", params=NOVEMBER).json()
        assert (
            row["category"],
            row["weighin_g"],
            row["credited_station_g"],
            row["unassigned_g"],
        ) == ("plastic-pet", 3750, 3750, 1250)
        csv = c.get(f"{V}/reports/stock-movements.csv", params=NOVEMBER)
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith(
            "id,effective_at_utc,local_day,site,category,kind"
        )
        assert len(csv.text.splitlines()) == 4
        report = c.get(f"{V}/reports/programme", params={"month": "2026-11"}).json()
        assert (report["households_active"], report["credited_g"], report["purchases_rp"]) == (
            1,
            3750,
            11250,
        )
        html = c.get(f"{V}/reports/programme.html", params={"month": "2026-11"})
        assert html.headers["content-type"].startswith("text/html")
        assert "Laporan Bulanan Program Bank Sampah" in html.text
        assert "<script" not in html.text
        assert (
            "Monthly Waste Bank Programme Report"
            in c.get(f"{V}/reports/programme.html", params={"lang": "en"}).text
        )
    with api.client(admin) as c:
        r = c.put(f"{V}/fraud-rules/card_two_stations", json={"params": {"minutes": 10}})
        assert r.status_code == 200
        assert "10 minutes" in r.json()["explanation_en"]
        assert (
            c.put(f"{V}/fraud-rules/card_two_stations", json={"params": {"hours": 1}}).status_code
            == 409
        )
