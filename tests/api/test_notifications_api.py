"""Notifications through the API (real HTTP, SQLite): a household's inbox and preferences,
the operators' delivery list, counters and an audited resend."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from cloud import auth
from cloud.db import make_engine, session_factory
from cloud.models.notifications import NotificationAttempt, NotificationDelivery
from cloud.notifications import Outgoing, enqueue_many, views
from cloud.notifications.channels.base import Outcome
from cloud.notifications.preferences import ChannelSpec, register_channels
from cloud.notifications.queue import Policy, apply_outcome
from tests.api.support import PASSWORD, ApiServer, World, household_login, login

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _credit(n: int) -> dict[str, object]:
    return {
        "event_id": f"st-bank01:{n}",
        "net_g": 880,
        "category": "plastic-pet",
        "amount_rp": 2640,
        "balance_rp": 2640 * n,
        "at": AT.isoformat(),
    }


def _session(api: ApiServer) -> Session:
    return session_factory(make_engine(api.app.state.api.settings.ledger_url))()


@pytest.fixture
def told(api: ApiServer, world: World) -> dict[str, int]:
    """Two credits told to household A, one to B; A's WhatsApp delivery is dead."""
    a, b = world.ids["household-a"], world.ids["household-b"]
    with _session(api) as s:
        inapp = s.query(NotificationDelivery).filter_by(channel="inapp")
        # (what bank01's operator sees: the seed has another site's deliveries too)
        site1 = views.counters(s, now=AT, site_id=world.ids["site"]).get("inapp", {})
        before = {
            "a_before": inapp.filter_by(recipient=f"household:{a}").count(),
            "inapp_before": site1.get("sent", 0),
        }
        s.rollback()
        register_channels(
            s, [ChannelSpec("wa", "apprise", household_default=True, needs_address=False)]
        )
        enqueue_many(
            s,
            [
                Outgoing("weighin_credited", "w:a1", _credit(1), a),
                Outgoing("weighin_credited", "w:a2", _credit(2), a),
                Outgoing("weighin_credited", "w:b1", _credit(1), b),
            ],
            at=AT,
        )
        s.flush()
        wa = s.query(NotificationDelivery).filter_by(channel="wa").order_by(NotificationDelivery.id)
        dead = wa.first()
        assert dead is not None
        s.add(NotificationAttempt(delivery_id=dead.id, started_at=AT, by="test"))
        s.flush()
        apply_outcome(
            s,
            dead,
            Outcome("dead", error="wa: gateway refused or unreachable"),
            policy=Policy(sender="test"),
            now=AT,
        )
        s.commit()
        return {"dead": dead.id, **before}


def test_a_household_reads_its_own_inbox_only(
    api: ApiServer, world: World, told: dict[str, int]
) -> None:
    a, b = world.ids["household-a"], world.ids["household-b"]
    with api.client() as anon:
        token_a = household_login(anon, "M-A", world.pins["M-A"])
    with api.client(token_a) as c:
        r = c.get(f"/api/v1/households/{a}/inbox")
        assert r.status_code == 200, r.text
        body = r.json()
        seeded = told["a_before"]
        assert body["unread"] == seeded + 2
        head = "Salinmas M-A: 0,88 kg Plastik PET = Rp 2.640 masuk."
        assert [i["text"] for i in body["items"][:2]] == [
            f"{head} Saldo Rp 5.280. 01-12-2026 10:00 WIB.",
            f"{head} Saldo Rp 2.640. 01-12-2026 10:00 WIB.",
        ]
        # the seeded world's own credits (3 x Rp 3.750 at the station) told themselves
        credited = [i["text"] for i in body["items"] if i["event"] == "weighin_credited"][2:]
        balances = [re.findall(r"Saldo (Rp [\d.]*\d)", t) for t in credited]
        assert balances == [["Rp 11.250"], ["Rp 7.500"], ["Rp 3.750"]]
        assert c.get(f"/api/v1/households/{b}/inbox").status_code == 404
        first = body["items"][1]["id"]
        assert c.post(f"/api/v1/households/{a}/inbox/read", json={"ids": [first]}).json() == {
            "marked": 1
        }
        assert c.get(f"/api/v1/households/{a}/inbox").json()["unread"] == seeded + 1
        assert c.post(f"/api/v1/households/{b}/inbox/read", json={}).status_code == 404
        marked = c.post(f"/api/v1/households/{a}/inbox/read", json={}).json()
        assert marked == {"marked": seeded + 1}
        assert c.get("/api/v1/notifications").status_code == 403


def test_preferences_opt_out_and_validation(
    api: ApiServer, world: World, told: dict[str, int]
) -> None:
    a, b = world.ids["household-a"], world.ids["household-b"]
    with api.client() as anon:
        token_a = household_login(anon, "M-A", world.pins["M-A"])
    url = f"/api/v1/households/{a}/notification-preferences"
    with api.client(token_a) as c:
        r = c.get(url)
        assert r.json() == {
            "opt_out": False,
            "channels": ["inapp", "wa"],
            "chosen_channels": None,
            "lang": "id",
            "quiet_hours": None,
            "available": ["inapp", "wa"],
        }
        r = c.put(url, json={"channels": ["sms-nope"]})
        assert r.status_code == 422
        assert "unknown channel(s) sms-nope" in r.text
        r = c.put(url, json={"quiet_hours": ["22:00", "05:30"], "lang": "en"})
        assert (r.status_code, r.json()["quiet_hours"], r.json()["lang"]) == (
            200,
            ["22:00", "05:30"],
            "en",
        )
        assert c.put(url, json={"quiet_hours": ["25:00", "05:30"]}).status_code == 422
        r = c.put(url, json={"opt_out": True})
        assert (r.json()["opt_out"], r.json()["channels"]) == (True, [])
        assert (
            c.put(
                f"/api/v1/households/{b}/notification-preferences", json={"opt_out": True}
            ).status_code
            == 404
        )
    with _session(api) as s:
        enqueue_many(s, [Outgoing("payout_paid", "p:a", {"amount_rp": 1000}, a)], at=AT)
        s.commit()
    with api.client(token_a) as c:
        unread = c.get(f"/api/v1/households/{a}/inbox").json()["unread"]
        assert unread == told["a_before"] + 2  # nothing new


def test_operators_see_deliveries_counters_and_resend_audited(
    api: ApiServer, world: World, told: dict[str, int]
) -> None:
    with api.client() as anon:
        token = login(anon, "operator")
    dead = told["dead"]
    with api.client(token) as c:
        rows = c.get("/api/v1/notifications", params={"status": "dead"}).json()
        assert [(r["id"], r["channel"], r["last_error"]) for r in rows] == [
            (dead, "wa", "wa: gateway refused or unreachable")
        ]
        counters = c.get("/api/v1/notifications/counters").json()
        assert counters["inapp"]["sent"] == told["inapp_before"] + 3
        assert (counters["wa"]["dead"], counters["wa"]["pending"]) == (1, 2)
        r = c.post(f"/api/v1/notifications/{dead}/resend")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["resends"]) == ("pending", 1)
        attempts = c.get(f"/api/v1/notifications/{dead}/attempts").json()
        assert [(x["outcome"], x["by"]) for x in attempts] == [
            ("dead", "test"),
            ("resend", "user:operator"),
        ]
        inapp = rows and c.get("/api/v1/notifications", params={"channel": "inapp"}).json()[0]["id"]
        assert c.post(f"/api/v1/notifications/{inapp}/resend").status_code == 409
        assert c.post("/api/v1/notifications/999999/resend").status_code == 404


def test_an_operator_of_another_site_sees_none_of_it(
    api: ApiServer, world: World, told: dict[str, int]
) -> None:
    """mutant: the list ignores the operator's site -> bank03's operator sees bank01's."""
    with _session(api) as s:
        from cloud import households

        other = households.ensure_site(s, code="bank03", name="Bank 03")
        auth.create_user(
            s, username="op-bank03", password=PASSWORD, role="operator", site_id=other.id
        )
        s.commit()
    with api.client() as anon:
        token = login(anon, "op-bank03")
    with api.client(token) as c:
        assert c.get("/api/v1/notifications").json() == []
        assert c.get("/api/v1/notifications/counters").json() == {}
        assert c.post(f"/api/v1/notifications/{told['dead']}/resend").status_code == 404
