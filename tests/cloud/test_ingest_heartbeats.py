"""Heartbeats written behind: the newest per device, sorted by id, flushed on stop/retire.

The ingest keeps each device's newest heartbeat (and last-seen time) in its device cache
and writes them behind, in one statement sorted by device id (``cloud/devices.py``,
``cloud/ingest/state.py``); two workers on a shared subscription then take ``devices``
rows in one order and never deadlock. On SQLite and PostgreSQL (the two-worker stream on
PostgreSQL only: SQLite has one writer at a time).

mutant: write_device_state without its sort (arrival order)
        -> test_pending_state_is_written_in_device_id_order_in_one_statement
mutant: Heartbeat.supersedes always true (the later arrival wins)
        -> test_the_newest_heartbeat_wins_through_the_cached_path
mutant: the SQL guard of write_device_state without ``health_at <= h_at``
        -> test_the_newest_heartbeat_wins_through_the_cached_path (the other worker's)
mutant: no pending state written before a status's device row (processor ``direct``)
        -> test_a_status_after_a_pending_heartbeat_keeps_its_version
mutant: the worker loop's final write_behind(force=True) skipped
        -> test_stop_writes_the_pending_heartbeats, test_retire_writes_the_pending_heartbeats
mutant: main before this change (each heartbeat's row updated in the batch, in message
        order) -> test_two_workers_never_deadlock_on_device_rows (2 deadlocks in the log)
"""

from __future__ import annotations

import random
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from cloud.db import make_engine, migrate, session_factory
from cloud.devices import register_device
from cloud.ingest import IngestWorker, Message, Processor
from cloud.ingest.lifecycle import retire
from cloud.models import Device
from cloud.pickups import register_bin
from contract import DeviceStatus, Kind, device_topic
from contract.models import to_json
from tests.cloud.conftest import assert_credited_once, credited, seed_programme
from tests.cloud.factories import T0, fill, health, weighin
from tests.cloud.mqtt_support import device, ingest_settings, unique_id
from tests.support.services import MosquittoServer, PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
#: nothing becomes due during a test unless it says so
NEVER = 3600.0


def _processor(engine: Engine) -> Processor:
    return Processor(
        session_factory(engine), None, state_write_interval_s=NEVER, seen_write_interval_s=NEVER
    )


def _hb(device_id: str, uptime_s: int, received_at: datetime) -> Message:
    ev = health(device_id, seq=uptime_s, uptime_s=uptime_s, outbox_depth=uptime_s % 100)
    return Message(device_topic(device_id, Kind.HEALTH), to_json(ev), received_at)


def _row(engine: Engine, device_id: str) -> Device:
    with session_factory(engine)() as s:
        dev = s.get(Device, device_id)
        assert dev is not None
        s.expunge(dev)
        return dev


def _stations(session: Session, n: int) -> list[str]:
    ids = [unique_id("st") for _ in range(n)]
    for d in ids:
        register_device(session, device_id=d, kind="station", site="bank01")
    session.commit()
    return ids


def test_the_newest_heartbeat_wins_through_the_cached_path(
    engine: Engine, session: Session
) -> None:
    (st,) = _stations(session, 1)
    p = _processor(engine)
    at = T0 + timedelta(days=30)
    assert p.process([_hb(st, 50, at + timedelta(seconds=50))]).accepted == 1
    p.process([_hb(st, 30, at + timedelta(seconds=30))])  # older, arrives later
    p.process([_hb(st, 20, at + timedelta(seconds=20)), _hb(st, 40, at + timedelta(seconds=40))])
    assert _row(engine, st).uptime_s is None  # written behind, not with the batch
    p.write_behind(force=True)
    dev = _row(engine, st)
    assert (dev.uptime_s, dev.outbox_depth) == (50, 50)
    assert dev.health_at == dev.last_seen == at + timedelta(seconds=50)

    # another worker wrote a newer one meanwhile: an older one held here never replaces it
    other = _processor(engine)
    other.process([_hb(st, 90, at + timedelta(seconds=90))])
    p.process([_hb(st, 70, at + timedelta(seconds=70))])
    other.write_behind(force=True)
    p.write_behind(force=True)
    dev = _row(engine, st)
    assert (dev.uptime_s, dev.health_at) == (90, at + timedelta(seconds=90))


def test_a_status_after_a_pending_heartbeat_keeps_its_version(
    engine: Engine, session: Session
) -> None:
    """A status message goes the one-message path: what the cache holds for its device is
    written first, so an older pending heartbeat never overwrites the status's version."""
    (st,) = _stations(session, 1)
    p = _processor(engine)
    at = T0 + timedelta(days=30)
    p.process([_hb(st, 10, at)])  # sw_version 0.1.0, pending
    status = DeviceStatus(device_id=st, state="online", sw_version="0.2.0")
    topic = device_topic(st, Kind.STATUS)
    assert p.process([Message(topic, to_json(status), at + timedelta(seconds=5))]).accepted
    p.write_behind(force=True)
    dev = _row(engine, st)
    assert (dev.sw_version, dev.uptime_s, dev.online) == ("0.2.0", 10, True)


def test_pending_state_is_written_in_device_id_order_in_one_statement(
    engine: Engine, session: Session
) -> None:
    ids = _stations(session, 5)
    p = _processor(engine)
    at = T0 + timedelta(days=30)
    for i, d in enumerate(sorted(ids, reverse=True)):  # heard from in reverse id order
        p.process([_hb(d, 10 + i, at + timedelta(seconds=i))])
    writes: list[list[str]] = []

    def record(_c: Any, clause: Any, multiparams: Any, _p: Any, _o: Any) -> None:
        if getattr(clause, "table", None) is not None and clause.table.name == "devices":
            writes.append([row["d_id"] for row in multiparams])

    event.listen(engine, "before_execute", record)
    try:
        p.write_behind(force=True)
    finally:
        event.remove(engine, "before_execute", record)
    assert writes == [sorted(ids)]
    assert [_row(engine, d).uptime_s for d in sorted(ids, reverse=True)] == [10, 11, 12, 13, 14]


def _worker_settings(mosquitto: MosquittoServer, ledger_url: str, tmp_path: Path, **kw: Any) -> Any:
    kw.setdefault("state_write_interval_s", NEVER)
    return ingest_settings(mosquitto, ledger_url, tmp_path, maintenance_interval_s=NEVER, **kw)


def test_stop_writes_the_pending_heartbeats(
    mosquitto: MosquittoServer, ledger_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    (st,) = _stations(session, 1)
    w = IngestWorker(_worker_settings(mosquitto, ledger_url, tmp_path))
    w.start()
    try:
        assert w.wait_subscribed(10)
        with device(mosquitto, st) as dev:
            dev.publish(Kind.HEALTH, health(st, seq=1, uptime_s=77, outbox_depth=7))
            wait_until(
                lambda: w.processed >= 1 and w.settled,
                20,
                "the heartbeat processed",
                state=lambda: f"processed={w.processed} settled={w.settled}",
            )
        assert _row(engine, st).outbox_depth is None  # held in the cache
    finally:
        w.stop()
    assert (_row(engine, st).uptime_s, _row(engine, st).outbox_depth) == (77, 7)


def test_retire_writes_the_pending_heartbeats(
    mosquitto: MosquittoServer, ledger_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    (st,) = _stations(session, 1)
    settings = _worker_settings(mosquitto, ledger_url, tmp_path, share_group=unique_id("g"))
    with IngestWorker(settings) as w:
        assert w.wait_subscribed(10)
    # the worker is stopped; its session, alone in the group, queues the heartbeat
    with device(mosquitto, st) as dev:
        dev.publish(Kind.HEALTH, health(st, seq=1, uptime_s=88, outbox_depth=8))
    assert _row(engine, st).uptime_s is None
    assert retire(settings, idle_s=1.0) == 0  # drained through a retiring worker, stopped
    assert (_row(engine, st).uptime_s, _row(engine, st).outbox_depth) == (88, 8)


def _deadlocks(postgres: PostgresServer) -> int:
    log = postgres.workdir / "server.log"
    return log.read_text(errors="replace").count("deadlock detected") if log.exists() else 0


def test_two_workers_never_deadlock_on_device_rows(
    mosquitto: MosquittoServer, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Heartbeats, fills and weigh-ins of the same devices, in shuffled orders, to two
    workers on one shared subscription, their write-behind due every few batches: no
    deadlock (PostgreSQL's log, no batch redone one by one), every weigh-in credited once,
    every device row ends with its newest heartbeat."""
    ledger_url = postgres.create_database(unique_id("hb").replace("-", "_"))
    migrate(ledger_url)
    engine = make_engine(ledger_url)
    deadlocks_before = _deadlocks(postgres)
    stations = [unique_id("st") for _ in range(5)]
    bins = [unique_id("bn") for _ in range(4)]
    with session_factory(engine)() as session:
        hh = seed_programme(session, stations=tuple(stations))
        for b in bins:
            register_device(session, device_id=b, kind="bin", site="bank01")
            register_bin(session, bin_id=b, site="bank01", device_id=b)
        session.commit()
    group = unique_id("g")
    workers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        settings = _worker_settings(
            mosquitto,
            ledger_url,
            tmp_path / name,
            share_group=group,
            state_write_interval_s=0.05,
            silent_after_s=1,  # last_seen written every 0.25 s
            batch_gap_s=0.01,
        )
        workers.append(IngestWorker(settings))
    rounds = 12
    rng = random.Random(21)
    kinds = {d: Kind.WEIGHIN for d in stations} | {b: Kind.FILL for b in bins}
    with ExitStack() as stack:
        clients = {d: stack.enter_context(device(mosquitto, d)) for d in kinds}
        for w in workers:
            stack.callback(w.stop)
            w.start()
            assert w.wait_subscribed(10)
        for r in range(1, rounds + 1):
            for d in rng.sample(sorted(kinds), len(kinds)):
                beat = (Kind.HEALTH, health(d, seq=1000 + r, uptime_s=r))
                ev = weighin(d, seq=r) if d in stations else fill(d, seq=r, fill_pct=10.0 + r)
                pair = [beat, (kinds[d], ev)]
                for kind, payload in pair if rng.random() < 0.5 else pair[::-1]:
                    topic = device_topic(d, kind)
                    clients[d].client.publish(topic, payload.model_dump_json().encode(), qos=1)
        total = 2 * rounds * len(kinds)
        wait_until(
            lambda: sum(w.processed for w in workers) >= total,
            90,
            "every message",
            state=lambda: f"processed={[w.processed for w in workers]} of {total}",
        )
        for d, c in clients.items():  # the newest heartbeat of each device, last
            c.publish(Kind.HEALTH, health(d, seq=5000, uptime_s=5000))
        wait_until(
            lambda: sum(w.processed for w in workers) >= total + len(kinds), 30, "the last beats"
        )
        # leaving the block stops both workers: each writes what it holds
    try:
        assert [w.processor.fallbacks for w in workers] == [0, 0]
        assert _deadlocks(postgres) == deadlocks_before
        assert all(w.processed > 0 for w in workers)  # the stream was shared
        assert credited(engine) == rounds * len(stations)
        assert_credited_once(engine, hh, rounds * len(stations), 3750)
        assert {d: _row(engine, d).uptime_s for d in kinds} == dict.fromkeys(kinds, 5000)
    finally:
        engine.dispose()
