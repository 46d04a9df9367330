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

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.db import make_engine, migrate, session_factory
from cloud.devices import register_device
from cloud.models import Alert, ProcessedEvent, WeighinRecord
from cloud.pickups import register_bin
from tests.cloud.conftest import seed_programme
from tests.cloud.mqtt_support import unique_id, wait_until
from tests.support.delivery import IngestProcess, LinkFleet, stored_fills
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration

PASSWORD = "delivery-pw-0123456789"


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    return url


def _seed(url: str, stations: list[str], bins: list[str]) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            seed_programme(s, stations=tuple(stations))
            for b in bins:
                register_device(s, device_id=b, kind="bin")
                register_bin(s, bin_id=b, device_id=b)
            s.commit()
    finally:
        engine.dispose()


def _credited(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return _counts(s)
    finally:
        engine.dispose()


def _counts(s: Session) -> tuple[int, int, int]:
    return (
        int(s.scalar(select(func.count()).select_from(WeighinRecord)) or 0),
        int(s.scalar(select(func.count(func.distinct(WeighinRecord.event_id)))) or 0),
        int(s.scalar(select(func.count()).select_from(ProcessedEvent)) or 0),
    )


def _subscribes(workers: list[IngestProcess]) -> int:
    return sum(w.log_text().count("subscribing") for w in workers)


def test_broker_kill_loop_and_clean_restart_lose_no_acknowledged_reading(
    ledger: str, tmp_path: Path
) -> None:
    stations = [unique_id("st") for _ in range(2)]
    bins = [unique_id("bn") for _ in range(2)]
    _seed(ledger, stations, bins)
    devices = {d: ("station", PASSWORD) for d in stations} | {d: ("bin", PASSWORD) for d in bins}
    with MosquittoServer(devices={d: PASSWORD for d in devices}).start() as broker:
        user, password = broker.service("ingest")
        group = unique_id("g")
        workers = [
            IngestProcess(
                tmp_path / f"w{i}", port=broker.port, user=user, password=password,
                ledger_url=ledger, client_id=unique_id(f"ingest-{i}"), share_group=group,
                takeover_after_s=0,
            ).start()
            for i in range(2)
        ]  # fmt: skip
        fleet = LinkFleet(tmp_path / "fleet", broker.port, devices, rate_per_device=8.0)
        try:
            wait_until(lambda: _subscribes(workers) >= 2, 30, "both workers subscribed")
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
                wait_until(lambda n=subscribed: _subscribes(workers) >= n + 2, 30, "re-subscribed")
            fleet.stop_producing()
            wait_until(lambda: fleet.unconfirmed() == 0, 90, "every event confirmed")
            fills = fleet.produced("bin")
            weighins = sum(len(s) for s in fleet.produced("station").values())
            stored = stored_fills([w.telemetry for w in workers])
            for b in bins:
                assert stored.get(b) == set(fills[b]), f"{b}: fills lost or invented"
            assert _credited(ledger) == (weighins, weighins, weighins)  # each exactly once
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
    stations = [unique_id("st") for _ in range(2)]
    bins = [unique_id("bn") for _ in range(2)]
    _seed(ledger, stations, bins)
    devices = {d: ("station", PASSWORD) for d in stations} | {d: ("bin", PASSWORD) for d in bins}
    with MosquittoServer(devices={d: PASSWORD for d in devices}).start() as broker:
        user, password = broker.service("ingest")
        group = unique_id("g")
        common = {"port": broker.port, "user": user, "password": password,
                  "ledger_url": ledger, "share_group": group, "heartbeat_s": 0.5,
                  "takeover_after_s": 3.0, "takeover_idle_s": 1.0}  # fmt: skip
        doomed = IngestProcess(tmp_path / "doomed", client_id=unique_id("ingest-d"), **common)
        survivor = IngestProcess(tmp_path / "survivor", client_id=unique_id("ingest-s"), **common)
        workers = [doomed.start(), survivor.start()]
        # the devices must not heal the loss themselves: only the takeover may deliver
        fleet = LinkFleet(tmp_path / "fleet", broker.port, devices, rate_per_device=8.0,
                          confirm_timeout_s=3600)  # fmt: skip
        try:
            wait_until(lambda: _subscribes(workers) >= 2, 30, "both workers subscribed")
            fleet.start()
            wait_until(lambda: fleet.stat("confirmed") > 20, 20, "the stream flowing")
            doomed.kill()  # for good: its session stays in the group, Mosquitto queues for it
            wait_until(lambda: fleet.awaiting() > 10, 20, "events queued for the dead worker")
            fleet.stop_producing()
            wait_until(lambda: fleet.unconfirmed() == 0, 60, "every event confirmed")
            wait_until(lambda: "ended its session" in survivor.log_text(), 20, "the takeover's end")
            fills = fleet.produced("bin")
            weighins = sum(len(s) for s in fleet.produced("station").values())
            stored = stored_fills([w.telemetry for w in workers])
            for b in bins:
                assert stored.get(b) == set(fills[b])
            assert _credited(ledger) == (weighins, weighins, weighins)
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
