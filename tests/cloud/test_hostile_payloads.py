"""A hostile device against the real stack: nothing it sends moves money or stops ingest.

Real Mosquitto (the project's configuration), a real ingest worker, the ledger on SQLite
and PostgreSQL. Every hostile message is published with a device's own valid account —
the attacker is a station whose credentials were copied off its SD card — between good
weigh-ins. Afterwards: every hostile message is a dead letter with its reason (the
unknown category excepted: it is kept in the ledger as a rejected weigh-in, as every
weigh-in the programme cannot price is), nothing hostile was credited, every good
weigh-in was credited exactly once, a refused weigh-in whose station and seq could be
read got a ``rejected`` receipt naming the reason, a known event id re-sent heavier is a
``conflict`` dead letter answered with the stored receipt, and the worker is still
connected.

Mutants run (each fails this test):
- ``strict=True`` dropped from ``contract.parse_payload`` -> the coerced weigh-ins are
  credited.
- the repeated-key check skipped -> Rp 29,999,997 credited for ``"net_g"`` twice.
- ``printable`` dropped from the dead letter's detail -> PostgreSQL refuses the NUL key's
  dead letter and the worker never gets past that batch.
- the ``clock_ahead`` check dropped, or made to ignore ``clock_synced`` -> fails.
- ``over_capacity`` compared with ``>=`` or without the tare -> fails (300 kg gross on a
  300 kg scale is fine, 299 kg + 2 kg tare is not).
- the rejected weigh-in's telemetry point keeps its ``category`` tag -> fails.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cloud import deadletters, postings, pricing
from cloud.db import session_factory
from cloud.devices import register_device, revoke_device, set_capacity
from cloud.ingest import IngestWorker
from cloud.models import WeighinRecord
from cloud.pickups import register_bin
from contract import MAX_PAYLOAD_BYTES, Kind, ReceiptStatus
from tests.cloud.conftest import PET_RP_PER_KG, seed_programme
from tests.cloud.factories import fill, weighin
from tests.cloud.mqtt_support import Device, device, unique_id
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Hostile:
    name: str
    payload: bytes
    #: the dead letter's reason; None: kept in the ledger as a rejected weigh-in
    reason: str | None
    #: the station gets a rejected receipt for this seq (None: no answer can be given)
    answered_seq: int | None = None
    sender: str = "station"
    kind: Kind = Kind.WEIGHIN


def _body(model: Any, **change: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(model.model_dump_json())
    body.update(change)
    return body


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _hostile(st: str, other: str, stranger: str, revoked: str, bn: str) -> list[Hostile]:
    """The matrix: issue 13's five payloads first, then the rest."""
    now = datetime.now(UTC)
    ahead = (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")

    def w(n: int, **change: Any) -> dict[str, Any]:
        return _body(weighin(st, seq=n), **change)

    dup = json.dumps(w(1005, net_g=1))[:-1] + ', "net_g": 9999999}'
    nan = json.dumps(w(1008)).replace('"net_g": 1250', '"net_g": NaN')
    infinite = json.dumps(w(1009)).replace('"tare_g": 0', '"tare_g": Infinity')
    deep = json.dumps(w(1010))[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}"
    nul_key = json.dumps(w(1012))[:-1] + ', "\\u0000": 1}'
    oversize = w(1013)
    oversize["frames"] = ["ab" * 256] * 32  # 32 maximal frames: each valid, in all too big
    assert len(_raw(oversize)) > MAX_PAYLOAD_BYTES
    bad_fill = json.dumps(_body(fill(bn, seq=901))).replace('"fill_pct": 10.0', '"fill_pct": NaN')
    return [
        Hostile("net_g as a string", _raw(w(1001, net_g="12340")), "malformed", 1001),
        Hostile("net_g as true", _raw(w(1002, net_g=True)), "malformed", 1002),
        Hostile("Unix device_time", _raw(w(1003, device_time=1764550000)), "malformed", 1003),
        Hostile(
            'seq "132", clock_synced "yes"',
            _raw(w(1004, seq="1004", clock_synced="yes")),
            "malformed",  # its seq cannot be read: no answer
        ),
        Hostile("net_g twice", dup.encode(), "malformed", 1005),
        Hostile("10 t", _raw(w(1006, net_g=10_000_000)), "over_capacity", 1006),
        Hostile(
            "299 kg + 2 kg tare on a 300 kg scale",
            _raw(w(1007, net_g=299_000, tare_g=2_000)),
            "over_capacity",
            1007,
        ),
        Hostile("net_g NaN", nan.encode(), "malformed", 1008),
        Hostile("tare_g Infinity", infinite.encode(), "malformed", 1009),
        Hostile("nested 3000 deep", deep.encode(), "malformed"),
        Hostile("NUL in protocol", _raw(w(1011, protocol="mt\x00sics")), "malformed", 1011),
        Hostile("NUL as a key", nul_key.encode(), "malformed", 1012),
        Hostile("oversize", _raw(oversize), "oversize"),
        Hostile("another station's id", _raw(_body(weighin(other, seq=1014))), "identity"),
        Hostile(
            "unknown device",
            _raw(_body(weighin(stranger, seq=1))),
            "unknown_device",
            None,
            sender="stranger",
        ),
        Hostile(
            "revoked device",
            _raw(_body(weighin(revoked, seq=1))),
            "revoked_device",
            None,
            sender="revoked",
        ),
        Hostile("clock an hour ahead", _raw(w(1017, device_time=ahead)), "clock_ahead", 1017),
        Hostile("unknown category", _raw(w(1018, category="bogus-tag")), None, 1018),
        # more of our own
        Hostile(
            "Unix time in a string", _raw(w(1019, device_time="1764550000")), "malformed", 1019
        ),
        Hostile("event_id of another seq", _raw(w(1020, event_id=f"{st}:1")), "malformed"),
        Hostile("v 2", _raw(w(1021, v=2)), "malformed", 1021),
        Hostile("an extra field", _raw(w(1022, bonus_rp=1_000_000)), "malformed", 1022),
        Hostile("negative weight", _raw(w(1023, net_g=-1250)), "malformed", 1023),
        Hostile("bidi override", _raw(w(1024, protocol="mtsics\u202e")), "malformed", 1024),
        Hostile("not an object", b"[1250]", "malformed"),
        Hostile("not UTF-8", b'{"net_g": "\xff\xfe"}', "malformed"),
        Hostile("empty", b"", "malformed"),
        Hostile("a bin's weigh-in", _raw(_body(weighin(bn, seq=1))), "wrong_kind", sender="bin"),
        Hostile("fill NaN", bad_fill.encode(), "malformed", sender="bin", kind=Kind.FILL),
        Hostile(
            "fill an hour ahead",
            _raw(_body(fill(bn, seq=902), device_time=ahead)),
            "clock_ahead",
            sender="bin",
            kind=Kind.FILL,
        ),
    ]


def test_hostile_payloads_are_dead_letters_and_good_weighins_are_credited_once(
    mosquitto: MosquittoServer,
    worker: IngestWorker,
    engine: Engine,
    session: Session,
    tmp_path: Path,
) -> None:
    st, other, stranger, revoked, bn = (unique_id(p) for p in ("st", "st", "st", "st", "bn"))
    hh = seed_programme(session, stations=(st, other))
    register_device(session, device_id=revoked, kind="station", site="bank01")
    revoke_device(session, device_id=revoked)
    register_device(session, device_id=bn, kind="bin", site="bank01")
    register_bin(session, bin_id=bn, site="bank01", device_id=bn)
    session.commit()
    cases = _hostile(st, other, stranger, revoked, bn)
    now = datetime.now(UTC)
    # good weigh-ins, one before each hostile message and one after them all; some at
    # the edges of the rules: the scale's full capacity, a clock 4 min ahead, and an
    # unsynchronised clock an hour ahead (its receive time is used)
    goods = [weighin(st, seq=n) for n in range(1, len(cases) + 2)]
    goods[3] = weighin(st, seq=4, net_g=299_000, tare_g=1_000)
    goods[6] = weighin(st, seq=7, device_time=now + timedelta(minutes=4))
    goods[9] = weighin(st, seq=10, device_time=now + timedelta(hours=1), clock_synced=False)
    replay = weighin(st, seq=2, net_g=200_000)  # seq 2 again, heavier: the stored receipt
    with (
        device(mosquitto, st) as station,
        device(mosquitto, stranger) as stranger_client,
        device(mosquitto, revoked) as revoked_client,
        device(mosquitto, bn) as bin_client,
    ):
        senders: dict[str, Device] = {
            "station": station,
            "stranger": stranger_client,
            "revoked": revoked_client,
            "bin": bin_client,
        }
        bin_client.publish(Kind.FILL, fill(bn, seq=1, fill_pct=20.0))
        for good, case in zip(goods, cases, strict=False):
            station.publish(Kind.WEIGHIN, good)
            senders[case.sender].publish(case.kind, case.payload)
        station.publish(Kind.WEIGHIN, replay)
        station.publish(Kind.WEIGHIN, goods[-1])
        bin_client.publish(Kind.FILL, fill(bn, seq=2, fill_pct=30.0))
        mine = {st, other, stranger, revoked, bn}
        expected = Counter(c.reason for c in cases if c.reason is not None)
        expected["conflict"] += 1  # the heavier replay: refused, answered as first received

        def letters() -> list[Any]:
            with session_factory(engine)() as s:
                rows = deadletters.list_dead_letters(s, limit=1000)
                return [dl for dl in rows if dl.client_hint in mine]

        wait_until(lambda: Counter(dl.reason for dl in letters()) == expected, 30, f"{expected}")
        answered = [c for c in cases if c.answered_seq is not None]
        n_receipts = len(goods) + len(answered) + 1  # + the replay's
        wait_until(lambda: len(station.receipts) == n_receipts, 30, f"{n_receipts} receipts")
        receipts = station.parsed_receipts()
        assert worker.connected

    # every hostile message is the dead letter of its reason, byte for byte
    by_payload = {bytes(dl.payload): dl for dl in letters()}
    for case in cases:
        if case.reason is None:
            assert case.payload not in by_payload, case.name
            continue
        dl = by_payload.get(case.payload)
        assert dl is not None, f"{case.name}: no dead letter"
        assert dl.reason == case.reason, case.name
        assert "\x00" not in dl.detail, case.name

    # the station heard why; the good ones were credited, each once
    by_seq: dict[int, list[Any]] = {}
    for r in receipts:
        by_seq.setdefault(r.seq, []).append(r)
    for case in answered:
        [r] = by_seq[case.answered_seq]  # type: ignore[index]
        assert r.status is ReceiptStatus.REJECTED, case.name
        assert r.amount_rp == 0, case.name
        assert (r.reason or "").startswith(case.reason or "unknown waste category"), case.name
    assert all(r.status is ReceiptStatus.CREDITED for g in goods for r in by_seq[g.seq])
    assert by_seq[2][0] == by_seq[2][1]  # the heavier replay got the stored receipt
    with session_factory(engine)() as s:
        assert postings.funds(s, household_id=hh).balance_rp == sum(
            pricing.amount_for(g.net_g, PET_RP_PER_KG) for g in goods
        )
        assert postings.postings_total(s) == 0
        records = {r.seq: r for r in s.scalars(select(WeighinRecord))}
        assert set(records) == {g.seq for g in goods} | {1018}
        assert records[1018].status == "rejected"
        assert records[1018].amount_rp == 0
        assert records[2].net_g == 1250
        assert s.scalar(select(func.count()).select_from(WeighinRecord)) == len(goods) + 1

    # telemetry: every good weigh-in and both good fills; no series for the bogus category
    assert worker.store.flush(10)
    with sqlite3.connect(tmp_path / "telemetry.db") as db:
        assert db.execute(
            "SELECT count(*) FROM points WHERE measurement = 'weighin' AND device = ?", (st,)
        ).fetchone() == (len(goods) + 1,)
        assert db.execute("SELECT count(*) FROM points WHERE tags LIKE '%bogus%'").fetchone() == (
            0,
        )
        fills = db.execute(
            "SELECT count(*) FROM points WHERE measurement = 'fill' AND device = ?", (bn,)
        ).fetchone()
        assert fills == (2,)


def test_a_capacity_from_the_registration_bounds_the_weighin(
    mosquitto: MosquittoServer, worker: IngestWorker, engine: Engine, session: Session
) -> None:
    """A 30 kg counter scale: 30 kg is credited, 30.005 kg is over its capacity; a new
    capacity applies from the next batch (the worker's device cache notices it).

    Mutant run: the capacities left out of the registry's fingerprint in
    ``cloud.ingest.state`` -> the cached 30 kg still lets 25 kg through (fails).
    """
    st = unique_id("st")
    hh = seed_programme(session, stations=())
    register_device(session, device_id=st, kind="station", site="bank01", capacity_g=30_000)
    session.commit()
    with device(mosquitto, st) as station:
        station.publish(Kind.WEIGHIN, weighin(st, seq=1, net_g=30_000))
        station.publish(Kind.WEIGHIN, weighin(st, seq=2, net_g=30_005))
        wait_until(lambda: len(station.receipts) == 2, 20, "2 receipts")
        set_capacity(session, device_id=st, capacity_g=20_000)
        session.commit()
        station.publish(Kind.WEIGHIN, weighin(st, seq=3, net_g=25_000))
        wait_until(lambda: len(station.receipts) == 3, 20, "3 receipts")
        status = {r.seq: r.status for r in station.parsed_receipts()}
    assert status == {
        1: ReceiptStatus.CREDITED,
        2: ReceiptStatus.REJECTED,
        3: ReceiptStatus.REJECTED,
    }
    with session_factory(engine)() as s:
        assert postings.funds(s, household_id=hh).balance_rp == 30 * PET_RP_PER_KG
        assert deadletters.counts_by_reason(s).get("over_capacity") == 2
