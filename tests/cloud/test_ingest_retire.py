"""Retiring a worker: what the broker queued for its session is processed, not lost.

Mosquitto keeps a stopped worker's persistent session in the shared subscription and
queues its share of the messages for it. ``retire`` drains that queue through the ingest
and ends the session; from then on the remaining worker receives every message.

mutant: drained = "processed count unchanged for idle_s" (a slow batch in hand, the rest
        of the queue held back by the in-flight window) -> test_a_slow_drain_loses_nothing
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud.devices import register_device
from cloud.ingest import IngestSettings, IngestWorker
from cloud.ingest.lifecycle import retire
from cloud.pickups import register_bin
from cloud.telemetry import TelemetrySettings, open_reader
from contract import Kind
from tests.cloud.factories import fill
from tests.cloud.mqtt_support import device, ingest_settings, unique_id
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _stored(path: Path) -> int:
    store = open_reader(TelemetrySettings(backend="sqlite", sqlite_path=path))
    try:
        return store.count("fill")
    finally:
        store.close()


def test_retire_drains_the_session_then_the_other_worker_gets_everything(
    mosquitto: MosquittoServer, ledger_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    _retire_under_a_stream(mosquitto, ledger_url, session, tmp_path)


def test_a_slow_drain_loses_nothing(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A drain whose batches take longer than its idle bound (a loaded host), with the
    broker holding most of the queue back (a small in-flight window): the session is
    ended only once every queued message was processed and acknowledged."""
    _retire_under_a_stream(
        mosquitto,
        ledger_url,
        session,
        tmp_path,
        slow_s=1.5,
        receive_maximum=4,
        monkeypatch=monkeypatch,
    )


def _retire_under_a_stream(
    mosquitto: MosquittoServer,
    ledger_url: str,
    session: Session,
    tmp_path: Path,
    *,
    slow_s: float = 0.0,
    receive_maximum: int | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> None:
    bin_id = unique_id("bn")
    register_device(session, device_id=bin_id, kind="bin")
    register_bin(session, bin_id=bin_id, device_id=bin_id)
    session.commit()
    group = unique_id("g")
    old_db, new_db = tmp_path / "old.db", tmp_path / "new.db"

    def settings(client_id: str, db: Path) -> IngestSettings:
        return ingest_settings(
            mosquitto,
            ledger_url,
            tmp_path,
            client_id=client_id,
            share_group=group,
            telemetry=TelemetrySettings(backend="sqlite", sqlite_path=db),
        )

    old = settings(unique_id("ingest-old"), old_db)
    with IngestWorker(old) as w:
        assert w.wait_subscribed(10)
    # the old worker is stopped; its session stays a member of the group
    new_settings = settings(unique_id("ingest-new"), new_db)
    with device(mosquitto, bin_id) as dev, IngestWorker(new_settings) as new:
        assert new.wait_subscribed(10)
        dev.publish_many(Kind.FILL, [fill(bin_id, seq=i) for i in range(1, 41)])
        wait_until(lambda: _stored(new_db) > 0, 20, "the new worker's share")
        settled = [-1]

        def settled_share() -> bool:  # the new worker's count stopped growing
            n, settled[0] = settled[0], _stored(new_db)
            time.sleep(0.5)
            return n == settled[0]

        wait_until(settled_share, 20, "the new worker's share to settle")
        queued = 40 - settled[0]
        assert queued > 0  # Mosquitto queued part of the stream for the stopped worker

        if monkeypatch is not None:
            handle = IngestWorker._handle

            def slow_handle(self: IngestWorker, batch: list[Any]) -> None:
                time.sleep(slow_s)
                handle(self, batch)

            monkeypatch.setattr(IngestWorker, "_handle", slow_handle)
        if receive_maximum is not None:
            limit = {"receive_maximum": receive_maximum, "batch_max": receive_maximum}
            old = old.model_copy(update=limit)
            assert queued > 2 * receive_maximum  # most of the queue held back at first
        assert retire(old, idle_s=1.0) == 0
        assert _stored(old_db) == queued  # drained through the ingest, nothing lost
        dev.publish_many(Kind.FILL, [fill(bin_id, seq=i) for i in range(41, 61)])
        wait_until(lambda: _stored(new_db) == 40 - queued + 20, 20, "every new message")
