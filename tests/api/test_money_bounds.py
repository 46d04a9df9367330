"""Money bounds in the domain: no reversal below zero, bounded prices, no back-dating over
a priced weigh-in, amounts that are JSON integers and nothing else.

The seeded household A has 3 credits of Rp 3,750 and a requested payout of Rp 1,000.

Mutants (each applied by hand, each fails a test here):
  mutant: corrections.reverse_weighin without the funds check -> the overdrawing
          reversal answers 200 -> test_a_reversal_may_not_overdraw fails
  mutant: the check compares with the balance instead of what is available (held
          payouts ignored) -> the reversal passes (balance 11,250 >= 3,750) -> fails
  mutant: set_price without the upper bound -> Rp 10^12/kg answers 201 -> fails
  mutant: set_price without the back-dating check -> the back-dated version is 201 -> fails
  mutant: Rupiah without Strict() -> "7" / true / 1.0 become prices and payouts -> fails
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.pricing import MAX_RP_PER_KG
from tests.api.support import ApiServer, World, login

pytestmark = pytest.mark.integration

V = "/api/v1"


def test_a_reversal_may_not_overdraw(api: ApiServer, world: World) -> None:
    a = world.ids["household-a"]
    with api.client() as c:
        token = login(c, "admin")
    with api.client(token) as c:
        # hold almost everything for a payout: Rp 11,250 - 1,000 - 10,000 = 250 available
        r = c.post(
            f"{V}/households/{a}/payouts",
            json={"amount_rp": 10_000},
            headers={"Idempotency-Key": "bounds-hold"},
        )
        assert r.status_code == 201, r.text
        big = r.json()["id"]
        before = c.get(f"{V}/households/{a}/balance").json()
        assert before["available_rp"] == 250
        r = c.post(
            f"{V}/weighins/{world.ids['weighin-a']}/reverse",
            json={"reason": "card of the neighbour"},
            headers={"Idempotency-Key": "bounds-reverse"},
        )
        assert r.status_code == 409, r.text
        assert "available" in r.json()["detail"]
        assert c.get(f"{V}/households/{a}/balance").json() == before  # nothing moved
        # once the held payout is rejected, the same reversal fits
        for payout in (world.ids["payout-a"], big):
            r = c.post(
                f"{V}/payouts/{payout}/reject",
                json={"reason": "not now"},
                headers={"Idempotency-Key": f"bounds-reject-{payout}"},
            )
            assert r.status_code == 200, r.text
        r = c.post(
            f"{V}/weighins/{world.ids['weighin-a']}/reverse",
            json={"reason": "card of the neighbour"},
            headers={"Idempotency-Key": "bounds-reverse-2"},
        )
        assert r.status_code == 200, r.text
        assert c.get(f"{V}/households/{a}/balance").json()["balance_rp"] == 7_500


def test_prices_are_bounded_and_never_back_dated(api: ApiServer) -> None:
    with api.client() as c:
        token = login(c, "operator")
    prices = f"{V}/categories/plastic-pet/prices"
    with api.client(token) as c:
        for too_much in (10**12, MAX_RP_PER_KG + 1):
            r = c.post(prices, json={"rp_per_kg": too_much})
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "body.rp_per_kg"
        latest = max(
            datetime.fromisoformat(w["effective_at"])
            for w in c.get(f"{V}/weighins", params={"limit": 1000}).json()
            if w["price_rp_per_kg"] is not None
        )
        r = c.post(
            prices,
            json={
                "rp_per_kg": 3_100,
                "effective_from": (latest - timedelta(minutes=1)).isoformat(),
            },
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "body.effective_from"
        r = c.post(
            prices,
            json={
                "rp_per_kg": MAX_RP_PER_KG,  # (a proposal takes effect now or later)
                "effective_from": (max(latest, datetime.now(UTC)) + timedelta(hours=1)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("bad", [True, "7", 1.0, 7.5])
def test_amounts_are_json_integers(api: ApiServer, world: World, bad: object) -> None:
    with api.client() as c:
        token = login(c, "admin")
    with api.client(token) as c:
        r = c.post(
            f"{V}/households/{world.ids['household-a']}/payouts",
            json={"amount_rp": bad},
            headers={"Idempotency-Key": f"strict-{bad!r}"},
        )
        assert r.status_code == 422, r.text
        r = c.post(f"{V}/categories/plastic-pet/prices", json={"rp_per_kg": bad})
        assert r.status_code == 422, r.text
