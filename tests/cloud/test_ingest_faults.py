"""A real ``python -m cloud.ingest`` process killed while messages are in its hands.

The worker acknowledges a message only after its effects are durable; these tests kill
it (SIGKILL) at the moments where acknowledging early would lose something, and check
that everything the broker acknowledged to the devices ends up credited or stored, once.
Ledger on PostgreSQL (the production profile; the test stops and restarts the server).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud import deadletters, pricing
from cloud.db import session_factory
from cloud.devices import register_device
from cloud.models import WeighinRecord
from cloud.pickups import register_bin
from cloud.telemetry import TelemetrySettings, open_reader
from contract import Kind, device_topic
from tests.cloud.conftest import PET_RP_PER_KG, assert_credited_once, credited, seed_programme
from tests.cloud.factories import fill, weighin
from tests.cloud.mqtt_support import (
    Device,
    ingest_config,
    spawn_ingest,
    unique_id,
)
from tests.support.services import MosquittoServer, PostgresServer
from tests.support.waiting import PROCESS_START_S, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True),
]

AMOUNT = pricing.amount_for(1250, PET_RP_PER_KG)  # what one factory weigh-in is worth
#: SIGKILLs per run of the stream test (each costs a worker start: ~2 s on an idle host)
KILLS = 10
#: weigh-ins (and as many fills) streamed meanwhile: ~20 s at the stream's pace
STREAM = 1000


def _assert_credited_once(engine: Engine, household_id: int, n: int) -> None:
    assert_credited_once(engine, household_id, n, AMOUNT)
    with session_factory(engine)() as s:
        # nothing became a dead letter (retained statuses of other tests' devices aside)
        assert set(deadletters.counts_by_reason(s)) <= {"unknown_device"}


def _has_weighin(engine: Engine, event_id: str) -> bool:
    with session_factory(engine)() as s:
        found = s.scalar(select(WeighinRecord.id).where(WeighinRecord.event_id == event_id))
        return found is not None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _runs(log: Path) -> int:
    """How many worker runs have connected and subscribed so far."""
    return log.read_text(errors="replace").count("subscribing") if log.exists() else 0


@pytest.fixture
def station(session: Session) -> tuple[str, int]:
    st = unique_id("st")
    return st, seed_programme(session, stations=(st,))


def test_a_batch_the_database_cannot_take_is_not_acknowledged(
    mosquitto: MosquittoServer,
    postgres: PostgresServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    station: tuple[str, int],
) -> None:
    """Database away: the worker holds a batch it cannot commit; SIGKILL; database back;
    a new worker run gets the same messages again from the broker and credits them.

    Mutants run: ack moved to the top of ``IngestWorker._handle`` -> the 200 were
    acknowledged and the broker never sends them again (fails); a batch the database
    cannot take acknowledged and dropped (``_ack`` + ``return`` in ``_handle``'s retry)
    -> fails.
    """
    st, hh = station
    config = ingest_config(
        tmp_path / "ingest.toml", mosquitto, ledger_url, unique_id("ingest"), migrate_on_start=False
    )
    log = tmp_path / "ingest.log"
    proc = spawn_ingest(config, log)
    dev = Device(mosquitto, st)
    try:
        wait_until(lambda: _runs(log) == 1, PROCESS_START_S, "ingest subscribed")
        engine.dispose()
        postgres.crash()
        dev.publish_many(Kind.WEIGHIN, [weighin(st, seq=s) for s in range(1, 201)])
        wait_until(
            lambda: "could not make a batch" in log.read_text(errors="replace"),
            30,
            "the worker holding a batch it cannot commit",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        postgres.start()
        assert credited(engine) == 0
        proc = spawn_ingest(config, log)  # same client id: the broker kept the session
        wait_until(lambda: credited(engine) == 200, 60, "200 credited after the restart")
        wait_until(lambda: len(dev.receipts) >= 200, 30, "their receipts")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        _stop(proc)
        dev.close()
    _assert_credited_once(engine, hh, 200)


class _Stream(threading.Thread):
    """A station and a bin publishing ``total`` weigh-ins and fills (QoS 1), paced."""

    def __init__(self, station: Device, bin_dev: Device, total: int) -> None:
        super().__init__(name="stream", daemon=True)
        self.station, self.bin = station, bin_dev
        self.total = total
        self.sent = 0
        self.stop = threading.Event()
        self.infos: list[object] = []

    def run(self) -> None:
        st, bn = self.station.device_id, self.bin.device_id
        w_topic, f_topic = device_topic(st, Kind.WEIGHIN), device_topic(bn, Kind.FILL)
        while self.sent < self.total and not self.stop.is_set():
            n = self.sent + 1
            w = weighin(st, seq=n).model_dump_json().encode()
            f = fill(bn, seq=n, fill_pct=float(n * 7 % 100)).model_dump_json().encode()
            self.infos.append(self.station.client.publish(w_topic, w, qos=1))
            self.infos.append(self.bin.client.publish(f_topic, f, qos=1))
            self.sent = n
            self.stop.wait(0.02)  # pacing: ~50 weigh-ins and 50 fills a second

    def finish(self) -> int:
        self.join(120)
        for info in self.infos:
            info.wait_for_publish(60)  # type: ignore[attr-defined]
        return self.sent


def test_random_sigkills_under_a_stream_lose_nothing_and_credit_once(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    session: Session,
    tmp_path: Path,
    station: tuple[str, int],
) -> None:
    """Weigh-ins and fills stream in while the worker is SIGKILLed at random moments —
    mid-batch, mid-commit, between commit and ack, draining what queued while it was
    down — many times; then every weigh-in is credited exactly once and every fill is
    in the telemetry store.

    Seeded (``SALINMAS_KILL_SEED`` to replay a run; the seed is printed).
    Mutant run: ack moved to the top of ``IngestWorker._handle`` -> weigh-ins and fills
    acknowledged before their commit are lost (fails: 801 of 1,001 credited, seed
    3072226007).
    """
    st, hh = station
    bn = unique_id("bn")
    register_device(session, device_id=bn, kind="bin", site="bank01")
    register_bin(session, bin_id=bn, site="bank01", device_id=bn)
    session.commit()
    seed = int(os.environ.get("SALINMAS_KILL_SEED") or random.randrange(2**32))
    print(f"SIGKILL schedule seed: {seed} (SALINMAS_KILL_SEED={seed} replays it)")
    rng = random.Random(seed)
    config = ingest_config(
        tmp_path / "ingest.toml",
        mosquitto,
        ledger_url,
        unique_id("ingest"),
        batch_max=50,
        migrate_on_start=False,
    )
    log = tmp_path / "ingest.log"
    station_dev, bin_dev = Device(mosquitto, st), Device(mosquitto, bn)
    stream = _Stream(station_dev, bin_dev, STREAM)
    proc = spawn_ingest(config, log)
    kills = 0
    try:
        wait_until(lambda: _runs(log) == 1, PROCESS_START_S, "ingest subscribed")
        stream.start()
        while kills < KILLS:
            # a random moment of this run: anywhere from its first batch to a second in
            time.sleep(rng.uniform(0.0, 1.0))
            before = credited(engine)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            proc = spawn_ingest(config, log)
            runs = kills + 1
            wait_until(lambda: _runs(log) >= runs, PROCESS_START_S, f"run {runs} subscribed")  # noqa: B023
            assert credited(engine) >= before
        sent = stream.finish()
        assert sent == STREAM
        # the broker hands a session its messages in order: once a weigh-in published
        # after all of them is credited, everything before it has been processed
        station_dev.publish(Kind.WEIGHIN, weighin(st, seq=sent + 1))
        last = f"{st}:{sent + 1}"
        wait_until(lambda: _has_weighin(engine, last), 120, "the last weigh-in credited")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stream.stop.set()
        _stop(proc)
        station_dev.close()
        bin_dev.close()
    print(f"{kills} kills while {sent} weigh-ins and {sent} fills streamed in")
    _assert_credited_once(engine, hh, sent + 1)
    store = open_reader(TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "telemetry.db"))
    try:
        assert store.count("fill") == sent
        assert store.count("weighin") == sent + 1
    finally:
        store.close()
