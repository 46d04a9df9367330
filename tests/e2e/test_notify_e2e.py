"""A credited weigh-in, told once on every channel, through every real hop.

Scale on a pty -> edge agent (a real process) -> Mosquitto -> ingest -> the credit and its
notification in one PostgreSQL transaction -> ``salinmas notify run`` (a real process)
-> Gammu's outbox -> gammu-smsd 1.42 (dummy phone) -> ``sentitems``; the in-app inbox
through the API; and the station's ticket on a simulated ESC/POS printer.

The same weigh-in is delivered three times (the station's payload published twice more
under its own account), and the first sender is killed while its hand-over to Gammu
waits on a lock: still one SMS, one inbox message, one ticket. A household that opted
out gets nothing but its ticket.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select

from cloud import auth, devices, households, pricing
from cloud.api.settings import ApiSettings
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest.lifecycle import run as run_ingest
from cloud.ingest.settings import IngestSettings
from cloud.models.notifications import Notification, NotificationDelivery
from cloud.notifications.channels.gammu import GammuChannel
from cloud.notifications.preferences import ChannelSpec, register_channels, set_preference
from cloud.notifications.settings import GammuChannelSettings
from cloud.telemetry import TelemetrySettings
from contract.topics import Kind, device_topic
from simulators.cards import CardReaderSimulator
from simulators.printer import PrinterSimulator
from simulators.pty import PtyDevice
from simulators.scales import ScaleSimulator
from tests.api.support import serve
from tests.cloud.notify_support import SenderProcess, kill_sender_mid_hand_over, notify_config
from tests.cloud.test_notify_gammu import sentitems
from tests.e2e.test_walking_skeleton import _agent_config as _station_config
from tests.edge.harness import AgentProcess
from tests.support.gammu import GammuSmsd
from tests.support.services import MosquittoServer, PostgresServer
from tests.support.waiting import WaitTimeout, wait_until

pytestmark = pytest.mark.integration

CARD, CARD_OUT = "0A1B2C3D4E", "0A1B2C3D4F"
PIN = "246810"
NET_G, PRICE = 2_350, 3_150
EXPECTED_RP = 7_403  # 2.350 kg x Rp 3.150 = Rp 7.402,5 -> half up
SMS = GammuChannelSettings()
SMS_TEXT = "Salinmas BMS-9001: 2,35 kg Plastik PET = Rp 7.403 masuk. Saldo Rp 7.403."


def _seed(url: str, device_id: str) -> tuple[int, int]:
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s, s.begin():
            households.ensure_site(s, code="bank-n", name="Bank Sampah Notif")
            pricing.ensure_category(s, code="plastic-pet", name_id="Plastik PET", name_en="PET")
            pricing.set_price(
                s,
                category="plastic-pet",
                rp_per_kg=PRICE,
                effective_from=datetime.now(UTC) - timedelta(days=1),
            )
            hh = households.register_household(
                s, member_no="BMS-9001", name="Siti Aminah", site="bank-n", phone="0812-3456-7890"
            )
            out = households.register_household(
                s, member_no="BMS-9002", name="Joko", site="bank-n", phone="0813-1111-2222"
            )
            s.flush()
            households.link_card(s, card_id=CARD, household_id=hh.id)
            households.link_card(s, card_id=CARD_OUT, household_id=out.id)
            auth.set_household_pin(s, household_id=hh.id, pin=PIN, by="test")
            devices.register_device(s, device_id=device_id, kind="station", site="bank-n")
            register_channels(s, [ChannelSpec("sms", "gammu", household_default=True)])
            set_preference(s, household_id=out.id, by="test", opt_out=True)
            return int(hh.id), int(out.id)
    finally:
        engine.dispose()


class Sniffer:
    """Copies of one device's weigh-ins, read with the ingest's account (which may read
    every upstream kind)."""

    def __init__(self, broker: MosquittoServer, device_id: str) -> None:
        user, password = broker.service("ingest")
        self.payloads: list[bytes] = []
        ready = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sniff-{secrets.token_hex(3)}")
        c.username_pw_set(user, password)
        c.on_connect = lambda cl, *_: cl.subscribe(device_topic(device_id, Kind.WEIGHIN), 1)
        c.on_subscribe = lambda *_: ready.set()
        c.on_message = lambda _c, _u, msg: self.payloads.append(msg.payload)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        assert ready.wait(10)
        self.client = c

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _replay_as(broker: MosquittoServer, device_id: str, password: str, payload: bytes) -> None:
    """Send a weigh-in again as the device itself (its account is bound to its own client
    id) and wait for the cloud's receipt of it on the device's receipt topic."""
    event_id = json.loads(payload)["event_id"]
    subscribed, answered = threading.Event(), threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
    c.username_pw_set(device_id, password)
    c.on_connect = lambda cl, *_: cl.subscribe(device_topic(device_id, Kind.RECEIPT), 1)
    c.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if json.loads(msg.payload).get("event_id") == event_id:
            answered.set()

    c.on_message = on_message
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        assert subscribed.wait(10), "the broker refused the device's account"
        c.publish(device_topic(device_id, Kind.WEIGHIN), payload, qos=1).wait_for_publish(10)
        assert answered.wait(60), f"no receipt for the replay of {event_id}"
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.create_database(f"notify_e2e_{secrets.token_hex(3)}")


@pytest.fixture
def station(url: str, mosquitto: MosquittoServer) -> tuple[str, str, int, int]:
    """The seeded programme (before ingest starts): device id, password, two households."""
    device_id = f"st-n-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    household_id, opted_out = _seed(url, device_id)
    mosquitto.add_device(device_id, password)
    return device_id, password, household_id, opted_out


@pytest.fixture
def ingest(
    url: str, mosquitto: MosquittoServer, station: tuple[str, str, int, int], tmp_path: Path
) -> Iterator[IngestSettings]:
    user, password = mosquitto.service("ingest")
    tag = secrets.token_hex(3)
    settings = IngestSettings.load(
        mqtt_port=mosquitto.port,
        mqtt_username=user,
        mqtt_password=password,
        client_id=f"ingest-n-{tag}",
        share_group=f"n{tag}",
        session_expiry_s=0,
        ledger_url=url,
        migrate_on_start=False,
        telemetry=TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "telemetry.db"),
    )
    stop = threading.Event()
    worker = threading.Thread(target=run_ingest, args=(settings, stop), daemon=True)
    worker.start()
    yield settings
    stop.set()
    worker.join(30)


def _agent_config(path: Path, *, printer: str, **station: Any) -> Path:
    """The walking skeleton's station, with a ticket printer."""
    _station_config(path, **station)
    with path.open("a") as fh:
        fh.write(f"""
[edge.printer]
port = "{printer}"
spool = "{path.parent / "tickets.db"}"
waste_bank = "Bank Sampah Notif"
retry_s = 0.5
[edge.printer.category_names]
plastic-pet = "Plastik PET"
""")
    return path


def _count(engine: Engine, model: type, *where: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def _sms_sent(engine: Engine) -> bool:
    sent = _count(
        engine,
        NotificationDelivery,
        NotificationDelivery.channel == "sms",
        NotificationDelivery.status == "sent",
    )
    return sent == 1 and len(sentitems(engine)) == 1


def _grows(items: list[Any]) -> Callable[[], bool]:
    n = len(items)
    return lambda: len(items) > n


def test_one_credit_one_sms_one_inbox_message_one_ticket(
    url: str,
    mosquitto: MosquittoServer,
    station: tuple[str, str, int, int],
    ingest: IngestSettings,
    tmp_path: Path,
) -> None:
    """mutant: crediting tells nobody (its call to notifications removed) -> no SMS, no
    inbox message. (Each rule on the way has its own test and mutants: the outbox's key,
    the claim, Gammu's hand-over, the ticket spool.)"""
    device_id, password, household_id, opted_out = station
    engine = make_engine(url)
    GammuChannel("sms", SMS).prepare(engine)
    sniffer = Sniffer(mosquitto, device_id)
    api_settings = ApiSettings.load(
        ledger_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        mqtt={"enabled": False},
        telemetry=ingest.telemetry,
    )
    sms_channel = '[notify.channels.sms]\nkind = "gammu"\nhousehold_default = true\n'
    with (
        PtyDevice(tmp_path, name="usb-Mettler_Toledo-if00") as scale_dev,
        PtyDevice(tmp_path, name="usb-RDM6300-if00") as card_dev,
        PtyDevice(tmp_path, name="usb-Printer-if00") as printer_dev,
        PrinterSimulator(printer_dev) as printer,
        ScaleSimulator("mtsics", scale_dev, division_g=10, seed=3) as scale,
        serve(api_settings) as server,
        server.client() as api,
    ):
        cards = CardReaderSimulator(card_dev)
        config = _agent_config(
            tmp_path / "station.toml",
            device_id=device_id,
            password=password,
            port=mosquitto.port,
            scale=scale_dev.path,
            card=card_dev.path,
            printer=printer_dev.path,
        )
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        try:
            wait_until(lambda: scale.stats["commands"] > 0, 30, "the agent polling the scale")
            for card in (CARD, CARD_OUT):
                cards.present(card)
                wait_until(lambda c=card: c in agent.run_text(), 10, "the card being read")
                weighed, printed = _grows(sniffer.payloads), _grows(printer.decoder.tickets)
                scale.place(NET_G)
                try:
                    wait_until(weighed, 60, "a weigh-in")
                except WaitTimeout as exc:  # say what the station did (a loaded CI host)
                    raise AssertionError(
                        f"{exc}; scale {scale.stats}; agent log:\n" + agent.run_text()[-4000:]
                    ) from None
                scale.remove()
                wait_until(printed, 45, "its ticket")
                # the next load counts only after the station has seen the platter empty
                # (at zero): first the indicator settles (a 2.35 kg step rings for ~2.5 s;
                # ten polls alone took ~1 s, and a load placed before the station saw zero
                # was never weighed: 1 run in 3 failed), then the station polls it there
                # (printing the ticket held its loop for a moment)
                wait_until(
                    lambda: scale.display().stable and scale.display().weight_g == 0,
                    30,
                    "the indicator settled at zero",
                )
                polled = scale.stats["commands"]
                wait_until(
                    lambda p=polled: scale.stats["commands"] >= p + 10,
                    30,
                    "the station reading the empty platter",
                )
            # the first weigh-in delivered twice more, as the station would on a resend
            # (answered with the stored receipt; the counts below show they moved nothing).
            # The agent stops first: running, it would reconnect under the same client id
            # and bump the replaying client off before a slow host's receipt arrived
            assert agent.stop() == 0
            _replay_as(mosquitto, device_id, password, sniffer.payloads[0])
            _replay_as(mosquitto, device_id, password, sniffer.payloads[0])

            # a sender killed while its hand-over waits on a lock, then one that works
            cfg = notify_config(tmp_path / "notify.toml", url, sms_channel)
            kill_sender_mid_hand_over(engine, cfg, tmp_path / "sender1.log")
            with GammuSmsd(url, SMS) as gammu:
                sender = SenderProcess(cfg, tmp_path / "sender2.log").start()
                try:
                    wait_until(lambda: _sms_sent(engine), 60, "the SMS sent")
                    monitor = gammu.monitor()
                finally:
                    sender.stop()

            login = api.post(
                "/api/v1/auth/household-login", json={"member_no": "BMS-9001", "pin": PIN}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            inbox = api.get(f"/api/v1/households/{household_id}/inbox", headers=headers).json()
        finally:
            assert agent.stop() == 0
            sniffer.close()
    try:
        ((_, part, status, number, text, _),) = sentitems(engine)
        assert (part, status, number) == (1, "SendingOKNoReport", "+6281234567890")
        assert text.startswith(SMS_TEXT)
        assert monitor["Sent"] == "1"
        assert [i["text"] for i in inbox["items"]] == [text]
        with engine.connect() as c:
            n = Notification
            told = c.execute(select(n.event, n.household_id, n.suppressed).order_by(n.id)).all()
        assert [tuple(t) for t in told if t[0] != "device_offline"] == [
            ("weighin_credited", household_id, None),
            ("weighin_credited", opted_out, "opted_out"),  # recorded, nothing delivered
        ]
        # the station went offline (stopped before the replays): its operators were told
        assert ("device_offline", None, None) in [tuple(t) for t in told]
        hh = NotificationDelivery.recipient.like("household:%")
        assert _count(engine, NotificationDelivery, hh) == 2  # BMS-9001's inbox and SMS
    finally:
        engine.dispose()
    tickets = printer.tickets
    assert len(tickets) == 2  # one per weigh-in, none for the replays
    assert "Anggota   BMS-9001" in tickets[0]
    assert "Jenis     Plastik PET" in tickets[0]
    assert "Berat     2,35 kg" in tickets[0]
    assert "Harga/kg  Rp 3.150" in tickets[0]
    assert "Jumlah    Rp 7.403" in tickets[0]
    assert "Anggota   BMS-9002" in tickets[1]
