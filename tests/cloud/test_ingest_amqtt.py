"""Ingest against an MQTT 3.1.1-only broker without shared subscriptions (amqtt, demo)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud import postings
from cloud.broker_accounts import INGEST, DynsecFile, initial_document
from cloud.db import session_factory
from cloud.ingest import IngestSettings, IngestWorker
from cloud.telemetry import TelemetrySettings
from contract import Kind, ReceiptStatus
from stack.broker import EmbeddedBroker
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import weighin
from tests.cloud.mqtt_support import device
from tests.support.services import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


class _Amqtt:
    """The embedded broker with the project's account document."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.accounts = DynsecFile(workdir / "accounts.json")
        self.accounts.write(initial_document({"salinmas-ingest": (INGEST, "ingest-pw-amqtt")}))
        self.broker = EmbeddedBroker(port=self.port, accounts_file=self.accounts.path)

    def add_device(self, device_id: str, password: str) -> None:
        self.accounts.add_device(device_id, password)


@pytest.fixture
def amqtt_broker(tmp_path: Path) -> Iterator[_Amqtt]:
    b = _Amqtt(tmp_path)
    b.broker.start()
    yield b
    b.broker.stop()


def test_ingest_over_mqtt_311_without_shared_subscriptions(
    amqtt_broker: _Amqtt, engine: Engine, session: Session, ledger_url: str, tmp_path: Path
) -> None:
    hh = seed_programme(session, stations=("st-demo01",))
    settings = IngestSettings.load(
        mqtt_port=amqtt_broker.port,
        mqtt_username="salinmas-ingest",
        mqtt_password=SecretStr("ingest-pw-amqtt"),
        mqtt_protocol="3.1.1",
        share_group="",
        client_id="ingest-demo",
        ledger_url=ledger_url,
        migrate_on_start=False,
        telemetry=TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "t.db"),
    )
    events = [weighin("st-demo01", seq=s) for s in range(1, 41)]
    with IngestWorker(settings) as w, device(amqtt_broker, "st-demo01") as dev:
        assert w.wait_subscribed(10)
        dev.publish_many(Kind.WEIGHIN, [*events, events[0]])
        wait_until(lambda: len(dev.receipts) == 41, 60, "41 receipts")
    receipts = dev.parsed_receipts()
    assert all(r.status is ReceiptStatus.CREDITED for r in receipts)
    assert receipts.count(receipts[0]) == 2  # the redelivered one got the same receipt
    with session_factory(engine)() as s:
        assert postings.funds(s, household_id=hh).balance_rp == 40 * 3750
