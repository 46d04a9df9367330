"""The agent reads receipts and commands as strictly as the cloud reads events.

A receipt whose types are not exactly the contract's (``"seq": "7"``, ``"amount_rp":
"3750"``, a repeated key) or a command with a Unix time is a bad message: counted, never
fatal, and it completes nothing in the outbox.

Mutants run: ``strict=True`` dropped from ``contract.parse_payload`` -> the coerced
receipt completes the weigh-in (fails); the repeated-key check skipped -> the receipt
with ``seq`` twice completes it (fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from contract.topics import Kind, device_topic
from edge import __version__
from edge.clock import Clock
from edge.config import MqttSettings
from edge.events import EventFactory
from edge.link import MqttLink
from edge.outbox import Outbox
from tests.edge.harness import FakeCloud, wait_until
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", capacity=10) as box:
        yield box


def test_coerced_receipts_and_commands_are_bad_messages(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    device_id, password = "st-strict01", "pw-strict01-0123456789"
    mosquitto.add_device(device_id, password)
    events = EventFactory(device_id, Clock(boot_id=uuid.uuid4(), synced=lambda: True))
    seq = outbox.append(
        "weighin", events.weighin(net_g=500, division_g=10, protocol="mtsics", category="paper")
    )
    assert seq is not None
    commands: list[object] = []
    link = MqttLink(
        device_id=device_id,
        settings=MqttSettings(host="127.0.0.1", port=mosquitto.port, password=SecretStr(password)),
        outbox=outbox,
        sw_version=__version__,
        boot_id=uuid.uuid4(),
        on_command=commands.append,
    )
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-strict01", answer=False)
    link.start()
    try:
        assert link.wait_connected(15)
        wait_until(lambda: outbox.stats().awaiting_receipt == 1, 10, "the PUBACK")
        head = f'{{"v":1,"device_id":"{device_id}","event_id":"{device_id}:{seq}",'
        tail = '"processed_at":"2026-11-29T00:00:00Z"}'
        receipts = [
            f'{head}"seq":"{seq}","status":"credited","amount_rp":3750,{tail}',
            f'{head}"seq":{seq},"status":"credited","amount_rp":"3750",{tail}',
            f'{head}"seq":{seq},"status":"credited","amount_rp":true,{tail}',
            f'{head}"seq":1,"seq":{seq},"status":"credited","amount_rp":3750,{tail}',
        ]
        for payload in receipts:
            cloud.client.publish(device_topic(device_id, Kind.RECEIPT), payload, qos=1)
        cmd = f'{{"v":1,"cmd_id":"c1","device_id":"{device_id}","action":"tare",'
        for payload in (cmd + '"issued_at":1764550000}', cmd + '"issued_at":"1764550000"}'):
            cloud.client.publish(device_topic(device_id, Kind.CMD), payload, qos=1)
        wait_until(lambda: link.stats.bad_messages == 6, 10, "six bad messages counted")
        assert link.connected
        assert commands == []
        assert outbox.stats().awaiting_receipt == 1  # none of them completed the weigh-in
        good = receipts[0].replace(f'"seq":"{seq}"', f'"seq":{seq}')
        cloud.client.publish(device_topic(device_id, Kind.RECEIPT), good, qos=1)
        wait_until(lambda: outbox.depth == 0, 10, "the exact receipt completes it")
        assert link.stats.bad_messages == 6
    finally:
        link.stop()
        cloud.close()
