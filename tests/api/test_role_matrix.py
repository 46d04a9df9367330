"""Every route x every role x (own site, other site): allowed or refused, as TABLE says.

The routes come from the app's route table (a new route without a row here fails the
test). Callers: ``admin`` and ``auditor`` (no site), and of site 1 an ``operator``, a
``cashier``, a ``collector`` (collector A) and a ``household`` (household A). "Own"
objects are site 1's (for the household: its own; for the collector: its own pickup),
"other" objects site 2's.

A TABLE cell per role is two letters, own then other: ``Y`` allowed, ``N`` out of
reach, or ``3`` for a role refused outright (403, both sides); ``G`` (programme-wide
objects the world does not hold, e.g. a bank batch) only says the role passes the gate
(neither 401 nor 403). What they mean:

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
  (scope.py's Receivable rule is a second guard: GET /receivables joins Household, whose
  rule alone keeps site 2's out, and the household's own route checks reach first; so
  the one-line mutant "Receivable rule admits every row" passes here, by design)
  mutant: scope.py without the CashDay rule -> the operator's GET /cashbox lists site 2's
          day -> fails
  mutant: the cash box reopen route takes Counter instead of Admin -> operator and
          cashier reopen -> fails
  mutant: the audit log route takes SiteReader instead of ProgrammeReader -> the operator
          reads it -> fails
  mutant: price approval takes Operator instead of Admin -> the operator approves -> fails
(The write guard and the auditor's refusal at the session are below every route's own
check; test_scope.py has their mutants.)
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
import zlib
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cloud import (
    cashbox,
    corrections,
    crediting,
    disbursement,
    enrolment,
    price_changes,
    registrations,
)
from cloud.api.scope import SYSTEM
from cloud.devices import register_device
from cloud.models import Hold, WeighinRecord, utcnow
from cloud.models.doorstep import DoorstepPhoto
from cloud.models.notifications import DELIVERY_STATES
from cloud.notifications import views
from cloud.payouts import reject_payout, request_payout
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
from tests.support.household_lists import household_list

pytestmark = pytest.mark.integration

ROLES = ("household", "collector", "cashier", "operator", "auditor", "admin")
LETTER = {
    "admin": "A",
    "auditor": "U",
    "operator": "O",
    "cashier": "C",
    "collector": "L",
    "household": "H",
}

#: routes open to everyone, or before logging in: not part of the matrix
OUTSIDE = {
    ("GET", "/api/v1/health"): "liveness, no authentication, no data",
    ("POST", "/api/v1/auth/login"): "logging in",
    ("POST", "/api/v1/auth/household-login"): "logging in",
    ("POST", "/api/v1/auth/refresh"): "a refresh token, no caller yet (test_tokens.py)",
    ("POST", "/api/v1/auth/logout"): "ends the caller's own session (test_tokens.py)",
    ("GET", "/api/v1/registrations/sites"): "public: the sites a household may ask to join",
    ("POST", "/api/v1/registrations"): "public: a household asks to join (capped per address)",
    ("GET", "/api/v1/registrations/status"): "public: by the requester's secret reference",
    ("GET", "/api/v1/device-config/{token}"): "the one-time link is its own credential",
    ("POST", "/api/v1/disbursements/callback"): "the provider's callback, HMAC-signed",
    ("GET", "/api/v1/public/verify/{code}"): "public: a receipt's record, nothing personal",
    ("GET", "/api/v1/public/verify/{code}/qr.svg"): "public: the QR of the verify page",
}

SITE_READ = "A:YY U:YY O:YN C:33 L:33 H:33"
COUNTER_READ = "A:YY U:YY O:YN C:YN L:33 H:33"
ACCOUNT_READ = "A:YY U:YY O:YN C:YN L:33 H:YN"
OPERATE = "A:YY U:33 O:YN C:33 L:33 H:33"
COUNTER = "A:YY U:33 O:YN C:YN L:33 H:33"
ADMIN = "A:YY U:33 O:33 C:33 L:33 H:33"
PROGRAMME_READ = "A:YY U:YY O:33 C:33 L:33 H:33"
GATE_SITE_READ = "A:GG U:GG O:GG C:33 L:33 H:33"
GATE_OPERATE = "A:GG U:33 O:GG C:33 L:33 H:33"
GATE_ADMIN = "A:GG U:33 O:33 C:33 L:33 H:33"
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
    ("GET", f"{V}/receivables"): COUNTER_READ,
    ("GET", f"{V}/households/{{household_id}}/receivable"): ACCOUNT_READ,
    ("POST", f"{V}/households/{{household_id}}/receivable/repayments"): COUNTER,
    ("POST", f"{V}/households/{{household_id}}/receivable/write-off"): ADMIN,
    ("POST", f"{V}/households/{{household_id}}/payouts"): "A:YY U:33 O:YN C:YN L:33 H:YN",
    ("GET", f"{V}/households/{{household_id}}/pickups"): "A:YY U:YY O:YN C:33 L:33 H:YN",
    ("POST", f"{V}/households/{{household_id}}/pickups"): "A:YY U:33 O:YN C:33 L:33 H:YN",
    ("GET", f"{V}/payouts"): COUNTER_READ,
    ("POST", f"{V}/payouts/{{payout_id}}/approve"): COUNTER,
    ("POST", f"{V}/payouts/{{payout_id}}/pay"): COUNTER,
    ("POST", f"{V}/payouts/{{payout_id}}/reject"): COUNTER,
    ("GET", f"{V}/weighins"): SITE_READ,
    ("GET", f"{V}/weighins/{{weighin_id}}"): "A:YY U:YY O:YN C:33 L:33 H:YN",
    ("POST", f"{V}/weighins/{{weighin_id}}/assign"): OPERATE,
    ("POST", f"{V}/weighins/{{weighin_id}}/reverse"): OPERATE,
    ("GET", f"{V}/bins"): SITE_READ,
    ("GET", f"{V}/overview"): SITE_READ,
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
    # the administration work: the audit log, prices, onboarding, devices, cash, payouts
    ("GET", f"{V}/audit"): PROGRAMME_READ,
    ("GET", f"{V}/price-changes"): EVERYONE,  # the public price list's pending changes
    ("POST", f"{V}/price-changes"): "A:YY U:33 O:YY C:33 L:33 H:33",  # programme-wide
    ("POST", f"{V}/price-changes/{{change_id}}/approve"): "A:YY U:33 O:33 C:33 L:33 H:33",
    ("POST", f"{V}/price-changes/{{change_id}}/reject"): "A:YY U:33 O:YY C:33 L:33 H:33",
    ("POST", f"{V}/imports/households"): OPERATE,
    ("GET", f"{V}/member-cards.pdf"): SITE_READ,
    ("GET", f"{V}/directory/households"): COUNTER_READ,
    ("GET", f"{V}/registrations"): SITE_READ,
    ("POST", f"{V}/registrations/{{request_id}}/approve"): OPERATE,
    ("POST", f"{V}/registrations/{{request_id}}/reject"): OPERATE,
    ("POST", f"{V}/enrolments"): OPERATE,
    ("GET", f"{V}/enrolments/{{enrolment_id}}"): SITE_READ,
    ("POST", f"{V}/enrolments/{{enrolment_id}}/check"): OPERATE,
    ("POST", f"{V}/enrolments/{{enrolment_id}}/cancel"): OPERATE,
    ("POST", f"{V}/devices/{{device_id}}/config-link"): ADMIN,
    ("GET", f"{V}/cashbox"): COUNTER_READ,
    ("GET", f"{V}/cashbox/{{site_id}}/{{day}}"): COUNTER_READ,
    ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/open"): COUNTER,
    ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/movements"): COUNTER,
    ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/close"): COUNTER,
    ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/reopen"): ADMIN,
    ("POST", f"{V}/payouts/{{payout_id}}/destination"): COUNTER,
    ("GET", f"{V}/payouts/{{payout_id}}/slip"): COUNTER_READ,
    ("GET", f"{V}/disbursements"): COUNTER_READ,
    ("POST", f"{V}/disbursements/{{disbursement_id}}/send"): COUNTER,
    ("POST", f"{V}/disbursements/bank-batches"): ADMIN,  # a transfer file spans sites
    ("GET", f"{V}/disbursements/bank-batches/{{batch_id}}/file"): "A:GG U:GG O:33 C:33 L:33 H:33",
    ("POST", f"{V}/disbursements/bank-batches/{{batch_id}}/settle"): (
        "A:GG U:33 O:33 C:33 L:33 H:33"
    ),
    ("GET", f"{V}/reports/summary"): COUNTER_READ,
    ("GET", f"{V}/reports/summary.csv"): COUNTER_READ,
    # integrity: holds are the site's; a station's trust (keys, builds) is programme-wide
    ("GET", f"{V}/holds"): SITE_READ,
    ("POST", f"{V}/holds/{{weighin_id}}/release"): OPERATE,
    ("POST", f"{V}/holds/{{weighin_id}}/reject"): OPERATE,
    ("GET", f"{V}/devices/{{device_id}}/keys"): SITE_READ,
    ("POST", f"{V}/devices/{{device_id}}/keys/{{key}}/approve"): "A:GG U:33 O:33 C:33 L:33 H:33",
    ("POST", f"{V}/devices/{{device_id}}/keys/{{key}}/retire"): "A:GG U:33 O:33 C:33 L:33 H:33",
    ("GET", f"{V}/devices/{{device_id}}/approvals"): SITE_READ,
    ("POST", f"{V}/devices/{{device_id}}/approvals"): ADMIN,
    ("POST", f"{V}/devices/{{device_id}}/approvals/withdraw"): ADMIN,
    ("GET", f"{V}/devices/{{device_id}}/config-log"): SITE_READ,
    # doorstep pickups and the collectors' routes
    ("GET", f"{V}/pickups/{{pickup_id}}/doorstep"): "A:YY U:YY O:YN C:33 L:YN H:YN",
    ("POST", f"{V}/pickups/{{pickup_id}}/doorstep"): "A:YY U:33 O:YN C:33 L:YN H:33",
    ("GET", f"{V}/weighins/{{weighin_id}}/photo"): SITE_READ,
    ("GET", f"{V}/collectors/{{user_id}}/profile"): "A:YY U:YY O:YN C:33 L:YN H:33",
    ("PUT", f"{V}/collectors/{{user_id}}/profile"): OPERATE,
    ("GET", f"{V}/collectors/{{user_id}}/route"): "A:YY U:YY O:YN C:33 L:YN H:33",
    ("GET", f"{V}/collectors/{{user_id}}/float"): "A:YY U:YY O:YN C:YN L:YN H:33",
    ("POST", f"{V}/collectors/{{user_id}}/float"): COUNTER,
    ("POST", f"{V}/collectors/{{user_id}}/depot"): COUNTER,
    ("GET", f"{V}/sites/{{site_id}}/routes"): SITE_READ,
    ("POST", f"{V}/sites/{{site_id}}/routes/plan"): OPERATE,
    ("PUT", f"{V}/sites/{{site_id}}/location"): ADMIN,  # a site's settings
    # stock, sales, mass balance, fraud cases: reads take ?site_id= (own / other site)
    ("GET", f"{V}/stock"): SITE_READ,
    ("GET", f"{V}/stock/movements"): SITE_READ,
    ("GET", f"{V}/sales"): SITE_READ,
    ("GET", f"{V}/mass-balance"): SITE_READ,
    ("GET", f"{V}/stock/margins"): SITE_READ,
    ("GET", f"{V}/reports/stock-movements.csv"): SITE_READ,
    ("GET", f"{V}/reports/sales.csv"): SITE_READ,
    ("GET", f"{V}/reports/mass-balance.csv"): SITE_READ,
    ("GET", f"{V}/reports/programme"): SITE_READ,
    ("GET", f"{V}/reports/programme.html"): SITE_READ,
    ("GET", f"{V}/cases"): SITE_READ,
    ("GET", f"{V}/reports/cases.csv"): SITE_READ,
    ("GET", f"{V}/opening-hours"): SITE_READ,
    # (the gate only: no stock, cases or payout holds are seeded)
    ("GET", f"{V}/stock/loss-allowances"): GATE_SITE_READ,
    ("GET", f"{V}/fraud-rules"): GATE_SITE_READ,
    ("GET", f"{V}/payout-holds"): GATE_SITE_READ,
    ("POST", f"{V}/sales"): GATE_OPERATE,
    ("POST", f"{V}/stock/counts"): GATE_OPERATE,
    ("POST", f"{V}/stock/losses"): GATE_OPERATE,
    ("POST", f"{V}/stock/transfers"): GATE_OPERATE,
    ("POST", f"{V}/cases/{{case_id}}/{{decision}}"): GATE_OPERATE,
    ("PUT", f"{V}/stock/loss-allowances"): GATE_ADMIN,
    ("PUT", f"{V}/fraud-rules/{{rule}}"): GATE_ADMIN,
    ("POST", f"{V}/fraud/scan"): GATE_ADMIN,
    ("POST", f"{V}/payout-holds/{{hold_id}}/release"): GATE_ADMIN,
    ("PUT", f"{V}/opening-hours"): GATE_ADMIN,
}
#: routes that take the site as ``?site_id=``: own site, then the other
SITE_PARAM = {
    r
    for r, spec in TABLE.items()
    if spec == SITE_READ
    and r[0] == "GET"
    and r[1].split("/api/v1/")[1].split("/")[0]
    in ("stock", "sales", "mass-balance", "cases", "opening-hours", "reports")
    and not r[1].endswith(("weighins.csv", "payouts.csv", "summary", "summary.csv"))
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
        "change_id": i["price-change"],
        "request_id": i["registration-a"] if own else i["registration-2"],
        "enrolment_id": i["enrolment-a"] if own else i["enrolment-2"],
        "disbursement_id": i["disbursement-a"] if own else i["disbursement-2"],
        "batch_id": 1,
        "site_id": i["site"] if own else i["site-2"],
        "day": CASH_DAY,
        "key": "0123456789abcdef",  # no such key (the gate only)
        "case_id": 1,
        "decision": "dismiss",
        "rule": "station_jump",
        "hold_id": 1,
    }
    path = route[1]
    if path.endswith(("/deactivate", "/pin")) or (route[0] == "PATCH" and "households" in path):
        p["household_id"] = i["household-b"] if own else i["household-d"]
    if "/receivable/" in path:  # the households the seed left owing
        p["household_id"] = i["household-b"] if own else i["household-d"]
    if path.endswith("/assign") and "weighins" in path:
        p["weighin_id"] = i["weighin-unassigned"] if own else i["weighin-unassigned-2"]
    if path.startswith(f"{V}/holds/"):
        p["weighin_id"] = i["held-a"] if own else i["held-2"]
    if path.endswith(("/destination", "/slip")):
        p["payout_id"] = i["payout-cash-a"] if own else i["payout-cash-2"]
    if path.endswith("/open"):
        p["day"] = "2026-11-02"  # not yet opened (the seed opened CASH_DAY)
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
        ("POST", f"{V}/households/{{household_id}}/pickups"): {
            "note": "matrix",
            "categories": ["plastic-pet"],
        },
        ("POST", f"{V}/payouts/{{payout_id}}/reject"): {"reason": "matrix rejects"},
        ("POST", f"{V}/households/{{household_id}}/receivable/repayments"): {"amount_rp": 1},
        ("POST", f"{V}/households/{{household_id}}/receivable/write-off"): {
            "amount_rp": 1,
            "reason": "matrix writes off",
        },
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
        ("POST", f"{V}/price-changes"): {"category": "plastic-pet", "rp_per_kg": 3_100},
        ("POST", f"{V}/price-changes/{{change_id}}/reject"): {"reason": "matrix rejects"},
        ("POST", f"{V}/registrations/{{request_id}}/reject"): {"reason": "matrix rejects"},
        ("POST", f"{V}/enrolments"): {
            "device_id": "st-enrola" if own else "st-enrol2",  # (the st-bank0x are revoked)
            "household_id": i["household-a" if own else "household-c"],
        },
        ("POST", f"{V}/imports/households"): household_list(
            1, site=site_code, taken_card="-", planted=False, prefix=f"{role[:2]}{side[:2]}{n}"
        )[0],
        ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/open"): {"opening_float_rp": 1_000},
        ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/movements"): {"kind": "sale", "amount_rp": 5},
        ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/close"): {"counted_rp": 0, "reason": "mx"},
        ("POST", f"{V}/cashbox/{{site_id}}/{{day}}/reopen"): {"reason": "matrix reopens"},
        ("POST", f"{V}/payouts/{{payout_id}}/destination"): {
            "method": "bill",
            "provider": "pln",
            "account": "12345678",
        },
        ("POST", f"{V}/disbursements/bank-batches"): {
            "disbursement_ids": [i["disbursement-a" if own else "disbursement-2"]],
            "on": "2026-11-30",
        },
        ("POST", f"{V}/disbursements/bank-batches/{{batch_id}}/settle"): {},
        ("POST", f"{V}/holds/{{weighin_id}}/release"): {"note": "matrix releases"},
        ("POST", f"{V}/holds/{{weighin_id}}/reject"): {"note": "matrix rejects"},
        ("POST", f"{V}/devices/{{device_id}}/approvals"): APPROVAL,
        ("POST", f"{V}/devices/{{device_id}}/approvals/withdraw"): APPROVAL,
        ("POST", f"{V}/pickups/{{pickup_id}}/doorstep"): {
            "phone_id": f"ph-matrix{n:04d}",
            "seq": 1,
            "completed_at": "2026-11-30T03:00:00Z",
            "clock_synced": True,
            "boot_id": "6f1c2a8e-0000-4000-8000-000000000001",
            "mono_ms": 1_000,
            "payment": "savings",
            "lines": [
                {
                    "seq": 2,
                    "category": "plastic-pet",
                    "net_g": 1_000,
                    "weighed_at": "2026-11-30T02:59:00Z",
                    "entry": "typed",
                }
            ],
        },
        ("PUT", f"{V}/collectors/{{user_id}}/profile"): {"site_id": site_id, "capacity_kg": 60},
        ("POST", f"{V}/collectors/{{user_id}}/float"): {"amount_rp": 1_000},
        ("POST", f"{V}/collectors/{{user_id}}/depot"): {},
        ("PUT", f"{V}/sites/{{site_id}}/location"): {"lat": -7.45, "lon": 109.3},
    }
    return bodies.get(route)


def markers(world: World, api: ApiServer) -> dict[tuple[str, str], tuple[Any, Any, Any]]:
    """List routes: (own marker, other marker, rows -> markers found)."""
    i = world.ids

    def ids(key: str) -> Any:
        return lambda r: {x[key] for x in r.json()}

    def items(key: str) -> Any:
        return lambda r: {x[key] for x in r.json()["items"]}

    def sites(r: httpx.Response) -> set[str]:
        return set(re.findall(r"Bank 0[12]", r.text))

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
        ("GET", f"{V}/households"): (i["household-a"], i["household-c"], items("id")),
        ("GET", f"{V}/payouts"): (i["payout-a"], i["payout-c"], ids("id")),
        ("GET", f"{V}/receivables"): (i["household-b"], i["household-d"], ids("household_id")),
        ("GET", f"{V}/weighins"): (i["weighin-a"], i["weighin-c"], ids("id")),
        ("GET", f"{V}/bins"): ("bn-bin01", "bn-bin02", ids("bin_id")),
        ("GET", f"{V}/overview"): (
            i["site"],
            i["site-2"],
            lambda r: {s["site_id"] for s in r.json()["sites"] if s["bins"]},
        ),
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
        ("GET", f"{V}/audit"): ("site 1", "site 2", audit_sites(world)),
        ("GET", f"{V}/price-changes"): (i["price-change"], i["price-change"], items("id")),
        ("GET", f"{V}/directory/households"): (i["household-a"], i["household-c"], items("id")),
        ("GET", f"{V}/registrations"): (i["registration-a"], i["registration-2"], items("id")),
        ("GET", f"{V}/cashbox"): (i["site"], i["site-2"], items("site_id")),
        ("GET", f"{V}/disbursements"): (i["disbursement-a"], i["disbursement-2"], items("id")),
        ("GET", f"{V}/reports/summary"): ("Bank 01", "Bank 02", sites),
        ("GET", f"{V}/reports/summary.csv"): ("Bank 01", "Bank 02", sites),
        ("GET", f"{V}/member-cards.pdf"): ("M-A", "M-C", pdf_members),
        ("GET", f"{V}/holds"): (
            i["held-a"],
            i["held-2"],
            lambda r: {x["weighin"]["id"] for x in r.json()},
        ),
    }


LIST_QUERY = {
    "from": "2026-01-01",
    "to": "2026-12-31",
    "by": "site",
    "start": "2026-10-01T00:00:00Z",
    "active_only": "false",
    "limit": 500,
    "on": "2026-11-30",
    "filename": "list.csv",
    "dry_run": "false",
}
#: a build approved (then withdrawn) on a station
APPROVAL = {"kind": "software", "digest": "ab" * 32}
#: the cash day the seed opens in both sites
CASH_DAY = "2026-11-01"
#: the import's answer when its rows name a site out of reach
IMPORT = ("POST", f"{V}/imports/households")


def audit_sites(world: World) -> Any:
    """Which sites' rows an audit page holds (the seed audits actions in both)."""

    def found(r: httpx.Response) -> set[str]:
        sites = {row.get("site_id") for row in r.json()["items"]}
        names = {world.ids["site"]: "site 1", world.ids["site-2"]: "site 2"}
        return {name for n, name in names.items() if n in sites}

    return found


def pdf_members(r: httpx.Response) -> set[str]:
    """The member numbers printed on a card sheet (in its page streams: ASCII85 + deflate)."""
    assert r.content.startswith(b"%PDF"), r.content[:40]
    text = b""
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", r.content, re.S):
        with contextlib.suppress(ValueError, zlib.error):  # ASCII85, then deflate
            text += zlib.decompress(base64.a85decode(raw.strip(), adobe=True))
    return {m.decode() for m in re.findall(rb"M-[AC]\b", text + r.content)}


def seed_admin(api: ApiServer, world: World) -> None:
    """The administration objects of both sites: a registration request, a card enrolment,
    a cash day and a payout with a bill destination each; one pending price change."""
    i = world.ids
    with api.app.state.api.sessions(info={"scope": SYSTEM}) as s:
        for tag, site, hh, dev in (
            ("a", "site", "household-a", "st-bank01"),
            ("2", "site-2", "household-c", "st-bank02"),
        ):
            _, req = registrations.request(
                s,
                name=f"Calon {tag}",
                address=None,
                phone="081234567890",
                site_id=i[site],
                pin="1234",
                client=f"seed-{tag}",
            )
            i[f"registration-{tag}"] = req.id
            i[f"enrolment-{tag}"] = enrolment.start(
                s, device_id=dev, household_id=i[hh], by="seed"
            ).id
            register_device(
                s,
                device_id=f"st-enrol{tag}",
                kind="station",
                site="bank01" if tag == "a" else "bank02",
            )
            cashbox.open_day(
                s, site_id=i[site], day=date.fromisoformat(CASH_DAY), float_rp=0, by="seed"
            )
            held = request_payout(s, household_id=i[hh], amount_rp=200, by="seed")
            i[f"disbursement-{tag}"] = disbursement.attach(
                s,
                payout_id=held.id,
                method="bill",
                provider="pln",
                account="98765432",
                account_name=None,
                by="seed",
            ).id
            i[f"payout-cash-{tag}"] = request_payout(
                s, household_id=i[hh], amount_rp=100, by="seed"
            ).id
        for hh, dev, card in (
            ("household-b", "st-bank01", "CARD-B"),
            ("household-d", "st-bank02", "CARD-D"),
        ):
            # a receivable each (of households no later row credits): credited, the
            # money held for a payout, the credit reversed, the payout rejected
            crediting.credit_weighin(
                s, event=weighin(device_id=dev, seq=60, card_id=card), received_at=utcnow()
            )
            hold = request_payout(s, household_id=i[hh], amount_rp=3_750, by="seed")
            credited = s.scalar(
                select(WeighinRecord.id).where(WeighinRecord.event_id == f"{dev}:60")
            )
            assert credited is not None
            corrections.reverse_weighin(s, weighin_id=credited, reason="seed owes", by="seed")
            reject_payout(s, payout_id=hold.id, by="seed", reason="seed")
        for tag, dev in (("a", "st-bank01"), ("2", "st-bank02")):  # an open hold each
            crediting.credit_weighin(
                s, event=weighin(device_id=dev, seq=40, card_id="NONE"), received_at=utcnow()
            )
            held = s.scalar(select(WeighinRecord.id).where(WeighinRecord.event_id == f"{dev}:40"))
            s.add(Hold(weighin_id=held, device_id=dev, kind="signature", detail="seed"))
            i[f"held-{tag}"] = held
        for w in ("weighin-a", "weighin-c"):  # a doorstep photo of each site's weigh-in
            s.add(DoorstepPhoto(weighin_id=i[w], media_type="image/png", data=b"\x89PNG"))
        i["price-change"] = price_changes.propose(
            s, category="plastic-pet", rp_per_kg=3_050, effective_from=None, by="user:seed"
        ).id
        s.commit()


def delivery_totals(api: ApiServer, world: World) -> tuple[int, int]:
    """Notification deliveries now: of every site, and of site 1."""
    with api.app.state.api.read_sessions(info={"scope": SYSTEM}) as s:
        totals = [
            sum(
                n
                for row in views.counters(s, now=utcnow(), site_id=site).values()
                for k, n in row.items()
                if k in DELIVERY_STATES
            )
            for site in (None, world.ids["site"])
        ]
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
    seed_admin(api, world)
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
                sides = ["own", "other"] if route in SITE_PARAM and want != "33" else sides
                for side in sides:
                    url = fill(path, targets(world, side, route, role))
                    headers = {
                        "Authorization": f"Bearer {toks[role]}",
                        "Idempotency-Key": f"matrix-{next(_seq)}",
                    }
                    b = body(world, side, route, role)
                    payload = {"content": b} if isinstance(b, bytes) else {"json": b}
                    params: dict[str, Any] = dict(LIST_QUERY)
                    if route in SITE_PARAM:
                        params["site_id"] = world.ids["site" if side == "own" else "site-2"]
                    r = c.request(method, url, headers=headers, params=params, **payload)
                    c.cookies.clear()  # no refresh cookie carried from one role to the next
                    tried += 1
                    problem = judge(route, role, side, want, r, lists)
                    if problem:
                        failures.append(f"{role:9} {side:5} {method} {url}: {problem}")
    assert not failures, f"{len(failures)} of {tried}:\n" + "\n".join(failures)
    assert tried > 6 * len(TABLE)


def judge(
    route: tuple[str, str],
    role: str,
    side: str,
    want: str,
    r: httpx.Response,
    lists: dict[tuple[str, str], Any],
) -> str | None:
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
    if letter == "G":
        return None if r.status_code not in (401, 403) else f"{r.status_code}, want the gate"
    if route == IMPORT and letter == "N":  # the file names a site out of reach: refused whole
        codes = {p["code"] for p in r.json().get("problems", [])} if r.status_code == 409 else ()
        return None if "unknown_site" in codes else f"{r.status_code}, want 409 unknown_site"
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
        writer.write(
            [
                weighin_point(
                    weighin(device_id=dev, seq=500),
                    at=at,
                    site=site,
                    status="credited",
                    amount_rp=1,
                    price_rp_per_kg=1,
                    household_id=None,
                )
                for dev, site in (("st-bank01", "bank01"), ("st-bank02", "bank02"))
            ]
        )
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
        credit(
            api,
            weighin(seq=88, card_id="CARD-A"),
            weighin(device_id="st-bank02", seq=88, card_id="CARD-C"),
        )
        early = until_event(
            streams["admin"], lambda e: e[0] == "weighin" and e[1]["member_no"] == "M-C"
        )
        with api.client(toks["admin"]) as c:
            r = c.post(
                f"{V}/pickups/{i['pickup-2']}/assign", json={"collector_id": i["collector-2"]}
            )
            assert r.status_code == 200, r.text
            r = c.post(
                f"{V}/pickups/{i['household-pickup-a']}/cancel",
                json={"reason": "one open request per household"},
            )
            assert r.status_code == 200, r.text
            r = c.post(
                f"{V}/households/{i['household-a']}/pickups", json={"categories": ["plastic-pet"]}
            )
            assert r.status_code == 201, r.text
            closing = r.json()["id"]
            r = c.post(f"{V}/pickups/{closing}/assign", json={"collector_id": i["collector-a"]})
            assert r.status_code == 200, r.text
        failures = []
        for role in ROLES:
            got = until_event(
                streams[role],
                lambda e: (
                    e[0] == "pickup" and e[1]["id"] == closing and e[1]["status"] == "assigned"
                ),
            )
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
