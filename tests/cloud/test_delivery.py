"""No acknowledged reading lost on a broker crash or restart; a dead worker's share taken over.

Real Mosquitto (the project's config), real ingest worker processes (shared subscription),
devices running the Pi's delivery code (:class:`tests.support.delivery.LinkFleet`: the
outbox and the MQTT link, fed by the agent's event factory). The broker is not the record:
Mosquitto 2.0 drops what it acknowledged when it restarts before ingest has subscribed
again, and a kill -9 loses what it had not saved. Every event stays in its device's
outbox until the cloud confirms it, so at the end: every fill stored, every weigh-in
credited exactly once, every outbox empty.

mutant: the outbox deletes telemetry at PUBACK (as before) -> fills lost -> fails
mutant: ingest does not subscribe again after a reconnect -> nothing arrives -> fails
mutant: devices ignore the ingest announcement and never time out -> dropped fills stay
        unconfirmed -> the outboxes never drain -> fails
mutant: no takeover (takeover_after_s = 0) -> the killed worker's queue is never
        processed -> fails
mutant: takeover ends the session without draining it -> queued weigh-ins are only
        re-sent by devices, fills of a bare-MQTT device are lost -> fails
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cloud.db import make_engine, session_factory
from cloud.models import Alert
from cloud.models.bins import Pickup
from edge.clock import Clock
from edge.events import EventFactory
from edge.link import MqttLink
from edge.outbox import Outbox
from tests.cloud.mqtt_support import unique_id
from tests.support.delivery import (
    PASSWORD,
    IngestProcess,
    LinkFleet,
    credited,
    ingest_workers,
    seed_fleet,
    stored_fills,
)
from tests.support.links import make_link
from tests.support.services import MosquittoServer
from tests.support.waiting import PROCESS_START_S, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"  # seed_fleet() migrates it


def _subscribes(workers: list[IngestProcess]) -> int:
    return sum(w.log_text().count("subscribing") for w in workers)


def test_broker_kill_loop_and_clean_restart_lose_no_acknowledged_reading(
    ledger: str, tmp_path: Path
) -> None:
    bins = [unique_id("bn") for _ in range(2)]
    devices = seed_fleet(ledger, [unique_id("st") for _ in range(2)], bins)
    with MosquittoServer(devices={d: pw for d, (_, pw) in devices.items()}).start() as broker:
        names = [unique_id("ingest-a"), unique_id("ingest-b")]
        workers = ingest_workers(tmp_path, broker, ledger, names, takeover_after_s=0)
        fleet = LinkFleet(tmp_path / "fleet", broker.port, devices, rate_per_device=8.0)
        try:
            wait_until(
                lambda: _subscribes(workers) >= 2, PROCESS_START_S, "both workers subscribed"
            )
            fleet.start()
            in_flight_at_kill = []
            for cycle in range(4):
                ups, subscribed = 4 * (cycle + 1), _subscribes(workers)
                wait_until(lambda: fleet.awaiting() > 0, 10, "events awaiting confirmation")
                wait_until(lambda n=ups: fleet.stat("connects") >= n, 30, "devices up")
                in_flight_at_kill.append(fleet.awaiting())
                if cycle < 3:
                    broker.kill()  # kill -9 with messages in flight
                else:
                    broker.terminate()  # a clean stop, devices publishing meanwhile
                wait_until(lambda n=ups: fleet.stat("disconnects") >= n, 10, "devices down")
                broker.start()
                wait_until(
                    lambda n=subscribed: _subscribes(workers) >= n + 2,
                    PROCESS_START_S,
                    "re-subscribed",
                )
            fleet.stop_producing()
            wait_until(lambda: fleet.unconfirmed() == 0, 90, "every event confirmed")
            fills = fleet.produced("bin")
            weighins = sum(len(s) for s in fleet.produced("station").values())
            stored = stored_fills([w.telemetry for w in workers])
            for b in bins:
                assert stored.get(b) == set(fills[b]), f"{b}: fills lost or invented"
            assert credited(ledger) == (weighins, weighins, weighins)  # each exactly once
            assert all(n > 0 for n in in_flight_at_kill)
            assert all(w.alive for w in workers)
        finally:
            fleet.close()
            for w in workers:
                w.stop()


def test_a_dead_workers_share_is_taken_over_without_an_operator(
    ledger: str, tmp_path: Path
) -> None:
    """One of two workers SIGKILLed for good under a stream: everything stored, credited."""
    bins = [unique_id("bn") for _ in range(2)]
    devices = seed_fleet(ledger, [unique_id("st") for _ in range(2)], bins)
    with MosquittoServer(devices={d: pw for d, (_, pw) in devices.items()}).start() as broker:
        names = [unique_id("ingest-doomed"), unique_id("ingest-survivor")]
        workers = ingest_workers(
            tmp_path,
            broker,
            ledger,
            names,
            heartbeat_s=0.5,
            takeover_after_s=3.0,
            takeover_idle_s=1.0,
        )
        doomed, survivor = workers
        # the devices must not heal the loss themselves: only the takeover may deliver
        fleet = LinkFleet(
            tmp_path / "fleet", broker.port, devices, rate_per_device=8.0, confirm_timeout_s=3600
        )
        try:
            wait_until(
                lambda: _subscribes(workers) >= 2, PROCESS_START_S, "both workers subscribed"
            )
            fleet.start()
            wait_until(lambda: fleet.stat("confirmed") > 20, 20, "the stream flowing")
            doomed.kill()  # for good: its session stays in the group, Mosquitto queues for it
            wait_until(lambda: fleet.awaiting() > 10, 20, "events queued for the dead worker")
            fleet.stop_producing()
            fills = fleet.produced("bin")
            weighins = sum(len(s) for s in fleet.produced("station").values())

            def everything_in() -> bool:
                # (not "every outbox empty": the acks the dead worker still held for
                # events it had committed died with it; devices re-send those after
                # their timeout, disabled here to leave the takeover alone at work)
                stored = stored_fills([w.telemetry for w in workers])
                return all(stored.get(b) == set(fills[b]) for b in bins) and credited(ledger) == (
                    weighins,
                    weighins,
                    weighins,
                )

            wait_until(everything_in, 60, "every fill stored, every weigh-in credited")
            wait_until(lambda: "ended its session" in survivor.log_text(), 20, "the takeover's end")
            engine = make_engine(ledger)
            with session_factory(engine)() as s:
                alert = s.scalar(select(Alert).where(Alert.kind == "ingest_takeover"))
                assert alert is not None
                assert alert.subject == doomed.client_id[:48]
            engine.dispose()
        finally:
            fleet.close()
            for w in workers:
                w.stop()


def _bin_effects(ledger_url: str, bin_id: str) -> tuple[int, int]:
    """The bin's pickups and fill alerts in the ledger."""
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            pickups = s.scalar(select(func.count()).where(Pickup.bin_id == bin_id))
            # the bin's own alerts: the device going away raises its ``device_offline``
            # (same subject: the bin is its own device) whenever the broker tells it
            alerts = s.scalar(
                select(func.count()).where(Alert.subject == bin_id, Alert.kind == "bin_full")
            )
            return int(pickups or 0), int(alerts or 0)
    finally:
        engine.dispose()


def test_an_ack_lost_while_its_device_was_away_brings_the_events_again_and_nothing_twice(
    ledger: str, tmp_path: Path
) -> None:
    """Acks travel at QoS 0 (``contract.TOPIC_SPECS``): one published while its device is
    away is lost (the broker queues no QoS 0 message for an offline session). The events
    stay in the outbox, go again after the confirmation timeout, are stored once and
    change nothing twice (one pickup, the same alerts), and the ack of the re-sent events
    empties the outbox.

    mutant: acks at QoS 1 again -> the broker keeps the ack for the device's session,
            nothing is re-sent -> fails (the lost-ack path is not reached)
    mutant: the device never re-sends an overdue event (``_requeue_overdue`` returns at
            once) -> the outbox never drains -> fails
    """
    b = unique_id("bn")
    seed_fleet(ledger, [], [b])
    with MosquittoServer(devices={b: PASSWORD}).start() as broker:
        # acks coalesced over 3 s: the device is gone well before its ack is published
        (worker,) = ingest_workers(
            tmp_path, broker, ledger, [unique_id("ingest")], confirm_interval_s=3.0
        )
        box = Outbox(tmp_path / "outbox.db", capacity=1000, telemetry_share=1.0)
        boot = uuid.uuid4()
        events = EventFactory(b, Clock(boot_id=boot, synced=lambda: True))
        seqs = [box.append("fill", events.fill(bin_id=b, fill_pct=p)) for p in (50.0, 85.0, 86.0)]

        def link() -> MqttLink:
            return make_link(
                broker,
                b,
                PASSWORD,
                box,
                confirm_timeout_s=4.0,  # longer than the ingest's coalescing: one re-send
                boot_id=boot,
                confirm_timeout_max_s=8.0,
            )[0]

        away: MqttLink | None = None
        back: MqttLink | None = None
        try:
            wait_until(lambda: _subscribes([worker]) >= 1, PROCESS_START_S, "subscribed")
            away = link()
            away.start()
            wait_until(lambda: box.stats().awaiting == 3, 10, "three PUBACKs")
            away.stop()  # the agent goes away before the ingest's ack
            wait_until(
                lambda: stored_fills([worker.telemetry]).get(b) == set(seqs), 20, "all stored"
            )
            first = _bin_effects(ledger, b)
            assert first[0] == 1  # 85 % opened a pickup
            time.sleep(4.0)  # the coalesced ack is published now, to nobody
            assert box.depth == 3
            back = link()
            back.start()
            wait_until(lambda: box.depth == 0, 30, "re-sent, stored again, confirmed")
            assert back.stats.republished_for_receipt == 3  # the lost ack's events, again
            assert back.stats.confirmed == 3
            assert stored_fills([worker.telemetry]).get(b) == set(seqs)
            assert _bin_effects(ledger, b) == first  # nothing twice
            assert worker.alive
        finally:
            for one in (away, back):
                if one is not None:
                    one.stop()
            box.close()
            worker.stop()
