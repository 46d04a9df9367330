"""The demo's embedded broker enforces the same accounts and ACL as production Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.broker_accounts import AccountFiles, hash_password
from salinmas.broker import EmbeddedBroker, topic_allowed
from tests.support.services import free_port
from tests.support.waiting import wait_until

ROLES = {"salinmas-ingest": "ingest"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    files = AccountFiles(tmp_path / "passwd", tmp_path / "passwd.acl")
    files.write(
        {"salinmas-ingest": hash_password("ingest-pw"), "st-a1": hash_password("a1-pw")}, ROLES
    )
    b = EmbeddedBroker(port=free_port(), password_file=tmp_path / "passwd", service_roles=ROLES)
    b.start()
    yield b
    b.stop()


def _client(broker: EmbeddedBroker, user: str, pw: str) -> tuple[mqtt.Client, list[object]]:
    codes: list[object] = []
    connected = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
    c.username_pw_set(user, pw)

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        codes.append(rc)
        connected.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    connected.wait(5)
    return c, codes


def test_device_reaches_ingest_and_forgery_is_dropped(broker: EmbeddedBroker) -> None:
    got: list[str] = []
    sub, codes = _client(broker, "salinmas-ingest", "ingest-pw")
    assert not codes[0].is_failure  # type: ignore[attr-defined]
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append(m.topic)
    sub.subscribe("salinmas/v1/dev/+/+", qos=1)
    assert subscribed.wait(5)

    dev, codes = _client(broker, "st-a1", "a1-pw")
    assert not codes[0].is_failure  # type: ignore[attr-defined]
    dev.publish("salinmas/v1/dev/st-b2/weighin", b"forged", qos=1).wait_for_publish(5)
    dev.publish("salinmas/v1/dev/st-a1/weighin", b"ok", qos=1).wait_for_publish(5)
    wait_until(lambda: got, 5, "the device's own message")
    assert got == ["salinmas/v1/dev/st-a1/weighin"]
    for c in (sub, dev):
        c.loop_stop()
        c.disconnect()


def test_wrong_password_is_refused(broker: EmbeddedBroker) -> None:
    c, codes = _client(broker, "st-a1", "not-the-password")
    c.loop_stop()
    assert codes
    assert codes[0].is_failure  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("user", "role", "topic", "action", "allowed"),
    [
        ("st-a1", None, "salinmas/v1/dev/st-a1/weighin", "publish", True),
        ("st-a1", None, "salinmas/v1/dev/st-a1/receipt", "publish", False),
        ("st-a1", None, "salinmas/v1/dev/st-a1/receipt", "read", True),
        ("st-a1", None, "salinmas/v1/dev/st-b2/cmd", "read", False),
        ("st-a1", None, "salinmas/v1/dev/+/weighin", "read", False),
        ("st-a1", None, "other/topic", "publish", False),
        ("salinmas-ingest", "ingest", "salinmas/v1/dev/+/+", "read", True),
        ("salinmas-ingest", "ingest", "salinmas/v1/dev/st-a1/receipt", "publish", True),
        ("salinmas-ingest", "ingest", "salinmas/v1/dev/st-a1/weighin", "publish", False),
    ],
)
def test_acl_rules(user: str, role: str | None, topic: str, action: str, allowed: bool) -> None:
    assert topic_allowed(user, role, topic, action) is allowed
