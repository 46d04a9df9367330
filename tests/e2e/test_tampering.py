"""Tampering on the real stack: nothing altered is credited, everything around it is.

A real edge agent process signs its weigh-ins (a simulated indicator on a pty) and
publishes them to a Mosquitto of its own; a relay with the stations' MQTT accounts — what
someone holding them, or sitting on the network, could do — forwards them to the real
Mosquitto, where a real ingest process (PostgreSQL, ``integrity = "enforce"``) verifies
them before money. The operator approved the station's key, build and configuration
first. On the way:

- record 2's net weight is changed after signing                    -> held ``signature``
- record 4 is removed from the middle of the chain                  -> 5 held ``chain_gap``
- record 7 was signed by a station build whose frames lie (400 g for 4 kg) -> ``frames``
- record 8 was signed by an unapproved build (another ``sw_hash``)   -> held ``software``
- record 6 is also replayed as the other station's weigh-in          -> held ``key``

Records 1, 3, 6 and 9 and the other station's own weigh-in are credited exactly once,
an alert is raised for each station, and the late arrival of record 4 releases 5.

mutant: the ingest credits without verifying (inspect=None in Processor._credit) -> fails
mutant: a held weigh-in's receipt says credited -> fails (the station's receipts)
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from cloud import devicekeys, households, pricing
from cloud.db import make_engine, migrate, session_factory
from cloud.models import Alert, Device, Hold, WeighinRecord
from cloud.postings import funds, postings_total
from contract.signing import config_hash
from edge.clock import Clock
from edge.events import EventFactory
from edge.identity import DeviceKey, Signer
from edge.outbox import Outbox
from simulators.cards import CardReaderSimulator
from simulators.pty import PtyDevice
from tests.cloud.conftest import PRICES_FROM, seed_programme
from tests.cloud.mqtt_support import ingest_config, spawn_ingest, unique_id
from tests.cloud.signing_support import SigningStation
from tests.edge.harness import AgentProcess, Scale, write_config
from tests.support.services import MosquittoServer, PostgresServer
from tests.support.waiting import PROCESS_START_S, wait_until

pytestmark = pytest.mark.integration
A, B = "st-tamper01", "st-tamper02"
RP_PER_KG = 3_000  # plastic-pet (seeded) and mixed
CARD = "0A1B2C3D4E"


class Capture:
    """What the station publishes on its own broker, in order: its weigh-ins and its
    configuration log, read with the ingest's account (which may subscribe to each
    upstream kind, not to ``+/+``)."""

    def __init__(self, broker: MosquittoServer) -> None:
        user, password = broker.service("ingest")
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique_id("capture"))
        c.username_pw_set(user, password)
        c.on_message = lambda _c, _u, m: self._keep(m.topic, bytes(m.payload))
        c.on_subscribe = lambda *_a: subscribed.set()
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        c.subscribe([(f"salinmas/v1/dev/+/{kind}", 1) for kind in ("weighin", "config")])
        assert subscribed.wait(10)
        self.client = c

    def _keep(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def weighins(self) -> dict[int, bytes]:
        """The weigh-ins by chain position (first copy of each; the agent re-sends)."""
        out: dict[int, bytes] = {}
        with self._lock:
            for topic, payload in self.messages:
                if topic.endswith("/weighin"):
                    out.setdefault(json.loads(payload)["chain_pos"], payload)
        return out

    def of(self, kind: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t.endswith("/" + kind) and p]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publisher(broker: MosquittoServer, device_id: str, password: str) -> mqtt.Client:
    """A relay holding the station's account (bound to its own client id by the broker)."""
    connected = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
    c.username_pw_set(device_id, password)
    c.on_connect = lambda _c, _u, _f, rc, _p=None: rc == 0 and connected.set()
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert connected.wait(10), f"the broker refused {device_id}'s account"
    return c


def _send(c: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> None:
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)


def _edit(payload: bytes, **changes: Any) -> bytes:
    data = json.loads(payload)
    data.update(changes)
    return json.dumps(data, separators=(",", ":")).encode()


@pytest.fixture
def own_broker() -> Iterator[MosquittoServer]:
    with MosquittoServer().start() as server:
        yield server


@pytest.fixture
def ledger(postgres: PostgresServer) -> str:
    url = postgres.create_database(unique_id("tamper").replace("-", "_"))
    migrate(url)
    return url


def _station_weighs(own_broker: MosquittoServer, tmp_path: Path) -> tuple[Capture, DeviceKey]:
    """The real agent weighs 1-6, a tampered build queues 7-8, the real agent weighs 9."""
    password = "pw-tamper-station-0123"
    own_broker.add_device(A, password)
    (tmp_path / "no-sync-flag").touch()  # NTP has synchronised this Pi's clock
    capture = Capture(own_broker)
    scale = Scale(tmp_path)
    card_dev = PtyDevice(tmp_path, name="usb-RDM6300-if00")
    cards = CardReaderSimulator(card_dev)
    try:
        config = write_config(
            tmp_path / "station.toml",
            device_id=A,
            password=password,
            mqtt_port=own_broker.port,
            scale_port=scale.path,
            outbox=tmp_path / "outbox.db",
            confirm_timeout_s=3600,
            health_interval_s=3600,
        )
        config.write_text(
            config.read_text().replace(
                "division_g = 10\n",
                f'division_g = 10\ncard_port = "{card_dev.path}"\ndefault_category = "mixed"\n',
            )
        )
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        try:
            up = "scale connected"
            wait_until(lambda: up in agent.run_text(), PROCESS_START_S, "the agent up")
            cards.present(CARD)
            wait_until(lambda: "card presented" in agent.run_text(), 10, "the card read")
            for grams in (1_000, 2_000, 3_000, 4_000, 5_000, 6_000):
                scale.weigh(grams, agent)
            wait_until(lambda: len(capture.weighins()) == 6, 60, "six signed weigh-ins")
        finally:
            assert agent.stop() == 0
        key = DeviceKey.load(tmp_path / "device.key")
        genuine = json.loads(capture.weighins()[1])
        events = EventFactory(A, Clock(boot_id=uuid.uuid4(), synced=lambda: True))
        lying = Signer(key, genuine["sw_hash"], genuine["config_hash"])
        hacked = Signer(key, "6" * 64, genuine["config_hash"])
        with Outbox(tmp_path / "outbox.db") as box:  # what a modified agent would queue
            for signer, grams, shown in ((lying, 7_000, 700), (hacked, 8_000, 8_000)):
                box.append_chained(
                    "weighin",
                    signer.chain,
                    events.signed_weighin(
                        signer,
                        net_g=grams,
                        division_g=10,
                        protocol="and_indicator",
                        category="mixed",
                        card_id=CARD,
                        frames=[f"ST,GS,{shown / 1000:+08.3f}kg".encode()] * 4,
                    ),
                )
        agent.start()
        try:
            up = "scale connected"
            wait_until(lambda: up in agent.run_text(), PROCESS_START_S, "the agent up again")
            cards.present(CARD)
            wait_until(lambda: "card presented" in agent.run_text(), 10, "the card read again")
            scale.weigh(9_000, agent)
            wait_until(lambda: len(capture.weighins()) == 9, 60, "nine weigh-ins")
        finally:
            assert agent.stop() == 0
    finally:
        scale.close()
        card_dev.close()
    return capture, key


def test_tampered_records_are_held_and_the_untouched_ones_credited_once(
    mosquitto: MosquittoServer, own_broker: MosquittoServer, ledger: str, tmp_path: Path
) -> None:
    capture, key = _station_weighs(own_broker, tmp_path)
    try:
        records = capture.weighins()
        first = json.loads(records[1])
        engine = make_engine(ledger)
        with session_factory(engine)() as s:  # the operator: stations, key, build, config
            hh = seed_programme(s, stations=(A, B))
            households.link_card(s, card_id=CARD, household_id=hh, by="test")
            pricing.ensure_category(s, code="mixed", name_id="Campur", name_en="Mixed")
            pricing.set_price(s, category="mixed", rp_per_kg=RP_PER_KG, effective_from=PRICES_FROM)
            devicekeys.announce_key(
                s, device_id=A, public_key=key.public_hex, trust_first_use=False
            )
            devicekeys.approve_key(s, device_id=A, key=key.key_id, by="user:operator")
            devicekeys.approve(
                s, device_id=A, kind="software", digest=first["sw_hash"], by="user:operator"
            )
            devicekeys.approve(
                s, device_id=A, kind="config", digest=first["config_hash"], by="user:operator"
            )
            other = SigningStation(B)
            other.approve(s)
            s.commit()
        # what the station signed under is what its configuration log says
        assert first["config_hash"] == config_hash(json.loads(capture.of("config")[0]))
        ingest = spawn_ingest(
            ingest_config(
                tmp_path / "ingest.toml",
                mosquitto,
                ledger,
                unique_id("ingest-tamper"),
                integrity="enforce",
                migrate_on_start=False,
            ),
            tmp_path / "ingest.log",
        )
        pw_a, pw_b = "pw-a-real-broker-0123", "pw-b-real-broker-0123"
        mosquitto.add_device(A, pw_a)
        mosquitto.add_device(B, pw_b)
        relay_a, relay_b = _publisher(mosquitto, A, pw_a), _publisher(mosquitto, B, pw_b)
        try:

            def listening() -> bool:  # the ingest has subscribed when it applies a status
                _send(relay_b, f"salinmas/v1/dev/{B}/status", other.status(1), retain=True)
                with session_factory(engine)() as s:
                    dev = s.get(Device, B)
                    return dev is not None and dev.online

            wait_until(listening, PROCESS_START_S, "the ingest subscribed")
            for payload in capture.of("config"):
                _send(relay_a, f"salinmas/v1/dev/{A}/config", payload)
            for pos in (1, 2, 3, 5, 6, 7, 8, 9):  # 4 removed from the middle
                payload = records[pos]
                if pos == 2:
                    payload = _edit(payload, net_g=20_000)  # changed after signing
                _send(relay_a, f"salinmas/v1/dev/{A}/weighin", payload)
            replayed = _edit(records[6], device_id=B, seq=77, event_id=f"{B}:77")
            _send(relay_b, f"salinmas/v1/dev/{B}/weighin", replayed)
            _send(
                relay_b,
                f"salinmas/v1/dev/{B}/weighin",
                other.weighin(2_500, category="plastic-pet"),
            )

            def status() -> dict[str, tuple[str, str | None]]:
                with session_factory(engine)() as s:
                    rows = s.execute(
                        select(
                            WeighinRecord.event_id,
                            WeighinRecord.chain_pos,
                            WeighinRecord.device_id,
                            WeighinRecord.status,
                            Hold.kind,
                        ).outerjoin(Hold, Hold.weighin_id == WeighinRecord.id)
                    )
                    return {f"{d}/{p}" if d == A else e: (st, k) for e, p, d, st, k in rows}

            wait_until(lambda: len(status()) == 10, 60, "ten weigh-ins processed")
            got = status()
            assert got == {
                f"{A}/1": ("credited", None),
                f"{A}/2": ("held", "signature"),
                f"{A}/3": ("credited", None),
                f"{A}/5": ("held", "chain_gap"),
                f"{A}/6": ("credited", None),
                f"{A}/7": ("held", "frames"),
                f"{A}/8": ("held", "software"),
                f"{A}/9": ("credited", None),
                f"{B}:77": ("held", "key"),
                f"{B}:1": ("credited", None),
            }, got
            with session_factory(engine)() as s:
                assert funds(s, household_id=hh).balance_rp == RP_PER_KG * (1 + 3 + 6 + 9 + 2.5)
                assert postings_total(s) == 0
                alerts = {(a.kind, a.subject) for a in s.scalars(select(Alert))}
                assert {("weighin_held", A), ("weighin_held", B)} <= alerts
                credited = s.scalars(
                    select(WeighinRecord.net_g).where(WeighinRecord.status == "credited")
                ).all()
                assert sorted(credited) == [1_000, 2_500, 3_000, 6_000, 9_000]  # once each
            # record 4 was only late, not removed: it is credited and 5 released
            _send(relay_a, f"salinmas/v1/dev/{A}/weighin", records[4])
            wait_until(lambda: status().get(f"{A}/5", ("",))[0] == "credited", 30, "5 released")
            assert status()[f"{A}/4"] == ("credited", None)
            with session_factory(engine)() as s:
                assert funds(s, household_id=hh).balance_rp == RP_PER_KG * (
                    1 + 3 + 4 + 5 + 6 + 9 + 2.5
                )
        finally:
            for c in (relay_a, relay_b):
                c.loop_stop()
                c.disconnect()
            ingest.terminate()
            ingest.wait(30)
            engine.dispose()
    finally:
        capture.close()
