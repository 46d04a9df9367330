"""Device provisioning and revocation against the real Mosquitto, and commands over MQTT."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.api.support import ApiServer, World, login
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


class Probe:
    """A paho client that records its CONNACK code and the messages it receives."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.port = port
        self.rc: int | None = None
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.disconnected = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        # a device account may only use its own id as client id (any id for a service)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_disconnect = lambda *_a: self.disconnected.set()
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: self.subscribed.set()

    def subscribe(self, topic: str, timeout_s: float = 10) -> None:
        """Subscribe and wait for the broker's SUBACK (so nothing published after is missed)."""
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(timeout_s), f"no SUBACK for {topic}"

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.rc = rc.value
        self.answered.set()
        if not rc.is_failure:
            self.connected.set()

    def connect(self, timeout_s: float = 10) -> int | None:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self.answered.wait(timeout_s)
        return self.rc

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_provision_then_revoke_at_the_real_broker(
    api_with_broker: ApiServer, mosquitto: MosquittoServer
) -> None:
    api = api_with_broker
    with api.client() as anon:
        admin = login(anon, "admin")
    with api.client(admin) as c:
        r = c.post("/api/v1/devices", json={"device_id": "st-new01", "kind": "station"})
        assert r.status_code == 201, r.text
        creds = r.json()
        assert creds["mqtt_username"] == "st-new01"
        assert len(creds["mqtt_password"]) >= 24
        # the password is shown once: neither the listing nor a second provision reveal it
        assert creds["mqtt_password"] not in c.get("/api/v1/devices").text
        assert (
            c.post("/api/v1/devices", json={"device_id": "st-new01", "kind": "station"}).status_code
            == 409
        )

    # the account exists once the API answered (dynsec's control topic is synchronous)
    def connects() -> bool:
        p = Probe(mosquitto.port, "st-new01", creds["mqtt_password"])
        rc = p.connect()
        p.close()
        return rc == 0

    wait_until(connects, 10, "the provisioned device to be accepted")

    # a device connected before the revocation, and a watcher on the cloud side
    user, pw = mosquitto.service("ingest")
    watcher = Probe(mosquitto.port, user, pw)
    assert watcher.connect() == 0
    watcher.subscribe("salinmas/v1/dev/st-new01/health")
    device = Probe(mosquitto.port, "st-new01", creds["mqtt_password"])
    assert device.connect() == 0
    device.client.publish("salinmas/v1/dev/st-new01/health", b"before", qos=1).wait_for_publish(5)
    wait_until(
        lambda: any(p == b"before" for _, p in watcher.messages), 5, "the pre-revoke publish"
    )

    with api.client(admin) as c:
        r = c.post("/api/v1/devices/st-new01/revoke")
        assert r.status_code == 200, r.text
        assert r.json()["revoked"] is True

    # its next connection is refused (CONNACK 5 / MQTT 5 reason 135: not authorised)
    def refused() -> bool:
        p = Probe(mosquitto.port, "st-new01", creds["mqtt_password"])
        rc = p.connect()
        p.close()
        return rc not in (0, None)

    wait_until(refused, 10, "the revoked device to be refused")
    # and the connection it still had is closed by the broker at once: a publish is lost
    wait_until(device.disconnected.is_set, 10, "the broker to drop the revoked device's session")
    device.client.publish("salinmas/v1/dev/st-new01/health", b"after", qos=1)
    time.sleep(0.5)  # nothing to wait for: we are showing that nothing arrives
    assert not any(p == b"after" for _, p in watcher.messages)
    device.close()
    watcher.close()


def test_commands_reach_the_device_over_mqtt(
    api_with_broker: ApiServer, mosquitto: MosquittoServer, world: World
) -> None:
    api = api_with_broker
    with api.client() as anon:
        admin = login(anon, "admin")
        operator = login(anon, "operator")
    with api.client(admin) as c:  # a station of the operator's site
        creds = c.post(
            "/api/v1/devices",
            json={"device_id": "st-cmd01", "kind": "station", "site_id": world.ids["site"]},
        ).json()
    device = Probe(mosquitto.port, "st-cmd01", creds["mqtt_password"])
    wait_until(lambda: device.connect() == 0, 10, "the device to connect")
    device.subscribe("salinmas/v1/dev/st-cmd01/cmd")
    with api.client(operator) as c:
        r = c.post("/api/v1/devices/st-cmd01/commands", json={"action": "tare"})
        assert r.status_code == 202, r.text
        cmd_id = r.json()["cmd_id"]
        assert (
            c.post("/api/v1/devices/st-nope/commands", json={"action": "tare"}).status_code == 404
        )
        bad = c.post("/api/v1/devices/st-cmd01/commands", json={"action": "explode"})
        assert bad.status_code == 422
    wait_until(lambda: device.messages, 10, "the command to arrive")
    topic, payload = device.messages[0]
    assert topic == "salinmas/v1/dev/st-cmd01/cmd"
    body = json.loads(payload)
    assert body["cmd_id"] == cmd_id
    assert body["action"] == "tare"
    assert body["device_id"] == "st-cmd01"
    device.close()


def test_a_station_is_provisioned_with_its_scale_capacity(api_with_broker: ApiServer) -> None:
    """``capacity_g`` bounds the station's weigh-ins (``over_capacity``); default 300 kg.

    Mutant run: the route not passing ``capacity_g`` on -> 300000 != 30000 (fails).
    """
    with api_with_broker.client() as anon:
        admin = login(anon, "admin")
    with api_with_broker.client(admin) as c:
        for bad in (0, 10_000_001, -5):
            r = c.post(
                "/api/v1/devices",
                json={"device_id": "st-cap01", "kind": "station", "capacity_g": bad},
            )
            assert r.status_code == 422, r.text
        r = c.post(
            "/api/v1/devices",
            json={"device_id": "st-cap01", "kind": "station", "capacity_g": 30_000},
        )
        assert r.status_code == 201, r.text
        assert c.get("/api/v1/devices/st-cap01").json()["capacity_g"] == 30_000
        r = c.post("/api/v1/devices", json={"device_id": "st-cap02", "kind": "station"})
        assert r.status_code == 201, r.text
        assert c.get("/api/v1/devices/st-cap02").json()["capacity_g"] == 300_000
