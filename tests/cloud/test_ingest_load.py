"""Ingest under load and failure: two workers, SIGKILL mid-batch, InfluxDB outage."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud import deadletters
from cloud.db import make_engine, session_factory
from cloud.ingest import IngestWorker
from cloud.telemetry import TelemetrySettings, open_reader
from contract import Kind
from tests.cloud.conftest import assert_credited_once, credited, seed_programme
from tests.cloud.factories import weighin
from tests.cloud.mqtt_support import (
    Device,
    device,
    ingest_config,
    ingest_settings,
    spawn_ingest,
    unique_id,
)
from tests.support.services import InfluxServer, MosquittoServer, PostgresServer
from tests.support.waiting import PROCESS_START_S, wait_until

pytestmark = pytest.mark.integration

AMOUNT = 3750  # 1,250 g of PET at Rp 3,000/kg
_influx_db = itertools.count(1)


@pytest.fixture
def stations(session: Session) -> tuple[list[str], int]:
    ids = [unique_id("st") for _ in range(4)]
    return ids, seed_programme(session, stations=tuple(ids))


@pytest.fixture
def devices(mosquitto: MosquittoServer, stations: tuple[list[str], int]) -> Iterator[list[Device]]:
    devs = [Device(mosquitto, st) for st in stations[0]]
    yield devs
    for d in devs:
        d.close()


def test_two_workers_on_a_shared_subscription_credit_each_event_once(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    stations: tuple[list[str], int],
    devices: list[Device],
) -> None:
    per_device = 500
    group = unique_id("g")
    workers = [
        IngestWorker(ingest_settings(mosquitto, ledger_url, tmp_path / f"w{i}", share_group=group))
        for i in range(2)
    ]
    for w in workers:
        w.start()
    try:
        assert all(w.wait_subscribed(10) for w in workers)
        for dev in devices:
            events = [weighin(dev.device_id, seq=s) for s in range(1, per_device + 1)]
            dev.publish_many(Kind.WEIGHIN, events + events[:50])  # 50 redeliveries each
        total = per_device * len(devices)
        wait_until(lambda: credited(engine) == total, 120, f"{total} credited")
        # every weigh-in message, redeliveries included, was processed and acknowledged
        # (retained status messages of other tests' devices are dead letters here)
        wait_until(
            lambda: sum(w.processed - w.dead_letters for w in workers) == total + 200,
            30,
            "all acked",
        )
        assert all(w.processed > 0 for w in workers)  # the load was really shared
    finally:
        for w in workers:
            w.stop()
    assert_credited_once(engine, stations[1], per_device * len(devices), AMOUNT)


def test_sigkill_mid_batch_loses_nothing_and_credits_nothing_twice(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    stations: tuple[list[str], int],
    devices: list[Device],
) -> None:
    config = ingest_config(tmp_path / "ingest.toml", mosquitto, ledger_url, unique_id("ingest"))
    log = tmp_path / "ingest.log"
    # the paused worker may hold SQLite's write lock: the test reads without taking it
    reader = make_engine(ledger_url, write=False)
    proc = spawn_ingest(config, log)
    try:
        wait_until(lambda: "subscribing" in log.read_text(), PROCESS_START_S, "ingest subscribed")
        # the worker is paused while the stations publish, so the whole stream is queued at
        # the broker when it resumes: the kill lands mid-stream even if this process is
        # descheduled for seconds (CI once saw all 2,000 credited while the stations were
        # still publishing one after another, before the kill)
        per_device = 1000
        first, rest = devices[0], devices
        first.publish_many(Kind.WEIGHIN, [weighin(first.device_id, seq=1)])
        wait_until(lambda: credited(reader) == 1, 60, "the subscription is in place")
        proc.send_signal(signal.SIGSTOP)
        for dev in rest:
            start = 2 if dev is first else 1
            dev.publish_many(
                Kind.WEIGHIN, [weighin(dev.device_id, seq=s) for s in range(start, per_device + 1)]
            )
        total = per_device * len(devices)
        assert credited(reader) == 1
        proc.send_signal(signal.SIGCONT)
        wait_until(lambda: credited(reader) >= 51, 60, "crediting under way", interval_s=0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        at_kill = credited(reader)
        assert at_kill < total, "the worker finished before it could be killed"
        proc = spawn_ingest(config, log)  # same client id: the broker kept its session
        wait_until(lambda: credited(reader) == total, 120, f"{total} credited after restart")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "ingest stopped" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.dispose()
    assert_credited_once(engine, stations[1], total, AMOUNT)


def test_influx_outage_under_load_credits_on_and_backfills(
    mosquitto: MosquittoServer,
    influxdb: InfluxServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    stations: tuple[list[str], int],
    devices: list[Device],
) -> None:
    telemetry = TelemetrySettings(
        backend="influx",
        influx_url=influxdb.url,
        influx_database=f"outage_{next(_influx_db)}",
        buffer_path=tmp_path / "buffer.db",
        flush_interval_s=0.1,
        max_backoff_s=0.5,
    )
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, telemetry=telemetry)
    dev = devices[0]
    with IngestWorker(settings) as w:
        assert w.wait_subscribed(10)
        dev.publish_many(Kind.WEIGHIN, [weighin(dev.device_id, seq=s) for s in range(1, 301)])
        wait_until(lambda: credited(engine) == 300, 60, "300 credited")
        assert w.store.flush(30)
        influxdb.pause()
        try:
            dev.publish_many(
                Kind.WEIGHIN, [weighin(dev.device_id, seq=s) for s in range(301, 1001)]
            )
            wait_until(lambda: credited(engine) == 1000, 60, "credited while InfluxDB is down")
            # the points are buffered after the batch commits (and before its ack)
            wait_until(lambda: w.store.pending() > 0, 10, "points waiting in the buffer")
        finally:
            influxdb.resume()
        assert w.store.flush(60)
    assert_credited_once(engine, stations[1], 1000, AMOUNT)
    check = open_reader(telemetry)
    try:
        assert check.count("weighin") == 1000
    finally:
        check.close()


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_ledger_database_crash_under_load_loses_nothing(
    mosquitto: MosquittoServer,
    postgres: PostgresServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    stations: tuple[list[str], int],
    devices: list[Device],
) -> None:
    dev = devices[0]
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, batch_max=50)
    with IngestWorker(settings) as w:
        assert w.wait_subscribed(10)
        dev.publish_many(Kind.WEIGHIN, [weighin(dev.device_id, seq=s) for s in range(1, 2001)])
        wait_until(lambda: credited(engine) >= 100, 60, "crediting under way")
        engine.dispose()
        postgres.crash()  # in-flight transactions die with the server
        postgres.start()
        at_crash = credited(engine)
        assert at_crash < 2000, "the worker finished before the crash"
        wait_until(lambda: credited(engine) == 2000, 120, "all credited after the crash")
    with session_factory(engine)() as s:
        # a database outage is never the message's fault: nothing became a dead letter
        # (retained status messages of other tests' devices may be there as unknown_device)
        assert set(deadletters.counts_by_reason(s)) <= {"unknown_device"}
    assert_credited_once(engine, stations[1], 2000, AMOUNT)


def test_broker_restart_ingest_reconnects_and_keeps_its_session(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    stations: tuple[list[str], int],
) -> None:
    st = stations[0][0]
    settings = ingest_settings(mosquitto, ledger_url, tmp_path)
    with IngestWorker(settings) as w:
        assert w.wait_subscribed(10)
        with device(mosquitto, st) as dev:
            dev.publish_many(Kind.WEIGHIN, [weighin(st, seq=s) for s in range(1, 101)])
            wait_until(lambda: credited(engine) == 100, 30, "100 credited")
        subscribed = w.subscribed_count
        mosquitto.restart()
        # subscribed again (connected is not enough: the restarted broker drops what
        # arrives before the shared subscription is back)
        wait_until(lambda: w.subscribed_count > subscribed, 30, "ingest subscribed again")
        with device(mosquitto, st) as dev:
            dev.publish_many(Kind.WEIGHIN, [weighin(st, seq=s) for s in range(101, 201)])
            # (weigh-ins whose ack the restart cut off come back and are answered again)
            wait_until(
                lambda: {r.seq for r in dev.parsed_receipts()} >= set(range(101, 201)),
                30,
                "receipts after the restart",
            )
    # while no worker runs, the broker queues for the persistent session
    with device(mosquitto, st) as dev:
        dev.publish_many(Kind.WEIGHIN, [weighin(st, seq=s) for s in range(201, 251)])
    with IngestWorker(settings) as w:
        wait_until(lambda: credited(engine) == 250, 30, "queued weigh-ins credited")
    assert_credited_once(engine, stations[1], 250, AMOUNT)
