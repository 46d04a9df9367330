"""Every route x every role x (own site, other site): allowed or refused, as TABLE says.

The routes come from the app's route table (a new route without a row here fails the
test). Callers: ``admin`` and ``auditor`` (no site), and of site 1 an ``operator``, a
``cashier``, a ``collector`` (collector A) and a ``household`` (household A). "Own"
objects are site 1's (for the household: its own; for the collector: its own pickup),
"other" objects site 2's.

A TABLE cell per role is two letters, own then other: ``Y`` allowed, ``N`` out of
reach, or ``3`` for a role refused outright (403, both sides). What they mean:

* an action or a lookup by id: ``Y`` = neither 401, 403 nor 404 (a 409 from the state
  the earlier rows left is fine: the rule let it through), ``N`` = 404 (or 422 when the
  out-of-reach thing is named in the body, e.g. another site's code), ``3`` = 403;
* a list, a CSV export or the telemetry of a period (no object in the path): one
  request, answered 200, whose rows include the own marker iff own is ``Y`` and the
  other site's marker iff other is ``Y``;
* the live stream: whether the own / other event reaches the role's stream.

Roles run in the order household, collector, cashier, operator, auditor, admin, so the
changes made by one (a pickup cancelled, a payout paid) never turn a later refusal into
a pass. Mutants (each applied by hand, each fails here):

  mutant: scope.py Pickup rule admits every row (``lambda c: c.id > 0``) -> the
          operator's GET /pickups and GET /pickups/{other} show site 2's -> fails
  mutant: scope.py Pickup rule removed (falls back to "nothing") -> own pickups 404 -> fails
  mutant: scope.py WeighinRecord rule widened (``or_(..., c.id > 0)``) -> GET /weighins
          and /reports/weighins.csv leak site 2 -> fails
  mutant: scope.py DeadLetter rule admits every row -> /dead-letters and the counts
          leak -> fails
  mutant: list_payouts reads with ``session.connection().execute`` (a Core query around
          the ORM) -> site 2's payout listed to the operator and cashier -> fails
  mutant: the Operator alias admits "cashier" -> cashier's writes allowed -> fails
  mutant: stream.py forgets ``scope.admits`` -> operator streams site 2's weigh-in -> fails
(The write guard and the auditor's refusal at the session are below every route's own
check; test_scope.py has their mutants.)
"""

from __future__ import annotations

import contextlib
import itertools
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cloud.api.scope import SYSTEM
from cloud.models import utcnow
from cloud.models.notifications import DELIVERY_STATES
from cloud.notifications import views
from cloud.telemetry import open_writer
from cloud.telemetry.base import weighin_point
from tests.api.support import (
    ApiServer,
    World,
    credit,
    household_login,
    listen,
    login,
    until_event,
)
from tests.api.test_authorization import app_routes
from tests.cloud.factories import weighin

pytestmark = pytest.mark.integration

ROLES = ("household", "collector", "cashier", "operator", "auditor", "admin")
LETTER = {"admin": "A", "auditor": "U", "operator": "O", "cashier": "C", "collector": "L",
          "household": "H"}  # fmt: skip

#: routes open to everyone, or before logging in: not part of the matrix
OUTSIDE = {
    ("GET", "/api/v1/health"): "liveness, no authentication, no data",
    ("POST", "/api/v1/auth/login"): "logging in",
    ("POST", "/api/v1/auth/household-login"): "logging in",
    ("POST", "/api/v1/auth/refresh"): "a refresh token, no caller yet (test_tokens.py)",
    ("POST", "/api/v1/auth/logout"): "ends the caller's own session (test_tokens.py)",
}

SITE_READ = "A:YY U:YY O:YN C:33 L:33 H:33"
COUNTER_READ = "A:YY U:YY O:YN C:YN L:33 H:33"
ACCOUNT_READ = "A:YY U:YY O:YN C:YN L:33 H:YN"
OPERATE = "A:YY U:33 O:YN C:33 L:33 H:33"
COUNTER = "A:YY U:33 O:YN C:YN L:33 H:33"
ADMIN = "A:YY U:33 O:33 C:33 L:33 H:33"
EVERYONE = "A:YY U:YY O:YY C:YY L:YY H:YY"
V = "/api/v1"

TABLE: dict[tuple[str, str], str] = {
    ("GET", f"{V}/auth/me"): EVERYONE,
    ("POST", f"{V}/auth/stream-ticket"): EVERYONE,
    ("GET", f"{V}/categories"): EVERYONE,
    ("GET", f"{V}/categories/{{code}}/prices"): EVERYONE,
    ("POST", f"{V}/categories"): "A:YY U:33 O:YY C:33 L:33 H:33",  # programme-wide prices
    ("POST", f"{V}/categories/{{code}}/prices"): "A:YY U:33 O:YY C:33 L:33 H:33",
    ("GET", f"{V}/sites"): COUNTER_READ,
    ("POST", f"{V}/sites"): ADMIN,
    ("GET", f"{V}/users"): SITE_READ,
    ("POST", f"{V}/users"): ADMIN,
    ("PATCH", f"{V}/users/{{user_id}}"): ADMIN,
    ("GET", f"{V}/collectors/{{user_id}}/pickups"): "A:YY U:YY O:YN C:33 L:YN H:33",
    ("GET", f"{V}/households"): COUNTER_READ,
    ("POST", f"{V}/households"): OPERATE,
    ("GET", f"{V}/households/{{household_id}}"): ACCOUNT_READ,
    ("PATCH", f"{V}/households/{{household_id}}"): OPERATE,
    ("POST", f"{V}/households/{{household_id}}/deactivate"): OPERATE,
    ("PUT", f"{V}/households/{{household_id}}/pin"): OPERATE,
    ("GET", f"{V}/households/{{household_id}}/cards"): ACCOUNT_READ,
    ("POST", f"{V}/households/{{household_id}}/cards"): OPERATE,
    ("DELETE", f"{V}/households/{{household_id}}/cards/{{card_id}}"): OPERATE,
    ("GET", f"{V}/households/{{household_id}}/balance"): ACCOUNT_READ,
    ("GET", f"{V}/households/{{household_id}}/statement"): ACCOUNT_READ,
    ("GET", f"{V}/households/{{household_id}}/payouts"): ACCOUNT_READ,
    ("POST", f"{V}/households/{{household_id}}/payouts"): "A:YY U:33 O:YN C:YN L:33 H:YN",
    ("GET", f"{V}/households/{{household_id}}/pickups"): "A:YY U:YY O:YN C:33 L:33 H:YN",
    ("POST", f"{V}/households/{{household_id}}/pickups"): "A:YY U:33 O:YN C:33 L:33 H:YN",
    ("GET", f"{V}/payouts"): COUNTER_READ,
    ("POST", f"{V}/payouts/{{payout_id}}/approve"): COUNTER,
    ("POST", f"{V}/payouts/{{payout_id}}/pay"): COUNTER,
    ("POST", f"{V}/payouts/{{payout_id}}/reject"): COUNTER,
    ("GET", f"{V}/weighins"): SITE_READ,
    ("GET", f"{V}/weighins/{{weighin_id}}"): SITE_READ,
    ("POST", f"{V}/weighins/{{weighin_id}}/assign"): OPERATE,
    ("POST", f"{V}/weighins/{{weighin_id}}/reverse"): OPERATE,
    ("GET", f"{V}/bins"): SITE_READ,
    ("PUT", f"{V}/bins"): OPERATE,
    ("GET", f"{V}/bins/{{bin_id}}"): SITE_READ,
    ("GET", f"{V}/pickups"): SITE_READ,
    ("POST", f"{V}/pickups"): OPERATE,
    ("GET", f"{V}/pickups/{{pickup_id}}"): "A:YY U:YY O:YN C:33 L:YN H:YN",
    ("POST", f"{V}/pickups/{{pickup_id}}/assign"): OPERATE,
    ("POST", f"{V}/pickups/{{pickup_id}}/complete"): "A:YY U:33 O:YN C:33 L:YN H:33",
    ("POST", f"{V}/pickups/{{pickup_id}}/cancel"): "A:YY U:33 O:YN C:33 L:33 H:YN",
    ("GET", f"{V}/devices"): SITE_READ,
    ("POST", f"{V}/devices"): ADMIN,
    ("GET", f"{V}/devices/{{device_id}}"): SITE_READ,
    ("POST", f"{V}/devices/{{device_id}}/revoke"): ADMIN,
    ("POST", f"{V}/devices/{{device_id}}/commands"): OPERATE,
    ("GET", f"{V}/telemetry/bins/{{bin_id}}/fill"): SITE_READ,
    ("GET", f"{V}/telemetry/category-days"): SITE_READ,
    ("GET", f"{V}/telemetry/devices/{{device_id}}/health"): SITE_READ,
    ("GET", f"{V}/alerts"): SITE_READ,
    ("POST", f"{V}/alerts/{{alert_id}}/acknowledge"): OPERATE,
    ("GET", f"{V}/dead-letters"): SITE_READ,
    ("GET", f"{V}/dead-letters/counts"): SITE_READ,
    ("GET", f"{V}/reports/weighins.csv"): SITE_READ,
    ("GET", f"{V}/reports/payouts.csv"): COUNTER_READ,
    ("GET", f"{V}/stream"): "A:YY U:YY O:YN C:YN L:YN H:YN",
    ("GET", f"{V}/ui-config"): EVERYONE,
    ("GET", f"{V}/households/{{household_id}}/inbox"): ACCOUNT_READ,
    ("POST", f"{V}/households/{{household_id}}/inbox/read"): "A:YY U:33 O:33 C:33 L:33 H:YN",
    ("GET", f"{V}/households/{{household_id}}/notification-preferences"): ACCOUNT_READ,
    ("PUT", f"{V}/households/{{household_id}}/notification-preferences"): (
        "A:YY U:33 O:YN C:33 L:33 H:YN"
    ),
    ("GET", f"{V}/notifications"): SITE_READ,
    ("GET", f"{V}/notifications/counters"): SITE_READ,
    ("GET", f"{V}/notifications/{{delivery_id}}/attempts"): SITE_READ,
    ("POST", f"{V}/notifications/{{delivery_id}}/resend"): OPERATE,
}

#: the statuses that mean "the rule let it through" (503: no broker in this test)
ALLOWED = {200, 201, 202, 204, 409, 503}
#: routes whose target is named in the body, not the path: refused as 404 or 422
BODY_TARGET = {(m, p) for m, p in TABLE if "{" not in p and m != "GET"}
_seq = itertools.count(1)


def spec(route: tuple[str, str], role: str) -> str:
    cells = dict(c.split(":") for c in TABLE[route].split())
    return cells[LETTER[role]]


def targets(world: World, side: str, route: tuple[str, str], role: str) -> dict[str, Any]:
    """Path parameters for ``side`` ("own" or "other"), with the route's special cases."""
    i, own = world.ids, side == "own"
    p: dict[str, Any] = {
        "household_id": i["household-a"] if own else i["household-c"],
        "pickup_id": i["household-pickup-a"] if own else i["household-pickup-2"],
        "user_id": i["collector-a"] if own else i["collector-2"],
        "payout_id": i["payout-a"] if own else i["payout-c"],
        "weighin_id": i["weighin-a"] if own else i["weighin-c"],
        "bin_id": "bn-bin01" if own else "bn-bin02",
        "device_id": "st-bank01" if own else "st-bank02",
        "alert_id": i["alert-a"] if own else i["alert-2"],
        "delivery_id": i["delivery-a"] if own else i["delivery-2"],
        "code": "plastic-pet",
        "card_id": f"MX-{role}-{side}",  # linked by the same role's POST .../cards
    }
    path = route[1]
    if path.endswith(("/deactivate", "/pin")) or (route[0] == "PATCH" and "households" in path):
        p["household_id"] = i["household-b"] if own else i["household-d"]
    if path.endswith("/assign") and "weighins" in path:
        p["weighin_id"] = i["weighin-unassigned"] if own else i["weighin-unassigned-2"]
    return p


def body(world: World, side: str, route: tuple[str, str], role: str) -> Any:
    i, own, n = world.ids, side == "own", next(_seq)
    site_code, site_id = ("bank01", i["site"]) if own else ("bank02", i["site-2"])
    bodies: dict[tuple[str, str], Any] = {
        ("POST", f"{V}/categories"): {"code": f"mx-{n}", "name_id": "X", "name_en": "X"},
        ("POST", f"{V}/categories/{{code}}/prices"): {"rp_per_kg": 3_000},
        ("POST", f"{V}/sites"): {"code": f"mx-site-{n}", "name": "X"},
        ("POST", f"{V}/users"): {
            "username": f"mx-user-{n}",
            "password": "x" * 12,
            "role": "collector",
            "site_id": site_id,
        },
        ("PATCH", f"{V}/users/{{user_id}}"): {"display_name": "Renamed"},
        ("POST", f"{V}/households"): {"member_no": f"MX-{n}", "name": "X", "site": site_code},
        ("PATCH", f"{V}/households/{{household_id}}"): {"name": "Renamed"},
        ("PUT", f"{V}/households/{{household_id}}/pin"): {"pin": "4321"},
        ("POST", f"{V}/households/{{household_id}}/cards"): {"card_id": f"MX-{role}-{side}"},
        ("POST", f"{V}/households/{{household_id}}/payouts"): {"amount_rp": 100},
        ("POST", f"{V}/households/{{household_id}}/pickups"): {"note": "matrix"},
        ("POST", f"{V}/payouts/{{payout_id}}/reject"): {"reason": "matrix rejects"},
        ("POST", f"{V}/weighins/{{weighin_id}}/assign"): {"household_id": i["household-a"]},
        ("POST", f"{V}/weighins/{{weighin_id}}/reverse"): {"reason": "matrix reverses"},
        ("PUT", f"{V}/bins"): {"bin_id": "bn-bin01" if own else "bn-bin02", "site": site_code},
        ("POST", f"{V}/pickups"): {"household_id": i["household-a" if own else "household-c"]},
        ("POST", f"{V}/pickups/{{pickup_id}}/assign"): {
            "collector_id": i["collector-a" if own else "collector-2"]
        },
        ("POST", f"{V}/pickups/{{pickup_id}}/complete"): {"collected_g": 1},
        ("POST", f"{V}/pickups/{{pickup_id}}/cancel"): {"reason": "matrix cancels"},
        ("POST", f"{V}/devices"): {
            "device_id": f"st-mx{n:03d}",
            "kind": "station",
            "site_id": site_id,
        },
        ("POST", f"{V}/devices/{{device_id}}/commands"): {"action": "ping"},
        ("POST", f"{V}/households/{{household_id}}/inbox/read"): {},
        ("PUT", f"{V}/households/{{household_id}}/notification-preferences"): {"lang": "en"},
    }
    return bodies.get(route)


def markers(world: World, api: ApiServer) -> dict[tuple[str, str], tuple[Any, Any, Any]]:
    """List routes: (own marker, other marker, rows -> markers found)."""
    i = world.ids

    def ids(key: str) -> Any:
        return lambda r: {x[key] for x in r.json()}

    def text(r: httpx.Response) -> set[str]:
        return set(re.findall(r"st-bank0[12]:1\b|M-[AC]\b", r.text))

    def counts(r: httpx.Response) -> set[str]:
        return (
            {"own", "other"} if r.json()["total"] >= 2 else {"own"} if r.json()["total"] else set()
        )

    def deliveries(r: httpx.Response) -> set[str]:
        """Site 1's deliveries counted: own; every site's counted: other too (the totals
        of this moment, read past the API)."""
        got = sum(n for row in r.json().values() for k, n in row.items() if k in DELIVERY_STATES)
        everywhere, site1 = delivery_totals(api, world)
        assert everywhere > site1 > 0
        return {"own", "other"} if got == everywhere else {"own"} if got == site1 else set()

    return {
        ("GET", f"{V}/notifications/counters"): ("own", "other", deliveries),
        ("GET", f"{V}/sites"): (i["site"], i["site-2"], ids("id")),
        ("GET", f"{V}/users"): (i["collector-a"], i["collector-2"], ids("id")),
        ("GET", f"{V}/households"): (i["household-a"], i["household-c"], ids("id")),
        ("GET", f"{V}/payouts"): (i["payout-a"], i["payout-c"], ids("id")),
        ("GET", f"{V}/weighins"): (i["weighin-a"], i["weighin-c"], ids("id")),
        ("GET", f"{V}/bins"): ("bn-bin01", "bn-bin02", ids("bin_id")),
        ("GET", f"{V}/pickups"): (i["pickup-a"], i["pickup-2"], ids("id")),
        ("GET", f"{V}/devices"): ("st-bank01", "st-bank02", ids("device_id")),
        ("GET", f"{V}/alerts"): (i["alert-a"], i["alert-2"], ids("id")),
        ("GET", f"{V}/dead-letters"): (i["dead-letter-a"], i["dead-letter-2"], ids("id")),
        ("GET", f"{V}/dead-letters/counts"): ("own", "other", counts),
        ("GET", f"{V}/telemetry/category-days"): ("bank01", "bank02", ids("site")),
        ("GET", f"{V}/reports/weighins.csv"): ("st-bank01:1", "st-bank02:1", text),
        ("GET", f"{V}/reports/payouts.csv"): ("M-A", "M-C", text),
        ("GET", f"{V}/categories"): ("plastic-pet", "plastic-pet", ids("code")),
        ("GET", f"{V}/notifications"): (i["delivery-a"], i["delivery-2"], ids("id")),
        ("GET", f"{V}/ui-config"): (None, None, lambda r: {None}),
        ("GET", f"{V}/auth/me"): (None, None, lambda r: {None}),
        ("POST", f"{V}/auth/stream-ticket"): (None, None, lambda r: {None}),
    }


LIST_QUERY = {"from": "2026-01-01", "to": "2026-12-31", "by": "site",
              "start": "2026-10-01T00:00:00Z", "active_only": "false"}  # fmt: skip


def delivery_totals(api: ApiServer, world: World) -> tuple[int, int]:
    """Notification deliveries now: of every site, and of site 1."""
    with api.app.state.api.read_sessions(info={"scope": SYSTEM}) as s:
        totals = [
            sum(n for row in views.counters(s, now=utcnow(), site_id=site).values()
                for k, n in row.items() if k in DELIVERY_STATES)
            for site in (None, world.ids["site"])
        ]  # fmt: skip
    return totals[0], totals[1]


def fill(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), path)


def tokens(api: ApiServer, world: World) -> dict[str, str]:
    with api.client() as c:
        out = {
            r: login(c, u)
            for r, u in (
                ("admin", "admin"),
                ("auditor", "auditor"),
                ("operator", "operator"),
                ("cashier", "cashier"),
                ("collector", "collector-a"),
            )
        }
        out["household"] = household_login(c, "M-A", world.pins["M-A"])
    return out


def order(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """GETs first, writes next, card unlinking after the linking it undoes."""
    rank = {"GET": 0, "PATCH": 1, "PUT": 1, "POST": 1, "DELETE": 2}
    return sorted(routes, key=lambda r: (rank[r[0]], r))


def test_every_route_has_a_row(api: ApiServer) -> None:
    routes = set(app_routes(api.app)) - set(OUTSIDE)
    assert routes == set(TABLE), (
        f"missing rows: {sorted(routes - set(TABLE))}; stale rows: {sorted(set(TABLE) - routes)}"
    )


def test_role_matrix(api: ApiServer, world: World) -> None:
    seed_telemetry(api)
    toks = tokens(api, world)
    lists = markers(world, api)
    failures: list[str] = []
    tried = 0
    with api.client() as c:  # one client: building one per request costs seconds
        for role in ROLES:
            for route in order([r for r in TABLE if r[1] != f"{V}/stream"]):
                method, path = route
                want = spec(route, role)
                sides = ["own"] if want == "33" or route in lists else ["own", "other"]
                for side in sides:
                    url = fill(path, targets(world, side, route, role))
                    headers = {"Authorization": f"Bearer {toks[role]}",
                               "Idempotency-Key": f"matrix-{next(_seq)}"}  # fmt: skip
                    r = c.request(method, url, json=body(world, side, route, role),
                                  headers=headers, params=LIST_QUERY)  # fmt: skip
                    c.cookies.clear()  # no refresh cookie carried from one role to the next
                    tried += 1
                    problem = judge(route, role, side, want, r, lists)
                    if problem:
                        failures.append(f"{role:9} {side:5} {method} {url}: {problem}")
    assert not failures, f"{len(failures)} of {tried}:\n" + "\n".join(failures)
    assert tried > 6 * len(TABLE)


def judge(
    route: tuple[str, str], role: str, side: str, want: str, r: httpx.Response,
    lists: dict[tuple[str, str], Any],
) -> str | None:  # fmt: skip
    if want == "33":
        return None if r.status_code == 403 else f"{r.status_code}, want 403 {r.text[:120]}"
    if route in lists:
        if r.status_code != 200:
            return f"{r.status_code}, want 200 {r.text[:120]}"
        own, other, found = lists[route]
        got = found(r)
        if (own in got) != (want[0] == "Y") or (other in got) != (want[1] == "Y"):
            return f"rows {sorted(map(str, got))[:8]}, want own {want[0]} other {want[1]}"
        return None
    letter = want[0] if side == "own" else want[1]
    if letter == "Y":
        ok = r.status_code in ALLOWED
        return None if ok else f"{r.status_code}, want allowed {r.text[:160]}"
    refused = {404, 422} if route in BODY_TARGET else {404}
    return None if r.status_code in refused else f"{r.status_code}, want {refused} {r.text[:120]}"


def seed_telemetry(api: ApiServer) -> None:
    """One weigh-in point per site in the API's telemetry store (for category-days)."""
    writer = open_writer(api.app.state.api.settings.telemetry)  # as the ingest writes
    writer.start()
    at = datetime(2026, 11, 2, 3, tzinfo=UTC)
    try:
        writer.write([
            weighin_point(weighin(device_id=dev, seq=500), at=at, site=site, status="credited",
                          amount_rp=1, price_rp_per_kg=1, household_id=None)
            for dev, site in (("st-bank01", "bank01"), ("st-bank02", "bank02"))
        ])  # fmt: skip
        assert writer.flush(60), "telemetry points not written"
    finally:
        writer.close()


def test_stream_matrix(api: ApiServer, world: World) -> None:
    """The stream row of TABLE: whether site 1's / site 2's events reach each role.

    Own event: household A's weigh-in (for the collector: a pickup assigned to it);
    other: household C's weigh-in (a pickup assigned to collector 2). Every stream reads
    up to a closing event published last, visible to all six.
    """
    i = world.ids
    toks = tokens(api, world)
    want = {role: spec(("GET", f"{V}/stream"), role) for role in ROLES}
    with contextlib.ExitStack() as stack:
        streams = {role: stack.enter_context(listen(api, toks[role])) for role in ROLES}
        credit(api, weighin(seq=88, card_id="CARD-A"),
               weighin(device_id="st-bank02", seq=88, card_id="CARD-C"))  # fmt: skip
        early = until_event(streams["admin"],
                            lambda e: e[0] == "weighin" and e[1]["member_no"] == "M-C")  # fmt: skip
        with api.client(toks["admin"]) as c:
            r = c.post(f"{V}/pickups/{i['pickup-2']}/assign",
                       json={"collector_id": i["collector-2"]})  # fmt: skip
            assert r.status_code == 200, r.text
            r = c.post(f"{V}/households/{i['household-a']}/pickups", json={})
            closing = r.json()["id"]
            r = c.post(f"{V}/pickups/{closing}/assign", json={"collector_id": i["collector-a"]})
            assert r.status_code == 200, r.text
        failures = []
        for role in ROLES:
            got = until_event(streams[role], lambda e: e[0] == "pickup" and e[1]["id"] == closing
                              and e[1]["status"] == "assigned")  # fmt: skip
            got += early if role == "admin" else []
            members = {d["member_no"] for k, d in got if k == "weighin"}
            collectors = {d["collector_id"] for k, d in got if k == "pickup"}
            if role == "collector":
                own, other = i["collector-a"] in collectors, i["collector-2"] in collectors
            else:
                own, other = "M-A" in members, "M-C" in members
            if (own, other) != (want[role][0] == "Y", want[role][1] == "Y"):
                failures.append(f"{role}: own {own}, other {other}; want {want[role]}")
        assert not failures, failures
