"""The broker locked down: a hostile device with a valid account, tried against the real
brokers with the project's own configuration (Mosquitto + dynamic-security; the embedded
amqtt with the same account document), while a real ingest worker takes a victim's stream.

Every attack must be refused by the broker itself — CONNACK refusal, a SUBACK failure
code, or a publish that is never delivered — and the ingest must receive every message of
the victim, none missing, none seen by the attacker.

mutant: a device role with a ``salinmas/v1/dev/+/...`` subscribe pattern -> fails
mutant: ``$share/+/...`` granted to the device role (or to every role) -> fails
mutant: device accounts created without their ``clientid`` -> fails (victim's id taken)
mutant: defaultACLAccess publishClientSend true -> fails (forged receipt delivered)
mutant: revoke_commands() without deleteClient -> fails (revoked device still connects)
mutant: amqtt session lookup before authentication (stock amqtt 0.12) -> fails
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from sqlalchemy.orm import Session

from cloud.broker_accounts import ADMIN, API, INGEST, DynsecFile, initial_document
from cloud.devices import register_device
from cloud.ingest import IngestSettings, IngestWorker
from cloud.pickups import register_bin
from cloud.telemetry import TelemetrySettings
from contract import INGEST_ONLINE_TOPIC, Kind, device_topic, subscription
from contract.topics import UPSTREAM_KINDS
from stack.broker import EmbeddedBroker
from tests.cloud.factories import fill
from tests.cloud.mqtt_support import unique_id
from tests.support.delivery import stored_fills
from tests.support.services import MosquittoServer, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SERVICES = {
    "salinmas-ingest": (INGEST, "ingest-pw"),
    "salinmas-api": (API, "api-pw"),
    "salinmas-admin": (ADMIN, "admin-pw"),
}


class Broker(Protocol):
    port: int

    def add_device(self, device_id: str, password: str) -> None: ...

    def remove_device(self, device_id: str) -> None: ...

    def service(self, role: str) -> tuple[str, str]: ...


class Amqtt:
    """The embedded broker on the same kind of account document as Mosquitto's."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.accounts = DynsecFile(workdir / "accounts.json")
        self.accounts.write(initial_document(SERVICES))
        self.broker = EmbeddedBroker(port=self.port, accounts_file=self.accounts.path)

    def add_device(self, device_id: str, password: str) -> None:
        self.accounts.add_device(device_id, password)

    def remove_device(self, device_id: str) -> None:
        self.accounts.remove_device(device_id)

    def service(self, role: str) -> tuple[str, str]:
        return next((u, pw) for u, (r, pw) in SERVICES.items() if r == role)


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker(
    request: pytest.FixtureRequest, mosquitto: MosquittoServer, tmp_path: Path
) -> Iterator[Broker]:
    if request.param == "mosquitto":
        yield mosquitto
        return
    b = Amqtt(tmp_path)
    b.broker.start()
    try:
        yield b
    finally:
        b.broker.stop()


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:  # one ledger is enough here (SQLite)
    return f"sqlite:///{tmp_path / 'ledger.db'}"


class Client:
    """A paho client recording what happens to it (CONNACK, SUBACKs, messages, drops)."""

    def __init__(
        self, broker: Broker, username: str | None, password: str | None, client_id: str
    ) -> None:
        self.connack: Any = None
        self.subacks: list[Any] = []
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects = 0
        self._lock = threading.Lock()
        self._answered = threading.Event()
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            reconnect_on_failure=False,
        )
        if username is not None:
            c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda _c, _u, _m, codes, _p: self.subacks.append(list(codes))
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        self.c = c
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        assert self._answered.wait(10), "no CONNACK"

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason
        self._answered.set()

    def _on_disconnect(self, *_a: Any) -> None:
        self.disconnects += 1

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    @property
    def refused(self) -> bool:
        return bool(self.connack.is_failure)

    def subscribe(self, topic: str) -> bool:
        """Whether the broker granted the subscription (False: a failure code in SUBACK)."""
        n = len(self.subacks)
        self.c.subscribe(topic, qos=1)
        wait_until(lambda: len(self.subacks) > n, 10, f"SUBACK for {topic}")
        return not any(getattr(code, "is_failure", False) for code in self.subacks[n])

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1)

    def got(self, payload: bytes) -> bool:
        with self._lock:
            return any(p == payload for _, p in self.messages)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_a_hostile_device_is_refused_by_the_broker(broker: Broker) -> None:
    evil, victim = unique_id("st-evil"), unique_id("st-victim")
    broker.add_device(evil, "evil-pw-0123456789")
    broker.add_device(victim, "victim-pw-0123456789")
    api_user, api_pw = broker.service("api")
    observer = Client(broker, api_user, api_pw, unique_id("observer"))  # reads all upstream
    assert all(observer.subscribe(subscription(k)) for k in UPSTREAM_KINDS)
    vic = Client(broker, victim, "victim-pw-0123456789", victim)
    assert not vic.refused
    for kind in (Kind.RECEIPT, Kind.CMD, Kind.ACK):
        assert vic.subscribe(device_topic(victim, kind))  # its own downstream: granted
    assert vic.subscribe(INGEST_ONLINE_TOPIC)
    clients = [observer, vic]
    try:
        # --- CONNECT: refused -------------------------------------------------------
        ingest_client_id = "salinmas-ingest-1"
        refused = {
            "anonymous": (None, None, unique_id("anon")),
            "wrong password": (victim, "not-the-password", victim),
            "unknown account": ("st-nobody", "whatever-pw", "st-nobody"),
            "the victim's client id": (evil, "evil-pw-0123456789", victim),
            "the ingest's client id": (evil, "evil-pw-0123456789", ingest_client_id),
        }
        for what, (user, pw, cid) in refused.items():
            c = Client(broker, user, pw, cid)
            clients.append(c)
            assert c.refused, f"{what}: connected"
        assert vic.disconnects == 0  # nobody kicked the victim off with its client id

        # --- SUBSCRIBE: refused at SUBACK -----------------------------------------------
        att = Client(broker, evil, "evil-pw-0123456789", evil)
        clients.append(att)
        assert not att.refused
        for topic in (
            "#",
            "$SYS/#",
            "salinmas/#",
            "$share/ingest/salinmas/v1/dev/+/weighin",
            "$share/ingest/salinmas/v1/dev/+/+",
            "salinmas/v1/dev/+/receipt",
            "salinmas/v1/dev/+/weighin",
            device_topic(victim, Kind.RECEIPT),
            device_topic(victim, Kind.CMD),
            device_topic(victim, Kind.ACK),
            device_topic(victim, Kind.FILL),
            device_topic(evil, Kind.WEIGHIN),  # its own upstream: write-only
        ):
            assert not att.subscribe(topic), f"subscription to {topic} granted"
        assert att.subscribe(device_topic(evil, Kind.RECEIPT))  # its own: granted

        # --- PUBLISH: never delivered -------------------------------------------------------
        forged = {
            device_topic(victim, Kind.WEIGHIN): b"forged-upstream",
            device_topic(victim, Kind.RECEIPT): b"forged-receipt",
            device_topic(victim, Kind.ACK): b"forged-ack",
            device_topic(evil, Kind.RECEIPT): b"own-downstream",
            INGEST_ONLINE_TOPIC: b"forged-announcement",
            "salinmas/v1/other": b"foreign-topic",
        }
        for topic, payload in forged.items():
            att.publish(topic, payload)
        att.publish(device_topic(evil, Kind.HEALTH), b"evil-own-health")  # allowed, last
        # one connection's publishes are handled in order: once the last one arrived, a
        # forged one would have been delivered before it
        wait_until(lambda: observer.got(b"evil-own-health"), 10, "the attacker's own publish")
        ingest_user, ingest_pw = broker.service("ingest")
        svc = Client(broker, ingest_user, ingest_pw, unique_id("svc"))
        clients.append(svc)
        svc.publish(device_topic(victim, Kind.RECEIPT), b"marker")
        wait_until(lambda: vic.got(b"marker"), 10, "the service's marker")
        for client in (observer, vic, att):
            for payload in forged.values():
                assert not client.got(payload), f"{payload!r} delivered"

        # --- revoked: disconnected at once (Mosquitto) / refused from now on ------------
        broker.remove_device(evil)
        att.publish(device_topic(evil, Kind.HEALTH), b"after-revocation")
        again = Client(broker, evil, "evil-pw-0123456789", evil)
        clients.append(again)
        assert again.refused
        svc.publish(device_topic(victim, Kind.RECEIPT), b"marker-2")
        wait_until(lambda: vic.got(b"marker-2"), 10, "the second marker")
        assert not observer.got(b"after-revocation")
        assert vic.disconnects == 0
    finally:
        for c in clients:
            c.close()


def test_oversize_packets_are_not_delivered(broker: Broker) -> None:
    dev = unique_id("st-big")
    broker.add_device(dev, "big-pw-0123456789")
    api_user, api_pw = broker.service("api")
    observer = Client(broker, api_user, api_pw, unique_id("observer"))
    assert all(observer.subscribe(subscription(k)) for k in UPSTREAM_KINDS)
    big = Client(broker, dev, "big-pw-0123456789", dev)
    try:
        big.publish(device_topic(dev, Kind.HEALTH), b"x" * 100_000)  # > 64 KiB (and 16 KiB)
        big.publish(device_topic(dev, Kind.HEALTH), b"small")
        later = Client(broker, dev, "big-pw-0123456789", dev)  # Mosquitto dropped the first
        later.publish(device_topic(dev, Kind.HEALTH), b"after")
        wait_until(lambda: observer.got(b"after"), 10, "a publish after the oversize one")
        assert not any(len(p) > 16 * 1024 for _, p in observer.messages)
        later.close()
    finally:
        big.close()
        observer.close()


def test_ingest_gets_every_message_of_a_victim_while_it_is_attacked(
    mosquitto: MosquittoServer, session: Session, ledger_url: str, tmp_path: Path
) -> None:
    """The stream a shared-subscription squatter would have split: none missing, none stolen."""
    victim, evil = unique_id("bn-victim"), unique_id("st-evil")
    register_device(session, device_id=victim, kind="bin")
    register_bin(session, bin_id=victim, device_id=victim)
    session.commit()
    mosquitto.add_device(victim, "victim-pw-0123456789")
    mosquitto.add_device(evil, "evil-pw-0123456789")
    group = unique_id("ingest")
    user, password = mosquitto.service("ingest")
    telemetry = tmp_path / "telemetry.db"
    settings = IngestSettings.load(
        mqtt_port=mosquitto.port,
        mqtt_username=user,
        mqtt_password=SecretStr(password),
        client_id=unique_id("salinmas-ingest"),
        share_group=group,
        session_expiry_s=300,
        ledger_url=ledger_url,
        migrate_on_start=False,
        takeover_after_s=0,
        telemetry=TelemetrySettings(backend="sqlite", sqlite_path=telemetry),
    )
    n = 60

    def stored() -> set[int]:
        return stored_fills([telemetry]).get(victim, set())

    with IngestWorker(settings) as worker:
        assert worker.wait_subscribed(10)
        vic = Client(mosquitto, victim, "victim-pw-0123456789", victim)
        att = Client(mosquitto, evil, "evil-pw-0123456789", evil)
        squat = [f"$share/{group}/salinmas/v1/dev/+/{k}" for k in ("fill", "weighin", "health")]
        try:
            for i in range(1, n + 1):
                payload = fill(victim, seq=i).model_dump_json().encode()
                vic.publish(device_topic(victim, Kind.FILL), payload)
                if i <= len(squat):  # the squatting attempts run during the stream
                    assert not att.subscribe(squat[i - 1])
                if i == 20:
                    assert Client(mosquitto, evil, "evil-pw-0123456789", settings.client_id).refused
                    assert worker.connected  # the ingest's session was not taken
            wait_until(lambda: stored() >= set(range(1, n + 1)), 30, f"all {n} fills stored")
            assert stored() == set(range(1, n + 1))
            assert not att.messages  # the attacker got nothing of the victim's stream
        finally:
            vic.close()
            att.close()
