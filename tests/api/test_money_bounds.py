"""Money bounds in the domain: no balance below zero through a reversal (the rest is
owed), bounded prices, no back-dating over a priced weigh-in, amounts that are JSON
integers and nothing else.

The seeded household A has 3 credits of Rp 3,750 and a requested payout of Rp 1,000.

Mutants (each applied by hand, each fails a test here):
  mutant: corrections.reverse_weighin without the split (the original postings
          reversed whole) -> available -3,500, nothing owed ->
          test_a_reversal_never_overdraws_and_the_rest_is_owed fails
  mutant: the split takes back up to the balance instead of what is available (held
          payouts ignored) -> owed 0 -> fails
  mutant: routes/receivables.py write-off without the Reason type -> "x" is 201 -> fails
  mutant: set_price without the upper bound -> Rp 10^12/kg answers 201 -> fails
  mutant: set_price without the back-dating check -> the back-dated version is 201 -> fails
  mutant: Rupiah without Strict() -> "7" / true / 1.0 become prices and payouts -> fails
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.pricing import MAX_RP_PER_KG
from tests.api.support import ApiServer, World, household_login, login

pytestmark = pytest.mark.integration

V = "/api/v1"


def test_a_reversal_never_overdraws_and_the_rest_is_owed(api: ApiServer, world: World) -> None:
    a = world.ids["household-a"]
    with api.client() as c:
        token = login(c, "admin")
        pin_token = household_login(c, "M-A", world.pins["M-A"])
    with api.client(token) as c:
        # hold almost everything for a payout: Rp 11,250 - 1,000 - 10,000 = 250 available
        r = c.post(
            f"{V}/households/{a}/payouts",
            json={"amount_rp": 10_000},
            headers={"Idempotency-Key": "bounds-hold"},
        )
        assert r.status_code == 201, r.text
        assert c.get(f"{V}/households/{a}/balance").json()["available_rp"] == 250
        r = c.post(
            f"{V}/weighins/{world.ids['weighin-a']}/reverse",
            json={"reason": "card of the neighbour"},
            headers={"Idempotency-Key": "bounds-reverse"},
        )
        assert r.status_code == 200, r.text
        # 250 taken back, the 3,500 held for payouts is owed; nothing below zero
        assert (r.json()["balance_rp"], r.json()["owed_rp"]) == (11_000, 3_500)
        bal = c.get(f"{V}/households/{a}/balance").json()
        assert (bal["balance_rp"], bal["held_rp"], bal["available_rp"]) == (11_000, 11_000, 0)
        owing = c.get(f"{V}/receivables").json()
        assert [(x["household_id"], x["owed_rp"]) for x in owing] == [(a, 3_500)]
        assert owing[0]["reversals"] == [{"weighin_id": world.ids["weighin-a"], "owed_rp": 3_500}]
        r = c.post(
            f"{V}/households/{a}/receivable/write-off",
            json={"amount_rp": 500, "reason": "x"},
            headers={"Idempotency-Key": "bounds-write-off-short"},
        )
        assert r.status_code == 422, r.text  # a reason of at least 3 characters
        r = c.post(
            f"{V}/households/{a}/receivable/write-off",
            json={"amount_rp": 500, "reason": "agreed with the waste bank"},
            headers={"Idempotency-Key": "bounds-write-off"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["owed_rp"] == 3_000
    with api.client(pin_token) as c:  # the household sees what it owes
        mine = c.get(f"{V}/households/{a}/receivable").json()
        assert (mine["owed_rp"], mine["reversals"][0]["weighin_id"]) == (
            3_000,
            world.ids["weighin-a"],
        )


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
