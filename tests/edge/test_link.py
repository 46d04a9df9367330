"""MqttLink in-process against the real broker: credentials, bad input, receipts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.models import Receipt
from contract.topics import Kind, device_topic
from edge.clock import Clock
from edge.events import EventFactory
from edge.outbox import Outbox
from tests.edge.harness import FakeCloud
from tests.support.links import make_link
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", capacity=100) as box:
        yield box


def queue_weighins(box: Outbox, device_id: str, n: int) -> list[int]:
    events = EventFactory(device_id, Clock(boot_id=uuid.uuid4(), synced=lambda: True))
    out = []
    for i in range(n):
        seq = box.append(
            "weighin",
            events.weighin(net_g=500 + i, division_g=10, protocol="mtsics", category="paper"),
        )
        assert seq is not None
        out.append(seq)
    return out


def test_refused_credentials_keep_the_queue_until_the_device_is_provisioned(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    device_id = "st-link01"
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-link01")
    seqs = queue_weighins(outbox, device_id, 3)
    link, receipts = make_link(mosquitto, device_id, "pw-link01-0123456789", outbox)
    link.start()
    try:
        wait_until(lambda: link.stats.refused >= 2, 10, "refusals, retried with back-off")
        assert not link.connected
        assert outbox.depth == 3
        mosquitto.add_device(device_id, "pw-link01-0123456789")  # provisioning (dynsec)
        assert link.wait_connected(15)
        wait_until(lambda: outbox.depth == 0, 15, "delivery and receipts")
        assert sorted(cloud.weighin_seqs(device_id)) == seqs
        assert [(r.seq, first) for r, first in receipts] == [(s, True) for s in seqs]
        assert outbox.receipts(1)[0][1] == "credited"
    finally:
        link.stop()
        cloud.close()


def test_bad_and_foreign_messages_are_counted_never_fatal(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    device_id = "st-link02"
    mosquitto.add_device(device_id, "pw-link02-0123456789")
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-link02", answer=False)
    [seq] = queue_weighins(outbox, device_id, 1)
    link, _ = make_link(mosquitto, device_id, "pw-link02-0123456789", outbox)
    link.start()
    try:
        assert link.wait_connected(15)
        wait_until(lambda: outbox.stats().awaiting == 1, 10, "the PUBACK")
        receipt_topic = device_topic(device_id, Kind.RECEIPT)
        bad = [
            b"not json",
            b'{"v": 1}',
            # a receipt naming another device, and one whose event_id does not match seq
            Receipt(
                device_id="st-other",
                event_id="st-other:1",
                seq=1,
                status="credited",
                processed_at="2026-11-29T00:00:00Z",
            )
            .model_dump_json()
            .encode(),
            Receipt(
                device_id=device_id,
                event_id=f"{device_id}:99",
                seq=seq,
                status="credited",
                processed_at="2026-11-29T00:00:00Z",
            )
            .model_dump_json()
            .encode(),
            b'{"v": 1, "cmd_id": "x", "device_id": "st-link02", "action": "selfdestruct"}',
        ]
        for payload in bad[:4]:
            cloud.client.publish(receipt_topic, payload, qos=1)
        cloud.client.publish(device_topic(device_id, Kind.CMD), bad[4], qos=1)
        wait_until(lambda: link.stats.bad_messages == 5, 10, "five bad messages counted")
        assert link.connected
        assert outbox.stats().awaiting == 1  # none of them completed the weigh-in
        good = Receipt(
            device_id=device_id,
            event_id=f"{device_id}:{seq}",
            seq=seq,
            status="unassigned",
            processed_at="2026-11-29T00:00:00Z",
        )
        for _ in range(2):  # the cloud answers a redelivery with the same receipt
            cloud.client.publish(receipt_topic, good.model_dump_json().encode(), qos=1)
        wait_until(lambda: link.stats.receipts == 2, 10, "both receipts")
        assert outbox.depth == 0
        assert link.stats.duplicate_receipts == 1
    finally:
        link.stop()
        cloud.close()


def test_weighin_without_receipt_is_published_again_until_answered(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    """A broker may lose a message it PUBACKed (crash before saving): the receipt is the proof."""
    device_id = "st-link03"
    mosquitto.add_device(device_id, "pw-link03-0123456789")
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-link03", answer=False)
    [seq] = queue_weighins(outbox, device_id, 1)
    link, receipts = make_link(
        mosquitto, device_id, "pw-link03-0123456789", outbox, confirm_timeout_s=0.5
    )
    link.start()
    try:
        wait_until(lambda: cloud.weighin_seqs(device_id).count(seq) >= 3, 15, "two re-publishes")
        first, *again = cloud.of("weighin", device_id)
        assert all(copy == first for copy in again)  # the same event, not a new one
        assert outbox.depth == 1
        assert link.stats.republished_for_receipt >= 2
        cloud.answer = True
        wait_until(lambda: outbox.depth == 0, 15, "the receipt for a re-publish")
        assert receipts[0][0].seq == seq
    finally:
        link.stop()
        cloud.close()


def test_coerced_receipts_and_commands_are_bad_messages(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    """The agent reads receipts and commands as strictly as the cloud reads events: a
    receipt with ``"seq": "7"``, ``"amount_rp": "3750"`` or ``true``, or ``seq`` twice,
    and a command with a Unix time are bad messages and complete nothing.

    Mutants run: ``strict=True`` dropped from ``contract.parse_payload`` -> the coerced
    receipt completes the weigh-in (fails); the repeated-key check skipped -> the
    receipt with ``seq`` twice completes it (fails).
    """
    device_id, password = "st-link05", "pw-link05-0123456789"
    mosquitto.add_device(device_id, password)
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-link05", answer=False)
    [seq] = queue_weighins(outbox, device_id, 1)
    link, got = make_link(mosquitto, device_id, password, outbox)
    commands: list[object] = []
    link.on_command = commands.append
    link.start()
    try:
        assert link.wait_connected(15)
        wait_until(lambda: outbox.stats().awaiting == 1, 10, "the PUBACK")
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
        assert (commands, got) == ([], [])
        assert outbox.stats().awaiting == 1  # none of them completed the weigh-in
        exact = receipts[0].replace(f'"seq":"{seq}"', f'"seq":{seq}')
        cloud.client.publish(device_topic(device_id, Kind.RECEIPT), exact, qos=1)
        wait_until(lambda: outbox.depth == 0, 10, "the exact receipt completes it")
        assert link.stats.bad_messages == 6
    finally:
        link.stop()
        cloud.close()
