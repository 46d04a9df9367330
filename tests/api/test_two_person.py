"""Two people for a large payout, through the API (the rule is cloud.payouts'): the
requester cannot approve it, the approver cannot hand out its cash; the dashboard learns
the threshold from /ui-config.

mutant: _decide passing two_person_from_rp=None -> the operator's self-approval passes.
mutant: ui_config without two_person_payout_rp -> the dashboard shows no "2 people" badge
        (the ui-config assertion fails).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.api.support import World, login, serve, settings_for

pytestmark = pytest.mark.integration


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_large_payout_needs_a_second_person_at_each_step(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    hh = world_sqlite.ids["household-a"]  # Rp 10,250 available
    with serve(settings_for(sqlite_url, tmp_path, two_person_payout_rp=5_000)) as api:
        with api.client() as anon:
            op, cashier = login(anon, "operator"), login(anon, "cashier")
        with api.client(op) as c:
            assert c.get("/api/v1/ui-config").json()["two_person_payout_rp"] == 5_000
            small = c.post(
                f"/api/v1/households/{hh}/payouts", json={"amount_rp": 4_999}, headers=_key()
            ).json()["id"]
            assert c.post(f"/api/v1/payouts/{small}/approve", headers=_key()).status_code == 200
            assert c.post(f"/api/v1/payouts/{small}/pay", headers=_key()).status_code == 200
            r = c.post(
                f"/api/v1/households/{hh}/payouts", json={"amount_rp": 5_000}, headers=_key()
            )
            assert r.status_code == 201, r.text
            big = r.json()["id"]
            r = c.post(f"/api/v1/payouts/{big}/approve", headers=_key())
            assert r.status_code == 409, r.text
            assert "needs a second person" in r.json()["detail"]
        with api.client(cashier) as c:
            assert c.post(f"/api/v1/payouts/{big}/approve", headers=_key()).status_code == 200
            r = c.post(f"/api/v1/payouts/{big}/pay", headers=_key())
            assert r.status_code == 409, r.text
            assert "user:cashier approved it" in r.json()["detail"]
        with api.client(op) as c:
            r = c.post(f"/api/v1/payouts/{big}/pay", headers=_key())
            assert r.status_code == 200, r.text
            assert (r.json()["requested_by"], r.json()["decided_by"], r.json()["paid_by"]) == (
                "user:operator",
                "user:cashier",
                "user:operator",
            )
        with api.client() as anon:
            auditor = login(anon, "auditor")
        with api.client(auditor) as c:  # the auditor sees who did each step
            r = c.get("/api/v1/audit", params={"subject": f"payout:{big}"})
            assert r.status_code == 200, r.text
            steps = sorted((e["action"], e["actor"]) for e in r.json()["items"])
        assert steps == [
            ("payout.approve", "user:cashier"),
            ("payout.pay", "user:operator"),
            ("payout.request", "user:operator"),
        ]
