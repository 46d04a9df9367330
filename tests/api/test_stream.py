"""The live stream (SSE): operators see weigh-ins, pickups and fills as they happen."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud import crediting
from cloud.db import make_engine, session_factory
from contract.models import to_json
from tests.api.support import (
    ApiServer,
    World,
    credit,
    household_login,
    listen,
    login,
    next_of,
    until_event,
)
from tests.cloud.factories import fill, weighin
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration

#: a household asks for a pickup of a category it has
PET = {"categories": ["plastic-pet"]}


def test_operator_sees_weighins_and_pickups_live(api: ApiServer, world: World) -> None:
    with api.client() as c:
        token = login(c, "operator")
    with listen(api, token) as events:
        # ingest credits a weigh-in (same database, another process in production)
        engine = make_engine(api.app.state.api.settings.ledger_url)
        try:
            with session_factory(engine)() as s:
                crediting.credit_weighin(
                    s,
                    event=weighin(seq=77, card_id="CARD-B", net_g=2_000),
                    received_at=datetime.now(UTC),
                )
                s.commit()
        finally:
            engine.dispose()
        w = next_of(events, "weighin")
        assert (w["member_no"], w["net_g"], w["amount_rp"], w["status"]) == (
            "M-B",
            2_000,
            6_000,
            "credited",
        )
        # an operator assigns a pickup through the API: the board updates live
        with api.client(token) as c:
            pid = world.ids["pickup-a"]
            r = c.post(
                f"/api/v1/pickups/{pid}/assign", json={"collector_id": world.ids["collector-b"]}
            )
            assert r.status_code == 200
        p = next_of(events, "pickup")
        assert (p["id"], p["status"], p["collector_id"]) == (
            pid,
            "assigned",
            world.ids["collector-b"],
        )


def test_each_caller_streams_only_what_it_reaches(api: ApiServer, world: World) -> None:
    """The stream is open to every role and carries only events within the caller's reach.

    Each stream waits for a closing event published after the others (the hub hands
    every event to every queue in publish order, one connection each), so whatever it
    did not get before that, it was never sent.
    mutant: stream.py drops the ``scope.admits`` filter -> operators and households see
            the other site's weigh-in -> fails
    mutant: Scope.admits lets site staff through on household_id alone -> fails
    """
    ids = world.ids
    with api.client() as c:
        tokens = {
            "admin": login(c, "admin"),
            "operator": login(c, "operator"),
            "operator-2": login(c, "operator-2"),
            "collector-a": login(c, "collector-a"),
            "household-a": household_login(c, "M-A", world.pins["M-A"]),
            "household-c": household_login(c, "M-C", world.pins["M-C"]),
        }
    # one open request per household: the seeded ones are withdrawn before the streams open
    for who, seeded in (
        ("household-a", "household-pickup-a"),
        ("household-c", "household-pickup-2"),
    ):
        with api.client(tokens[who]) as c:
            r = c.post(f"/api/v1/pickups/{ids[seeded]}/cancel", json={"reason": "not needed"})
            assert r.status_code == 200, r.text
    with contextlib.ExitStack() as stack:
        streams = {who: stack.enter_context(listen(api, tok)) for who, tok in tokens.items()}
        credit(
            api,
            weighin(seq=77, card_id="CARD-A"),
            weighin(device_id="st-bank02", seq=77, card_id="CARD-C"),
        )
        seen = until_event(
            streams["admin"], lambda e: e[0] == "weighin" and e[1]["member_no"] == "M-C"
        )
        assert {d["member_no"] for k, d in seen if k == "weighin"} >= {"M-A", "M-C"}
        with api.client(tokens["household-a"]) as c:
            r = c.post(f"/api/v1/households/{ids['household-a']}/pickups", json=PET)
            assert r.status_code == 201, r.text
            p1 = r.json()["id"]
        with api.client(tokens["household-c"]) as c:
            r = c.post(f"/api/v1/households/{ids['household-c']}/pickups", json=PET)
            assert r.status_code == 201, r.text
            p2 = r.json()["id"]
        with api.client(tokens["operator"]) as c:
            r = c.post(f"/api/v1/pickups/{p1}/assign", json={"collector_id": ids["collector-a"]})
            assert r.status_code == 200, r.text

        def closing(pid: int, status: str) -> Any:
            return lambda e: e[0] == "pickup" and e[1]["id"] == pid and e[1]["status"] == status

        def summary(got: list[Any]) -> set[tuple[str, Any]]:
            return {
                (k, d.get("member_no") if k == "weighin" else d["id"])
                for k, d in got
                if k in ("weighin", "pickup")
            }

        site1 = {("weighin", "M-A"), ("pickup", p1)}
        site2 = {("weighin", "M-C"), ("pickup", p2)}
        for who in ("operator", "household-a"):
            assert summary(until_event(streams[who], closing(p1, "assigned"))) == site1, who
        for who in ("operator-2", "household-c"):
            assert summary(until_event(streams[who], closing(p2, "open"))) == site2, who
        assert summary(until_event(streams["collector-a"], closing(p1, "assigned"))) == {
            ("pickup", p1)
        }


def test_the_stream_refuses_missing_and_forged_tokens(api: ApiServer) -> None:
    with api.client() as c:
        assert c.get("/api/v1/stream").status_code == 401
        assert c.get("/api/v1/stream", params={"ticket": "forged"}).status_code == 401
        token = login(c, "operator")  # an access token in the URL is no way in
        assert c.get("/api/v1/stream", params={"access_token": token}).status_code == 401


def test_fills_from_the_broker_reach_the_stream(
    api_with_broker: ApiServer, mosquitto: MosquittoServer
) -> None:
    api = api_with_broker
    with api.client() as c:
        admin = login(c, "admin")
    with api.client(admin) as c:
        r = c.post("/api/v1/devices", json={"device_id": "bn-live01", "kind": "bin"})
        creds = r.json()
    dev = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bn-live01")
    dev.username_pw_set("bn-live01", creds["mqtt_password"])
    deadline = time.monotonic() + 10
    while True:  # the broker picks up the new account after its reload
        try:
            if dev.connect("127.0.0.1", mosquitto.port) == 0:
                break
        except (ConnectionError, OSError):
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)
    dev.loop_start()
    with listen(api, admin, types=["fill"]) as events:
        msg = fill(device_id="bn-live01", seq=5, fill_pct=83.5)
        dev.publish("salinmas/v1/dev/bn-live01/fill", to_json(msg), qos=1).wait_for_publish(5)
        f = next_of(events, "fill")
        assert (f["device_id"], f["bin_id"], f["fill_pct"], f["seq"]) == (
            "bn-live01",
            "bn-live01",
            83.5,
            5,
        )
    dev.disconnect()
    dev.loop_stop()


def test_alerts_and_dead_letters_reach_the_stream(api: ApiServer, world: World) -> None:
    from cloud.deadletters import add_dead_letter
    from cloud.pickups import raise_alert

    with api.client() as c:
        token = login(c, "operator")
    with listen(api, token, types=["alert", "dead_letter"]) as events:
        engine = make_engine(api.app.state.api.settings.ledger_url)
        try:
            with session_factory(engine)() as s:
                # from a device of the operator's site, about a bin of its site
                add_dead_letter(
                    s,
                    topic="salinmas/v1/dev/st-bank01/weighin",
                    payload=b"{oops",
                    reason="malformed",
                    detail="not JSON",
                    client_hint="st-bank01",
                )
                raise_alert(
                    s, kind="tilt", subject="bn-bin01", message="tilted", site_id=world.ids["site"]
                )
                s.commit()
        finally:
            engine.dispose()
        got = dict([events.get(timeout=10), events.get(timeout=10)])
        assert (got["dead_letter"]["reason"], got["dead_letter"]["topic"]) == (
            "malformed",
            "salinmas/v1/dev/st-bank01/weighin",
        )
        assert (got["alert"]["kind"], got["alert"]["subject"]) == ("tilt", "bn-bin01")
