"""The live stream (SSE): operators see weigh-ins, pickups and fills as they happen."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud import crediting
from cloud.db import make_engine, session_factory
from contract.models import to_json
from tests.api.support import ApiServer, World, household_login, login
from tests.cloud.factories import fill, weighin
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration


@contextmanager
def listen(api: ApiServer, token: str, **params: Any) -> Iterator[queue.Queue[tuple[str, Any]]]:
    """Read the stream in a thread; yields a queue of (event type, data)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    client = httpx.Client(base_url=api.url, timeout=httpx.Timeout(30, read=60))

    def run() -> None:
        try:
            with client.stream(
                "GET", "/api/v1/stream", params={"access_token": token, **params}
            ) as r:
                events.put(("status", r.status_code))
                kind = None
                for line in r.iter_lines():  # keep-alives (0.5 s in tests) wake it up
                    if stop.is_set():
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind:
                        events.put((kind, json.loads(line[6:])))
        except (httpx.HTTPError, RuntimeError):
            if not stop.is_set():
                raise

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert events.get(timeout=10) == ("status", 200)
    hub = api.app.state.api.hub
    deadline = time.monotonic() + 10
    while not hub.polling and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.polling
    try:
        yield events
    finally:
        stop.set()
        t.join(20)
        client.close()


def next_of(events: queue.Queue[tuple[str, Any]], kind: str, timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        k, data = events.get(timeout=left)
        if k == kind:
            return data
    raise AssertionError(f"no {kind} event within {timeout_s} s")


def test_operator_sees_weighins_and_pickups_live(api: ApiServer, world: World) -> None:
    with api.client() as c:
        token = login(c, "operator")
    with listen(api, token) as events:
        # ingest credits a weigh-in (same database, another process in production)
        engine = make_engine(api.app.state.api.settings.ledger_url)
        try:
            with session_factory(engine)() as s:
                crediting.credit_weighin(s, event=weighin(seq=77, card_id="CARD-B", net_g=2_000),
                                      received_at=datetime.now(UTC))  # fmt: skip
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
            r = c.post(f"/api/v1/pickups/{pid}/assign",
                       json={"collector_id": world.ids["collector-b"]})  # fmt: skip
            assert r.status_code == 200
        p = next_of(events, "pickup")
        assert (p["id"], p["status"], p["collector_id"]) == (pid, "assigned",
                                                             world.ids["collector-b"])  # fmt: skip


def test_the_stream_is_for_operators_only(api: ApiServer, world: World) -> None:
    with api.client() as c:
        hh = household_login(c, "M-A", world.pins["M-A"])
        col = login(c, "collector-a")
        assert c.get("/api/v1/stream").status_code == 401
        for token in (hh, col):
            assert c.get("/api/v1/stream", params={"access_token": token}).status_code == 403
        assert c.get("/api/v1/stream", params={"access_token": "forged"}).status_code == 401


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


def test_alerts_and_dead_letters_reach_the_stream(api: ApiServer) -> None:
    from cloud.deadletters import add_dead_letter
    from cloud.pickups import raise_alert

    with api.client() as c:
        token = login(c, "operator")
    with listen(api, token, types=["alert", "dead_letter"]) as events:
        engine = make_engine(api.app.state.api.settings.ledger_url)
        try:
            with session_factory(engine)() as s:
                add_dead_letter(s, topic="salinmas/v1/dev/st-x/weighin", payload=b"{oops",
                                reason="malformed", detail="not JSON")  # fmt: skip
                raise_alert(s, kind="lid_open", subject="bn-bin01", message="lid open")
                s.commit()
        finally:
            engine.dispose()
        got = dict([events.get(timeout=10), events.get(timeout=10)])
        assert (got["dead_letter"]["reason"], got["dead_letter"]["topic"]) == (
            "malformed",
            "salinmas/v1/dev/st-x/weighin",
        )
        assert (got["alert"]["kind"], got["alert"]["subject"]) == ("lid_open", "bn-bin01")
