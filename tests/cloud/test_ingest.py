"""Ingest against the real Mosquitto, with the ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cloud import deadletters, postings
from cloud.db import session_factory
from cloud.devices import get_device, register_device, revoke_device
from cloud.ingest import IngestWorker
from cloud.models import Pickup, WeighinRecord
from cloud.pickups import get_bin, list_alerts, register_bin
from cloud.telemetry import open_reader
from contract import MAX_PAYLOAD_BYTES, Kind, ReceiptStatus
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import fill, health, weighin
from tests.cloud.mqtt_support import device, ingest_settings, unique_id
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _count(engine: Engine, model: type, *where: object) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


@pytest.fixture
def station(session: Session) -> tuple[str, int]:
    """A registered station (unique id, so retained messages of other tests never match)."""
    st = unique_id("st")
    hh = seed_programme(session, stations=(st,))
    return st, hh


def _telemetry_count(worker: IngestWorker, measurement: str) -> int:
    """Points of ``measurement`` the worker's telemetry store holds (read as the API does)."""
    reader = open_reader(worker.settings.telemetry)
    try:
        return reader.count(measurement)
    finally:
        reader.close()


def test_same_weighin_three_times_credited_once_three_identical_receipts(
    mosquitto: MosquittoServer, worker: IngestWorker, engine: Engine, station: tuple[str, int]
) -> None:
    st, hh = station
    ev = weighin(st, seq=1, net_g=1250)
    with device(mosquitto, st) as dev:
        for _ in range(3):
            dev.publish(Kind.WEIGHIN, ev)
        wait_until(lambda: len(dev.receipts) == 3, 20, "3 receipts")
        assert dev.receipts[0] == dev.receipts[1] == dev.receipts[2]
        receipt = dev.parsed_receipts()[0]
    assert receipt.status is ReceiptStatus.CREDITED
    assert receipt.amount_rp == 3750
    assert receipt.event_id == f"{st}:1"
    with session_factory(engine)() as s:
        assert postings.funds(s, household_id=hh).balance_rp == 3750
        assert postings.postings_total(s) == 0
    assert _count(engine, WeighinRecord) == 1
    assert _telemetry_count(worker, "weighin") == 1


def test_bad_payloads_become_dead_letters_and_good_ones_pass(
    mosquitto: MosquittoServer, worker: IngestWorker, engine: Engine, station: tuple[str, int]
) -> None:
    st, hh = station
    unknown = unique_id("st")  # has a broker account, but is not registered
    revoked = unique_id("st")
    bin_dev = unique_id("bn")
    with session_factory(engine)() as s:
        register_device(s, device_id=revoked, kind="station")
        revoke_device(s, device_id=revoked)
        register_device(s, device_id=bin_dev, kind="bin")
        s.commit()
    good = [weighin(st, seq=n) for n in range(1, 6)]
    wrong_types = json.loads(weighin(st, seq=90).model_dump_json())
    wrong_types["net_g"] = "lots"
    oversize = json.loads(weighin(st, seq=91).model_dump_json())
    oversize["protocol"] = "x" * (MAX_PAYLOAD_BYTES + 10)
    with (
        device(mosquitto, st) as dev,
        device(mosquitto, unknown) as stranger,
        device(mosquitto, revoked) as old,
        device(mosquitto, bin_dev) as bin_client,
    ):
        dev.publish(Kind.WEIGHIN, good[0])
        dev.publish(Kind.WEIGHIN, b"{not json")
        dev.publish(Kind.WEIGHIN, good[1])
        dev.publish(Kind.WEIGHIN, json.dumps(wrong_types).encode())
        dev.publish(Kind.WEIGHIN, json.dumps(oversize).encode())
        dev.publish(Kind.WEIGHIN, weighin(unique_id("st"), seq=1))  # someone else's id
        dev.publish(Kind.WEIGHIN, good[2])
        stranger.publish(Kind.WEIGHIN, weighin(unknown, seq=1))
        old.publish(Kind.WEIGHIN, weighin(revoked, seq=1))
        bin_client.publish(Kind.WEIGHIN, weighin(bin_dev, seq=1))
        dev.publish(Kind.WEIGHIN, good[3])
        dev.publish(Kind.WEIGHIN, good[4])
        expected = {
            "malformed": 2,
            "oversize": 1,
            "identity": 1,
            "unknown_device": 1,
            "revoked_device": 1,
            "wrong_kind": 1,
        }

        def counts() -> dict[str, int]:
            with session_factory(engine)() as s:
                return deadletters.counts_by_reason(s)

        wait_until(lambda: counts() == expected, 20, f"dead letters {expected}")
        # the five good ones, and a "rejected" answer to the one whose seq could be read
        wait_until(lambda: len(dev.receipts) == 6, 20, "6 receipts")
        by_seq = {r.seq: r for r in dev.parsed_receipts()}
    assert by_seq[90].status is ReceiptStatus.REJECTED
    assert (by_seq[90].reason or "").startswith("malformed: net_g")
    assert {by_seq[n].status for n in range(1, 6)} == {ReceiptStatus.CREDITED}
    with session_factory(engine)() as s:
        assert postings.funds(s, household_id=hh).balance_rp == 5 * 3750
        letters = deadletters.list_dead_letters(s, reason="malformed")
        assert {dl.payload for dl in letters} >= {b"{not json"}
        assert any("net_g" in dl.detail for dl in letters)
        big = deadletters.list_dead_letters(s, reason="oversize")[0]
        assert big.payload_size > MAX_PAYLOAD_BYTES
        assert big.topic.endswith(f"/{st}/weighin")
        assert big.client_hint == st
    assert worker.connected


def test_fill_and_status_and_health_update_the_registry(
    mosquitto: MosquittoServer, worker: IngestWorker, engine: Engine, session: Session
) -> None:
    bin_dev = unique_id("bn")
    register_device(session, device_id=bin_dev, kind="bin", site="bank01")
    register_bin(session, bin_id=bin_dev, site="bank01", device_id=bin_dev)
    session.commit()
    levels = [50.0, 70.0, 81.0, 79.0, 82.0, 78.0, 85.0]
    with device(mosquitto, bin_dev) as dev:
        for seq, level in enumerate(levels, start=1):
            dev.publish(Kind.FILL, fill(bin_dev, seq=seq, fill_pct=level))
        dev.publish(Kind.HEALTH, health(bin_dev, seq=len(levels) + 1, outbox_depth=7))
        dev.publish(
            Kind.STATUS,
            json.dumps(
                {"v": 1, "device_id": bin_dev, "state": "online", "sw_version": "1.2"}
            ).encode(),
        )

        def state() -> tuple[float | None, int | None, bool]:
            with session_factory(engine)() as s:
                d = get_device(s, device_id=bin_dev)
                assert d is not None
                return get_bin(s, bin_id=bin_dev).fill_pct, d.outbox_depth, d.online

        wait_until(lambda: state() == (85.0, 7, True), 20, "bin state, health and status")
        dev.publish(Kind.FILL, fill(bin_dev, seq=99, bin_id=unique_id("bn"), fill_pct=90.0))

        def unknown_bins() -> int:
            with session_factory(engine)() as s:
                return deadletters.counts_by_reason(s).get("unknown_bin", 0)

        wait_until(lambda: unknown_bins() == 1, 20, "fill of an unregistered bin refused")
    assert _count(engine, Pickup, Pickup.bin_id == bin_dev) == 1
    assert _telemetry_count(worker, "fill") == len(levels)


def test_last_will_marks_a_device_offline(
    mosquitto: MosquittoServer, worker: IngestWorker, engine: Engine, station: tuple[str, int]
) -> None:
    st, _ = station

    def online() -> bool | None:
        with session_factory(engine)() as s:
            d = get_device(s, device_id=st)
            return None if d is None or d.status_at is None else d.online

    with device(mosquitto, st, will=True) as dev:
        dev.publish(Kind.STATUS, dev.status("online"))
        wait_until(lambda: online() is True, 20, "online")
        dev.drop_connection()  # no DISCONNECT: the broker publishes the Last Will
        wait_until(lambda: online() is False, 20, "offline from the Last Will")
    with session_factory(engine)() as s:
        assert [a.kind for a in list_alerts(s) if a.subject == st] == ["device_offline"]


def test_a_silent_device_is_marked_offline_by_housekeeping(
    mosquitto: MosquittoServer,
    ledger_url: str,
    engine: Engine,
    tmp_path: Path,
    station: tuple[str, int],
) -> None:
    st, _ = station
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, silent_after_s=1)

    def online() -> bool | None:
        with session_factory(engine)() as s:
            d = get_device(s, device_id=st)
            return None if d is None or d.status_at is None else d.online

    with IngestWorker(settings) as w, device(mosquitto, st) as dev:
        assert w.wait_subscribed(10)
        dev.publish(Kind.STATUS, dev.status("online"))
        wait_until(lambda: online() is True, 20, "online")

        def swept_offline() -> bool:
            w.maintenance()
            return online() is False

        wait_until(swept_offline, 20, "the silent device marked offline")
