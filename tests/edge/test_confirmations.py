"""The link keeps events until the cloud confirms them; an ingest announcement re-sends.

In-process MqttLink against the real broker, with the cloud played by FakeCloud.

mutant: an ack ignored (or applied without checking its device) -> fails
mutant: the first announcement after start treated as news (needless re-send) -> fails
mutant: every announcement re-sends everything unconfirmed (no cutoff) -> fails
mutant: an announcement after a broker restart re-sending only part -> fails
mutant: the confirmation timeout not doubling per attempt -> fails
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract import INGEST_ONLINE_TOPIC, Ack, IngestOnline, Kind, device_topic
from contract.models import to_json
from edge.clock import Clock
from edge.config import EdgeSettings, MqttSettings
from edge.events import EventFactory
from edge.link import MqttLink
from edge.outbox import Outbox
from tests.edge.harness import FakeCloud
from tests.support.links import make_link
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", capacity=1000) as box:
        yield box


def _link(broker: MosquittoServer, device_id: str, box: Outbox) -> MqttLink:
    password = f"pw-{device_id}-0123456789"
    broker.add_device(device_id, password)
    return make_link(broker, device_id, password, box, confirm_timeout_s=3600)[0]


def _fills(box: Outbox, device_id: str, n: int) -> list[int]:
    events = EventFactory(device_id, Clock(boot_id=uuid.uuid4(), synced=lambda: True))
    seqs = [box.append("fill", events.fill(bin_id=device_id, fill_pct=10.0 + i)) for i in range(n)]
    return [s for s in seqs if s is not None]


def _announce(cloud: FakeCloud) -> None:
    hello = IngestOnline(epoch=uuid.uuid4().hex, at=datetime.now(UTC))
    cloud.client.publish(INGEST_ONLINE_TOPIC, to_json(hello), qos=1, retain=True)


def test_fills_wait_for_the_clouds_ack_and_only_their_own(
    mosquitto: MosquittoServer, outbox: Outbox
) -> None:
    device_id = "bn-conf01"
    cloud = FakeCloud(mosquitto, client_id="cloud-conf01", confirm=False)
    link = _link(mosquitto, device_id, outbox)
    seqs = _fills(outbox, device_id, 5)
    link.start()
    try:
        wait_until(lambda: outbox.stats().awaiting == 5, 10, "five PUBACKs")
        ack_topic = device_topic(device_id, Kind.ACK)
        foreign = Ack(device_id="bn-other", seqs=[(1, 1000)])
        cloud.client.publish(ack_topic, to_json(foreign), qos=1)  # another device's: ignored
        cloud.client.publish(ack_topic, b'{"v": 1, "seqs": "all"}', qos=1)  # malformed
        wait_until(lambda: link.stats.bad_messages == 2, 10, "two bad acks counted")
        assert outbox.depth == 5
        for ack in Ack.for_seqs(device_id, seqs[:3]):
            cloud.client.publish(ack_topic, to_json(ack), qos=1)
        wait_until(lambda: outbox.depth == 2, 10, "three confirmed")
        assert [s for s, _ in outbox.awaiting()] == seqs[3:]
        assert link.stats.confirmed == 3
    finally:
        link.stop()
        cloud.close()


def test_an_ingest_announcement_resends_what_may_have_been_dropped(
    tmp_path: Path, outbox: Outbox
) -> None:
    device_id = "bn-conf02"
    with MosquittoServer().start() as broker:  # private: restarted below
        cloud = FakeCloud(broker, client_id="cloud-conf02", confirm=False)
        _announce(cloud)  # the retained state a device finds at start
        link = _link(broker, device_id, outbox)
        first = _fills(outbox, device_id, 4)
        link.start()
        wait_until(lambda: outbox.stats().awaiting == 4, 10, "four PUBACKs")
        link.stop()  # the agent restarts: four events unconfirmed in its outbox
        link = _link(broker, device_id, outbox)
        link.start()
        try:
            wait_until(lambda: link._epoch is not None, 10, "the retained epoch")
            wait_until(lambda: not link._requeue_all, 10, "it dealt with")
            assert link.stats.requeued_for_epoch == 0  # old news: nothing re-sent
            _announce(cloud)  # a worker (re)subscribed
            wait_until(lambda: link.stats.requeued_for_epoch == 4, 10, "all four again")
            wait_until(lambda: len(cloud.of("fill", device_id)) == 8, 10, "re-published")
            second = _fills(outbox, device_id, 2)
            link.notify()
            wait_until(lambda: outbox.stats().awaiting == 6, 10, "six awaiting")
            _announce(cloud)  # the group's next worker: what came since reached the group
            cloud.client.publish(device_topic(device_id, Kind.CMD), b"{}", qos=1)  # a marker
            # handled in order: once the marker is counted and the flag flushed, the
            # announcement has been dealt with
            wait_until(lambda: link.stats.bad_messages == 1 and not link._requeue_all, 10, "it")
            assert link.stats.requeued_for_epoch == 4
            third = _fills(outbox, device_id, 2)  # acknowledged after every announcement
            link.notify()
            wait_until(lambda: outbox.stats().awaiting == 8, 10, "eight awaiting")
            cloud.close()
            broker.kill()  # a restart drops what it acknowledged: every one goes again
            broker.start()
            cloud = FakeCloud(broker, client_id="cloud-conf02", confirm=False)
            wait_until(lambda: link.connected, 15, "the device back")
            _announce(cloud)
            wait_until(lambda: link.stats.requeued_for_epoch == 12, 10, "all eight again")
            wait_until(lambda: outbox.stats().awaiting == 8, 10, "all eight PUBACKed again")
            assert {s for s, _ in outbox.awaiting()} == set(first + second + third)
        finally:
            link.stop()
            cloud.close()


def test_each_attempt_waits_twice_as_long_for_its_confirmation() -> None:
    link = MqttLink(
        device_id="st-conf03",
        settings=MqttSettings(),
        outbox=None,  # type: ignore[arg-type]
        sw_version="t",
        boot_id=uuid.uuid4(),
        confirm_timeout_s=15,
        confirm_timeout_max_s=300,
    )
    assert [link._timeout(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [15, 30, 60, 120, 240, 300, 300]


def test_the_old_setting_name_is_still_read() -> None:
    base = {
        "device_id": "st-conf04",
        "bins": [{"bin_id": "bn-conf04", "trigger_pin": 1, "echo_pin": 2, "empty_depth_mm": 1000}],
    }
    assert EdgeSettings(**base).confirm_timeout == 15
    assert EdgeSettings(**base, receipt_timeout_s=60).confirm_timeout == 60
