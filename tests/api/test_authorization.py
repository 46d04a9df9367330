"""Object-level authorisation: every route of the app, tried as the wrong household and
the wrong collector, is refused.

The routes are enumerated from ``app.routes`` (so a new route is tried automatically),
their path parameters filled with the *victim's* objects (household A, its pickup,
collector A, ...), and each is called by household B and collector B with a valid body.
A route open to every logged-in caller must be listed in ``SHARED`` with the reason;
a mutating route must have an example body in ``BODIES``, or this test fails.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.support import ApiServer, World, household_login, login

pytestmark = pytest.mark.integration

#: routes any logged-in caller may use: they expose nothing of anybody else
SHARED = {
    ("GET", "/api/v1/health"): "liveness, no data",
    ("POST", "/api/v1/auth/login"): "logging in",
    ("POST", "/api/v1/auth/household-login"): "logging in",
    ("POST", "/api/v1/auth/refresh"): "trading a refresh token",
    ("POST", "/api/v1/auth/logout"): "ending one's own session",
    ("POST", "/api/v1/auth/stream-ticket"): "a ticket for one's own stream",
    ("GET", "/api/v1/auth/me"): "the caller itself",
    ("GET", "/api/v1/categories"): "the public price list",
    ("GET", "/api/v1/categories/{code}/prices"): "the public price history",
    ("GET", "/api/v1/ui-config"): "the installation's map tiles and time zone",
    ("GET", "/api/v1/price-changes"): "the public price list's pending changes",
    ("GET", "/api/v1/registrations/sites"): "public: the sites a household may ask to join",
    ("POST", "/api/v1/registrations"): "public: a household asks to join (capped per address)",
    ("GET", "/api/v1/registrations/status"): "public: by the requester's secret reference",
    ("GET", "/api/v1/device-config/{token}"): "the one-time link is its own credential",
    ("POST", "/api/v1/disbursements/callback"): "the provider's callback, HMAC-signed",
    ("GET", "/api/v1/public/verify/{code}"): "public: a receipt's record, nothing personal",
    ("GET", "/api/v1/public/verify/{code}/qr.svg"): "public: the QR of the verify page",
    ("GET", "/api/v1/stream"): "open to every role, filtered to its reach: test_role_matrix",
}

#: a valid body for every route that takes one (so a refusal is not a 422)
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/api/v1/users"): {"username": "intruder", "password": "x" * 12, "role": "admin"},
    ("PATCH", "/api/v1/users/{user_id}"): {"active": False},
    ("POST", "/api/v1/sites"): {"code": "evil", "name": "Evil"},
    ("POST", "/api/v1/households"): {"member_no": "M-EVIL", "name": "Evil"},
    ("PATCH", "/api/v1/households/{household_id}"): {"name": "Evil"},
    ("PUT", "/api/v1/households/{household_id}/pin"): {"pin": "0000"},
    ("POST", "/api/v1/households/{household_id}/cards"): {"card_id": "CARD-EVIL"},
    ("POST", "/api/v1/categories"): {"code": "evil", "name_id": "E", "name_en": "E"},
    ("POST", "/api/v1/categories/{code}/prices"): {"rp_per_kg": 1},
    ("POST", "/api/v1/households/{household_id}/payouts"): {"amount_rp": 100},
    ("POST", "/api/v1/households/{household_id}/receivable/repayments"): {"amount_rp": 100},
    ("POST", "/api/v1/households/{household_id}/receivable/write-off"): {
        "amount_rp": 100,
        "reason": "moved away, cannot be reached",
    },
    ("POST", "/api/v1/payouts/{payout_id}/reject"): {"reason": "not mine to reject"},
    ("POST", "/api/v1/weighins/{weighin_id}/assign"): {"household_id": 2},
    ("POST", "/api/v1/weighins/{weighin_id}/reverse"): {"reason": "not mine to reverse"},
    ("PUT", "/api/v1/bins"): {"bin_id": "bn-bin01", "threshold_pct": 1},
    ("POST", "/api/v1/pickups"): {"bin_id": "bn-bin01"},
    ("POST", "/api/v1/pickups/{pickup_id}/assign"): {"collector_id": 4},
    ("POST", "/api/v1/pickups/{pickup_id}/complete"): {"collected_g": 1},
    ("POST", "/api/v1/pickups/{pickup_id}/cancel"): {"reason": "not mine to cancel"},
    ("POST", "/api/v1/households/{household_id}/pickups"): {"note": "at the victim's door"},
    ("POST", "/api/v1/devices"): {"device_id": "st-evil", "kind": "station"},
    ("POST", "/api/v1/devices/{device_id}/commands"): {"action": "tare"},
    ("POST", "/api/v1/households/{household_id}/inbox/read"): {},
    ("PUT", "/api/v1/households/{household_id}/notification-preferences"): {"opt_out": True},
    ("POST", "/api/v1/notifications/{delivery_id}/resend"): {},
    ("POST", "/api/v1/price-changes"): {"category": "plastic-pet", "rp_per_kg": 1},
    ("POST", "/api/v1/price-changes/{change_id}/reject"): {"reason": "not mine to reject"},
    ("POST", "/api/v1/registrations/{request_id}/reject"): {"reason": "not mine to reject"},
    ("POST", "/api/v1/enrolments"): {"device_id": "st-bank01", "household_id": 1},
    ("POST", "/api/v1/payouts/{payout_id}/destination"): {
        "method": "ewallet",
        "provider": "dana",
        "account": "081234567890",
    },
    ("POST", "/api/v1/disbursements/bank-batches"): {"disbursement_ids": [1], "on": "2026-12-01"},
    ("POST", "/api/v1/disbursements/bank-batches/{batch_id}/settle"): {"failed": {}},
    ("POST", "/api/v1/cashbox/{site_id}/{day}/open"): {"opening_float_rp": 0},
    ("POST", "/api/v1/cashbox/{site_id}/{day}/movements"): {"kind": "sale", "amount_rp": 1},
    ("POST", "/api/v1/cashbox/{site_id}/{day}/close"): {"counted_rp": 0, "reason": "x"},
    ("POST", "/api/v1/cashbox/{site_id}/{day}/reopen"): {"reason": "not mine to reopen"},
    ("POST", "/api/v1/imports/households"): None,
    ("POST", "/api/v1/holds/{weighin_id}/release"): {"note": "not mine to release"},
    ("POST", "/api/v1/holds/{weighin_id}/reject"): {"note": "not mine to reject"},
    ("POST", "/api/v1/devices/{device_id}/keys/{key}/retire"): {},
    ("POST", "/api/v1/devices/{device_id}/approvals"): {"kind": "software", "digest": "0" * 64},
    ("POST", "/api/v1/devices/{device_id}/approvals/withdraw"): {
        "kind": "software",
        "digest": "0" * 64,
    },
    ("POST", "/api/v1/pickups/{pickup_id}/doorstep"): {
        "phone_id": "ph-intruder0",
        "seq": 1,
        "completed_at": "2026-12-01T03:00:00Z",
        "clock_synced": True,
        "boot_id": "00000000-0000-4000-8000-000000000009",
        "mono_ms": 1,
        "lines": [
            {
                "seq": 2,
                "category": "plastic-pet",
                "net_g": 1000,
                "weighed_at": "2026-12-01T03:00:00Z",
            }
        ],
    },
    ("PUT", "/api/v1/collectors/{user_id}/profile"): {"capacity_kg": 1},
    ("POST", "/api/v1/collectors/{user_id}/float"): {"amount_rp": 1},
    ("POST", "/api/v1/collectors/{user_id}/depot"): {"counted_cash_rp": 0},
    ("PUT", "/api/v1/sites/{site_id}/location"): {"lat": 0, "lon": 0},
    ("POST", "/api/v1/sales"): {
        "site_id": 1,
        "category": "plastic-pet",
        "buyer": "Evil",
        "qty_g": 1,
        "rp_per_kg": 1,
        "amount_rp": 0,
        "ticket_no": "X",
    },
    ("POST", "/api/v1/stock/losses"): {
        "site_id": 1,
        "category": "plastic-pet",
        "qty_g": 1,
        "reason": "other",
    },
    ("POST", "/api/v1/stock/transfers"): {
        "from_site_id": 1,
        "to_site_id": 1,
        "category": "plastic-pet",
        "qty_g": 1,
    },
    ("POST", "/api/v1/stock/counts"): {"site_id": 1, "category": "plastic-pet", "counted_g": 0},
    ("PUT", "/api/v1/stock/loss-allowances"): {"category": "plastic-pet", "allowed_loss_bp": 1},
    ("POST", "/api/v1/cases/{case_id}/{decision}"): {"note": "not mine to decide"},
    ("PUT", "/api/v1/fraud-rules/{rule}"): {"enabled": False},
    ("POST", "/api/v1/fraud/scan"): {},
    ("POST", "/api/v1/payout-holds/{hold_id}/release"): {"note": "not mine to release"},
    ("PUT", "/api/v1/opening-hours"): {"site_id": 1, "days": []},
}

UNDOCUMENTED = {"/api/v1/openapi.json", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    out: set[tuple[str, str]] = set()
    stack: list[Any] = list(app.routes)
    while stack:
        r = stack.pop()
        if hasattr(r, "effective_route_contexts"):  # a router included into the app
            stack.extend(r.effective_route_contexts())
            continue
        path = getattr(r, "path", None)
        methods = getattr(r, "methods", None) or set()
        if path is None or path in UNDOCUMENTED:
            continue
        out.update((m, path) for m in methods if m != "HEAD")
    return sorted(out)


def victim_params(world: World) -> dict[str, Any]:
    ids = world.ids
    return {
        "household_id": ids["household-a"],
        "pickup_id": ids["household-pickup-a"],
        "user_id": ids["collector-a"],
        "payout_id": ids["payout-a"],
        "weighin_id": ids["weighin-a"],
        "bin_id": "bn-bin01",
        "device_id": "st-bank01",
        "code": "plastic-pet",
        "card_id": "CARD-A",
        "alert_id": 1,
        "delivery_id": 1,  # household A's first credit, told in its inbox
        "change_id": 1,
        "request_id": 1,
        "enrolment_id": 1,
        "disbursement_id": 1,
        "batch_id": 1,
        "site_id": ids["site"],
        "day": "2026-12-01",
        "token": "x" * 32,
        "key": "0" * 16,
        "case_id": 1,
        "decision": "confirm",
        "hold_id": 1,
        "rule": "card_two_stations",
    }


def fill(path: str, params: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in params, f"no victim value for path parameter {{{name}}}: add one"
        return str(params[name])

    return re.sub(r"\{(\w+)\}", sub, path)


def test_routes_enumerated_match_the_openapi_document(api: ApiServer) -> None:
    documented = {(m.upper(), p) for p, ops in api.app.openapi()["paths"].items() for m in ops}
    assert set(app_routes(api.app)) == documented
    assert len(documented) > 40


def test_every_route_refuses_another_household_and_another_collector(
    api: ApiServer, world: World
) -> None:
    with api.client() as anon:
        attackers = {
            "household B": household_login(anon, "M-B", world.pins["M-B"]),
            "collector B": login(anon, "collector-b"),
        }
    params = victim_params(world)
    failures = []
    tried = 0
    for method, path in app_routes(api.app):
        if (method, path) in SHARED:
            continue
        body = BODIES.get((method, path))
        if (
            method in ("POST", "PUT", "PATCH")
            and (method, path) not in BODIES
            and not path.endswith(
                (
                    "/approve",
                    "/pay",
                    "/revoke",
                    "/deactivate",
                    "/acknowledge",
                    "/check",
                    "/cancel",
                    "/send",
                    "/config-link",
                    "/plan",
                )
            )
        ):
            failures.append(f"{method} {path}: no example body in BODIES")
            continue
        url = fill(path, params)
        for who, token in attackers.items():
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"authz-{tried}"}
            with api.client() as c:
                r = c.request(
                    method,
                    url,
                    json=body,
                    headers=headers,
                    params={"from": "2026-01-01", "to": "2026-01-02"},
                )
            tried += 1
            if r.status_code not in (403, 404):
                failures.append(f"{who}: {method} {url} -> {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
    assert tried >= 2 * 40


def test_the_owners_themselves_are_admitted(api: ApiServer, world: World) -> None:
    """The refusals above are about ownership, not broken parameters."""
    ids = world.ids
    with api.client() as anon:
        hh_a = household_login(anon, "M-A", world.pins["M-A"])
        col_a = login(anon, "collector-a")
    with api.client(hh_a) as c:
        assert c.get(f"/api/v1/households/{ids['household-a']}/balance").status_code == 200
        assert c.get(f"/api/v1/households/{ids['household-a']}/statement").status_code == 200
        assert c.get(f"/api/v1/pickups/{ids['household-pickup-a']}").status_code == 200
    with api.client(col_a) as c:
        r = c.get(f"/api/v1/collectors/{ids['collector-a']}/pickups")
        assert r.status_code == 200
        assert {p["id"] for p in r.json()} == {ids["pickup-a"], ids["household-pickup-a"]}
        assert c.get(f"/api/v1/pickups/{ids['household-pickup-a']}").status_code == 200


#: GET routes whose answer to the operator with the victim parameters is not a plain 200
OPERATOR_GETS = {
    "/api/v1/alerts/{alert_id}": {200, 404},
    "/api/v1/audit": {403},  # the administrator's (and auditor's) only
    "/api/v1/enrolments/{enrolment_id}": {404},  # none started
    "/api/v1/disbursements/bank-batches/{batch_id}/file": {403},  # spans sites: admin, auditor
    "/api/v1/registrations/status": {422},  # needs ?ref=
    "/api/v1/device-config/{token}": {410},  # an unknown link
    "/api/v1/public/verify/{code}": {404},  # a made-up receipt code
    "/api/v1/public/verify/{code}/qr.svg": {404},
    "/api/v1/weighins/{weighin_id}/photo": {200, 404},  # a weigh-in may have no photo
}


def test_staff_reach_every_read_route(api: ApiServer, world: World) -> None:
    params = victim_params(world)
    with api.client() as anon:
        token = login(anon, "operator")
    with api.client(token) as c:
        for method, path in app_routes(api.app):
            if method != "GET" or path.endswith("/stream"):
                continue
            url = fill(path, params)
            r = c.get(url, params={"from": "2026-01-01", "to": "2026-01-02", "by": "site"})
            want = OPERATOR_GETS.get(path, {200})
            assert r.status_code in want, f"{url} -> {r.status_code} {r.text[:200]}"
