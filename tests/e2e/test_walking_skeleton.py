"""One weigh-in through every hop, for real.

MT-SICS frames from a simulated balance on a pseudo-terminal -> the edge agent (a real
process, pyserial) with a member card tapped on a simulated RDM6300 reader -> QoS 1 to
Mosquitto under the station's own account -> cloud ingest (validation, InfluxDB point,
double-entry credit) -> the API returns the household's balance, computed from postings.
Runs against SQLite and PostgreSQL ledgers.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud import auth, devices, households, pricing
from cloud.api.settings import ApiSettings
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest.lifecycle import run as run_ingest
from cloud.ingest.settings import IngestSettings
from cloud.telemetry import TelemetrySettings
from simulators.cards import CardReaderSimulator
from simulators.pty import PtyDevice
from simulators.scales import ScaleSimulator
from tests.api.support import serve
from tests.edge.harness import AgentProcess
from tests.support.services import InfluxServer, MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

CARD = "0A1B2C3D4E"
PIN = "246810"
PRICE_RP_PER_KG = 3_150  # plastic PET
NET_G = 2_350
EXPECTED_RP = 7_403  # 2.350 kg x Rp 3.150 = Rp 7.402,5 -> half up -> Rp 7.403


def _seed(url: str, device_id: str) -> int:
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s, s.begin():
            households.ensure_site(s, code="bank-e2e", name="Bank Sampah E2E")
            pricing.ensure_category(
                s, code="plastic-pet", name_id="Plastik PET", name_en="PET plastic"
            )
            pricing.set_price(
                s,
                category="plastic-pet",
                rp_per_kg=PRICE_RP_PER_KG,
                effective_from=datetime.now(UTC) - timedelta(days=1),
            )
            hh = households.register_household(
                s, member_no="BMS-9001", name="Siti Aminah", site="bank-e2e"
            )
            s.flush()
            households.link_card(s, card_id=CARD, household_id=hh.id)
            auth.set_household_pin(s, household_id=hh.id, pin=PIN, by="test")
            devices.register_device(s, device_id=device_id, kind="station", site="bank-e2e")
            return int(hh.id)
    finally:
        engine.dispose()


def _agent_config(
    path: Path, *, device_id: str, password: str, port: int, scale: str, card: str
) -> Path:
    path.write_text(
        f"""
[edge]
device_id = "{device_id}"
site = "bank-e2e"
confirm_timeout_s = 10
pin_factory = "mock"
boot_id_file = "{path.parent / "no-boot-id"}"
clock_sync_flag = "{path.parent / "no-sync-flag"}"

[edge.mqtt]
host = "127.0.0.1"
port = {port}
password = "{password}"
backoff_min_s = 0.1
backoff_max_s = 1.0

[edge.outbox]
path = "{path.parent / "outbox.db"}"

[edge.station]
scale_port = "{scale}"
protocol = "mtsics"
poll_interval_s = 0.1
division_g = 10
stable_window_s = 0.3
card_port = "{card}"
card_kind = "rdm6300"
default_category = "plastic-pet"

[edge.station.line]
baudrate = 9600
bytesize = 8
parity = "N"
stopbits = 1
"""
    )
    return path


@pytest.fixture
def station(ledger_url: str, mosquitto: MosquittoServer) -> tuple[str, str, int]:
    """A registered station with its broker account, and a household with a card."""
    device_id = f"st-e2e-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    household_id = _seed(ledger_url, device_id)
    mosquitto.add_device(device_id, password)
    return device_id, password, household_id


@pytest.fixture
def ingest(
    station: tuple[str, str, int],
    ledger_url: str,
    mosquitto: MosquittoServer,
    influxdb: InfluxServer,
    tmp_path: Path,
) -> Iterator[IngestSettings]:
    user, password = mosquitto.service("ingest")
    tag = secrets.token_hex(3)
    settings = IngestSettings.load(
        mqtt_port=mosquitto.port,
        mqtt_username=user,
        mqtt_password=password,
        client_id=f"ingest-e2e-{tag}",
        share_group=f"e2e{tag}",
        session_expiry_s=0,
        ledger_url=ledger_url,
        telemetry=TelemetrySettings(
            backend="influx",
            influx_url=influxdb.url,
            influx_database=influxdb.database,
            buffer_path=tmp_path / "telemetry-buffer.db",
            flush_interval_s=0.2,
        ),
    )
    stop = threading.Event()
    worker = threading.Thread(target=run_ingest, args=(settings, stop), daemon=True)
    worker.start()
    yield settings
    stop.set()
    worker.join(30)
    assert not worker.is_alive(), "ingest did not stop"


def test_mtsics_weighin_credits_the_household(
    ledger_url: str,
    mosquitto: MosquittoServer,
    influxdb: InfluxServer,
    ingest: IngestSettings,
    station: tuple[str, str, int],
    tmp_path: Path,
) -> None:
    device_id, password, household_id = station

    api_settings = ApiSettings.load(
        ledger_url=ledger_url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        mqtt={"enabled": False},
        telemetry=ingest.telemetry,
    )

    with (
        PtyDevice(tmp_path, name="usb-Mettler_Toledo-if00") as scale_dev,
        PtyDevice(tmp_path, name="usb-RDM6300-if00") as card_dev,
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
        )
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        try:
            # the agent polls the balance (MT-SICS "SI") once it is up
            wait_until(lambda: scale.stats["commands"] > 0, 30, "the agent polling the scale")
            cards.present(CARD)
            wait_until(lambda: "card" in agent.run_text().lower(), 10, "the card being read")
            scale.place(NET_G)

            login = api.post(
                "/api/v1/auth/household-login", json={"member_no": "BMS-9001", "pin": PIN}
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

            def balance() -> int:
                r = api.get(f"/api/v1/households/{household_id}/balance", headers=headers)
                assert r.status_code == 200, r.text
                return int(r.json()["balance_rp"])

            wait_until(lambda: balance() > 0, 45, "the credit to reach the balance")
            scale.remove()
            assert balance() == EXPECTED_RP

            statement = api.get(
                f"/api/v1/households/{household_id}/statement", headers=headers
            ).json()
            lines = statement["lines"] if isinstance(statement, dict) else statement
            assert [line["amount_rp"] for line in lines] == [EXPECTED_RP]

            # the point in InfluxDB, read back through /query
            q = f"SELECT * FROM weighin WHERE device = '{device_id}'"
            wait_until(lambda: influxdb.rows(q), 30, "the weigh-in point in InfluxDB")
            (point,) = influxdb.rows(q)
            assert point["net_g"] == NET_G
            assert point["amount_rp"] == EXPECTED_RP
            assert point["price_rp_per_kg"] == PRICE_RP_PER_KG
            assert point["category"] == "plastic-pet"
            assert point["status"] == "credited"
            assert point["household_id"] == household_id
        finally:
            assert agent.stop() == 0
    assert "receipt" in agent.text().lower()
