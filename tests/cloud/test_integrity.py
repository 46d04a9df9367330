"""Verification before money, through the ingest's Processor on SQLite and PostgreSQL.

The real-stack tampering run (agent process, Mosquitto, ingest process, PostgreSQL) is
``tests/e2e/test_tampering.py``; this file covers the rules' corners in-process.

mutant: Inspector skips the signature check -> test_a_changed_weight...
mutant: _ChainView.check treats a missing predecessor as linked -> test_a_gap_is_held_...
mutant: resolve_automatic never releases a filled gap -> test_a_gap_is_held_...
mutant: _ChainView.check ignores a taken position -> test_a_fork...
mutant: check_frames compares the first frame only / skips the weight -> test_frames...
mutant: unapproved sw_hash not held (approvals check removed) -> test_an_unapproved_build...
mutant: credit_many drops the record-hash comparison of replays -> test_a_replay_with_...
mutant: the processor writes the telemetry point of a conflict -> test_a_replay_with_...
mutant: a stored row without a record hash (before 0007) skips the comparison -> test_a_replay...
mutant: unsigned weigh-ins credited under enforce -> test_enforce_holds_unsigned...
mutant: a station with an approved key may send unsigned -> test_enforce_holds_unsigned...
mutant: holds.release skips the operator's note / holds.reject moves money -> test_an_operator...
mutant: _write_new tells every new weigh-in (held too) -> test_an_operator...
mutant: credit_held posts the credit but tells nobody -> test_an_operator...
mutant: credit_facts leaves out the verification code -> test_an_operator...
mutant: holds.release / holds.reject write no audit row -> test_an_operator...
mutant: announce_key lets another device's key through -> test_a_key_copied...
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, update

from cloud import holds, postings
from cloud.db import session_factory
from cloud.ingest import Processor
from cloud.integrity import Inspector
from cloud.models import Alert, DeadLetter, DeviceKey, Hold, WeighinRecord
from cloud.models.audit import AuditEntry
from cloud.models.notifications import Notification
from contract import Kind
from contract.codes import normalise_code
from contract.models import Receipt
from tests.cloud.conftest import PET_RP_PER_KG, seed_programme
from tests.cloud.factories import weighin as unsigned_weighin
from tests.cloud.signing_support import SigningStation, and_frames, message, tamper

pytestmark = pytest.mark.integration
ST, OTHER = "st-sign01", "st-sign02"


@pytest.fixture
def ready(engine: Engine) -> tuple[int, SigningStation, SigningStation]:
    with session_factory(engine)() as s:
        hh = seed_programme(s, stations=(ST, OTHER))
        a, b = SigningStation(ST), SigningStation(OTHER)
        a.approve(s)
        b.approve(s)
    return hh, a, b


def _processor(engine: Engine, *, enforce: bool = True) -> Processor:
    return Processor(session_factory(engine), None, enforce_integrity=enforce)


def _status(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """event id -> (status, hold kind)"""
    with session_factory(engine)() as s:
        rows = s.execute(
            select(WeighinRecord.event_id, WeighinRecord.status, Hold.kind).outerjoin(
                Hold, Hold.weighin_id == WeighinRecord.id
            )
        )
        return {e: (st, k) for e, st, k in rows}


def _balance(engine: Engine, hh: int) -> int:
    with session_factory(engine)() as s:
        assert postings.postings_total(s) == 0
        return postings.funds(s, household_id=hh).balance_rp


def _rp(*grams: int) -> int:
    return sum(g * PET_RP_PER_KG // 1000 for g in grams)


def test_a_changed_weight_a_foreign_record_and_frames_that_lie_are_held(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    hh, a, b = ready
    w1, w2, w3 = a.weighin(1_000), a.weighin(2_000), a.weighin(3_000)
    lying = a.weighin(4_000, frames=and_frames(400))  # signed, but the scale said 400 g
    w5 = a.weighin(5_000)
    foreign = b.weighin(7_000)  # b's record re-addressed as a's by someone with a's account
    as_a = tamper(foreign, device_id=ST, seq=999, event_id=f"{ST}:999")
    out = _processor(engine).process(
        [message(p) for p in (w1, tamper(w2, net_g=20_000), w3, lying, w5, as_a)]
    )
    got = _status(engine)
    assert got[f"{ST}:1"] == ("credited", None)
    assert got[f"{ST}:2"] == ("held", "signature")
    assert got[f"{ST}:3"] == ("credited", None)  # its predecessor is held as altered: linked
    assert got[f"{ST}:4"] == ("held", "frames")
    assert got[f"{ST}:5"] == ("credited", None)
    assert got[f"{ST}:999"] == ("held", "key")
    assert _balance(engine, hh) == _rp(1_000, 3_000, 5_000)  # each credited once, nothing else
    receipts = [Receipt.model_validate_json(p) for _, p in out.receipts]
    assert [r.status.value for r in receipts] == [
        "credited",
        "held",
        "credited",
        "held",
        "credited",
        "held",
    ]
    assert all(r.verify_code for r in receipts)
    assert len(out.points) == 3  # held weights open no telemetry
    with session_factory(engine)() as s:
        alert = s.scalar(select(Alert).where(Alert.kind == "weighin_held", Alert.subject == ST))
        assert alert is not None


def test_a_gap_is_held_and_released_when_the_missing_record_arrives(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    hh, a, _ = ready
    w1, w2, w3, w4 = (a.weighin(g) for g in (1_000, 2_000, 3_000, 4_000))
    p = _processor(engine)
    p.process([message(w1), message(w3)])  # w2 removed from the middle
    assert _status(engine)[f"{ST}:3"] == ("held", "chain_gap")
    p.process([message(w4)])
    assert _status(engine)[f"{ST}:4"] == ("credited", None)  # the chain goes on after it
    assert _balance(engine, hh) == _rp(1_000, 4_000)
    p.process([message(w2)])  # it was only late: both are credited now
    got = _status(engine)
    assert got[f"{ST}:2"] == ("credited", None)
    assert got[f"{ST}:3"] == ("credited", "chain_gap")  # released by itself
    with session_factory(engine)() as s:
        hold = s.scalar(select(Hold))
        assert hold is not None
        assert (hold.resolution, hold.resolved_by) == ("released", "system:chain")
    assert _balance(engine, hh) == _rp(1_000, 2_000, 3_000, 4_000)


def test_a_fork_at_a_taken_position_is_held(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    _, a, _ = ready
    w1 = a.weighin(1_000)
    head = a.head
    w2 = a.weighin(2_000)
    a.head = head  # a copied station signs its own record 2 with the same key
    a.seq = 10
    clone = a.weighin(9_000)
    _processor(engine).process([message(w1), message(w2), message(clone)])
    got = _status(engine)
    assert got[f"{ST}:2"] == ("credited", None)
    assert got[f"{ST}:11"] == ("held", "chain_fork")


def test_an_unapproved_build_is_held(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    from edge.identity import Signer

    _, a, _ = ready
    hacked = Signer(a.key, "6" * 64, a.signer.config_hash)
    w1, w2, w3 = a.weighin(1_000), a.weighin(2_000, signer=hacked), a.weighin(3_000)
    _processor(engine).process([message(w1), message(w2), message(w3)])
    got = _status(engine)
    assert got[f"{ST}:2"] == ("held", "software")
    assert got[f"{ST}:1"] == got[f"{ST}:3"] == ("credited", None)


def test_a_replay_with_another_weight_is_refused_and_overwrites_nothing(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    hh, a, _ = ready
    w1 = a.weighin(1_000)
    p = _processor(engine)
    p.process([message(w1)])
    again = p.process([message(w1)])  # a plain replay: harmless, same receipt
    assert len(again.points) == 1
    changed = p.process([message(tamper(w1, net_g=50_000))])
    assert changed.points == []  # the telemetry point is not overwritten with 50 kg
    assert changed.dead_letters == {"conflict": 1}
    assert [Receipt.model_validate_json(r).net_g for _, r in changed.receipts] == [1_000]
    # an unsigned station's replay is compared too (record hash taken at first receipt)
    p.process([message(unsigned_weighin(OTHER, seq=5, net_g=1_250).model_dump_json().encode())])
    p2 = _processor(engine, enforce=False)
    out = p2.process(
        [message(unsigned_weighin(OTHER, seq=5, net_g=9_250).model_dump_json().encode())]
    )
    assert out.dead_letters == {"conflict": 1}
    assert _balance(engine, hh) == _rp(1_000)  # OTHER's unsigned one was held under enforce
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 2
        assert s.scalar(select(Alert).where(Alert.kind == "weighin_conflict")) is not None
    # a row stored before record hashes existed (migration 0007_integrity) is compared too
    w2 = a.weighin(2_000)
    p.process([message(w2)])
    with session_factory(engine)() as s:
        s.execute(
            update(WeighinRecord)
            .where(WeighinRecord.event_id == f"{ST}:2")
            .values(record_hash=None)
        )
        s.commit()
    assert len(p.process([message(w2)]).points) == 1
    changed = p.process([message(tamper(w2, net_g=60_000))])
    assert (changed.points, changed.dead_letters) == ([], {"conflict": 1})
    assert _balance(engine, hh) == _rp(1_000, 2_000)


def test_enforce_holds_unsigned_and_a_signing_station_cannot_go_unsigned(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    hh, _, _ = ready
    plain = unsigned_weighin(ST, seq=50, net_g=1_250).model_dump_json().encode()
    _processor(engine, enforce=True).process([message(plain)])
    assert _status(engine)[f"{ST}:50"] == ("held", "unsigned")
    # development mode credits unsigned weigh-ins, but not from a station that signs
    plain2 = unsigned_weighin(ST, seq=51, net_g=1_250).model_dump_json().encode()
    _processor(engine, enforce=False).process([message(plain2)])
    assert _status(engine)[f"{ST}:51"] == ("held", "unsigned")
    assert _balance(engine, hh) == 0


def test_development_trusts_a_first_key_and_build_but_not_a_second_key(engine: Engine) -> None:
    with session_factory(engine)() as s:
        hh = seed_programme(s, stations=(ST,))
    a = SigningStation(ST)
    p = _processor(engine, enforce=False)
    p.process([message(a.config(), Kind.CONFIG), message(a.weighin(1_000))])
    assert _status(engine)[f"{ST}:2"] == ("credited", None)
    b = SigningStation(ST)  # a second key for the same station (new SD card, or not)
    b.seq = 10
    p.process([message(b.weighin(2_000))])
    assert _status(engine)[f"{ST}:11"] == ("held", "key")
    assert _balance(engine, hh) == _rp(1_000)
    with session_factory(engine)() as s:
        statuses = sorted(s.scalars(select(DeviceKey.status)))
        assert statuses == ["approved", "pending"]


def test_a_key_copied_to_another_station_is_refused(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    _, a, b = ready
    b.key, b.signer = a.key, a.signer  # OTHER's SD card now holds ST's key
    _processor(engine).process([message(b.weighin(1_000))])
    assert _status(engine)[f"{OTHER}:1"] == ("held", "key")


def test_an_operator_releases_or_rejects_a_hold(
    engine: Engine, ready: tuple[int, SigningStation, SigningStation]
) -> None:
    hh, a, _ = ready
    w1, w2 = a.weighin(1_000), a.weighin(2_000, frames=and_frames(200))
    w3 = a.weighin(3_000, frames=and_frames(300))
    proc = _processor(engine)
    proc.process([message(w) for w in (w1, w2, w3)])
    proc.process([message(w1)])  # a replay tells nothing again
    assert _told(engine) == {f"{ST}:1"}  # the held ones are not told
    with session_factory(engine)() as s:
        ids = {w.event_id: w.id for w in s.scalars(select(WeighinRecord))}
        with pytest.raises(Exception, match="note"):
            holds.release(
                s,
                weighin_id=ids[f"{ST}:2"],
                by="user:op",
                note=" ",
                inspector=Inspector(enforce=True),
            )
        s.rollback()
        holds.release(
            s,
            weighin_id=ids[f"{ST}:2"],
            by="user:op",
            note="weighed again: 2 kg",
            inspector=Inspector(enforce=True),
        )
        holds.reject(s, weighin_id=ids[f"{ST}:3"], by="user:op", reason="frames say 300 g")
        s.commit()
        done = {h.weighin_id: h for h in s.scalars(select(Hold))}
        assert (done[ids[f"{ST}:2"]].resolution, done[ids[f"{ST}:2"]].resolved_by) == (
            "released",
            "user:op",
        )
        assert done[ids[f"{ST}:3"]].resolution == "rejected"
        audited = {(e.action, e.subject, e.actor) for e in s.scalars(select(AuditEntry))}
        released, rejected = ids[f"{ST}:2"], ids[f"{ST}:3"]
        assert ("weighin.release", f"weighin:{released}", "user:op") in audited
        assert ("weighin.reject_held", f"weighin:{rejected}", "user:op") in audited
    got = _status(engine)
    assert got[f"{ST}:2"][0] == "credited"
    assert got[f"{ST}:3"][0] == "rejected"
    assert _balance(engine, hh) == _rp(1_000, 2_000)
    assert _told(engine) == {f"{ST}:1", f"{ST}:2"}  # told when the release credited it


def _told(engine: Engine) -> set[str]:
    """Event ids of the credits told to households (each with its verification code)."""
    with session_factory(engine)() as s:
        rows = list(s.scalars(select(Notification).where(Notification.event == "weighin_credited")))
        codes = {
            e: c for e, c in s.execute(select(WeighinRecord.event_id, WeighinRecord.verify_code))
        }
    assert all(
        normalise_code(n.data["verification_code"]) == codes[n.data["event_id"]] for n in rows
    )
    return {n.data["event_id"] for n in rows}
