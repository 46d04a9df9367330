"""Weighing at the door (cloud.doorstep) on SQLite and PostgreSQL: the phone's clock under
the clock rule, the phone bound to its collector, event ids never reused, provenance.

mutant: not_before dropped from the Payee (event_time without it) -> a phone time before
  the request prices at the older, higher price, test_phone_clock fails
mutant: clock_synced ignored (the phone's time always trusted) -> test_phone_clock fails
mutant: a line's event id already in the ledger not checked -> the reused id is credited
  as a replay of another pickup, test_event_ids fails (no LedgerError)
mutant: entry/collector/phone not written to doorstep_weighins -> test_provenance fails
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import doorstep, households, pricing
from cloud.auth import create_user
from cloud.errors import LedgerError
from cloud.models import Household, Pickup, WeighinRecord
from cloud.models.doorstep import DoorstepWeighin
from cloud.models.notifications import Notification
from cloud.postings import funds
from tests.cloud.conftest import seed_programme

pytestmark = pytest.mark.integration

BOOT = uuid.UUID("00000000-0000-4000-8000-00000000000d")


def request(session: Session, household_id: int) -> Pickup:
    p = doorstep.request_pickup(
        session,
        household_id=household_id,
        categories=["plastic-pet"],
        settings=doorstep.DoorstepSettings(),
        address="Jl. Kenanga 4",
    )
    session.commit()
    return p


def completion(
    phone: str, seq: int, grams: list[int], at: datetime, *, synced: bool = True, **kw: object
) -> doorstep.CompletionIn:
    lines = tuple(
        doorstep.LineIn(seq=seq + 1 + i, category="plastic-pet", net_g=g, weighed_at=at, **kw)  # type: ignore[arg-type]
        for i, g in enumerate(grams)
    )
    return doorstep.CompletionIn(
        phone_id=phone,
        seq=seq,
        completed_at=at,
        clock_synced=synced,
        boot_id=BOOT,
        mono_ms=1,
        lines=lines,
    )


@pytest.fixture
def door(session: Session) -> tuple[int, int, int]:
    """A household (with card CARD-1), two collectors."""
    hh = seed_programme(session)
    site = session.get(Household, hh).site_id  # a collector belongs to a site
    a = create_user(session, username="col-a", password="x" * 12, role="collector", site_id=site).id
    b = create_user(session, username="col-b", password="x" * 12, role="collector", site_id=site).id
    session.commit()
    return hh, a, b


def test_phone_clock(session: Session, door: tuple[int, int, int]) -> None:
    hh, col, _ = door
    p = request(session, hh)
    asked = p.opened_at
    # PET was Rp 3,000 since January; Rp 2,000 from a minute after the request
    pricing.set_price(
        session,
        category="plastic-pet",
        rp_per_kg=2_000,
        effective_from=asked + timedelta(minutes=1),
    )
    session.commit()
    received = asked + timedelta(minutes=30)
    # a phone claiming it weighed a day before the household asked: counts when it asked
    early = completion("ph-clockcheck1", 1, [1_000], asked - timedelta(days=1))
    r = doorstep.complete_at_door(
        session, pickup_id=p.id, completion=early, user_id=col, by="t", received_at=received
    )
    session.commit()
    assert (r.lines[0].effective_at, r.lines[0].amount_rp) == (asked, 3_000)

    p2 = request(session, hh)
    # a phone whose clock disagreed with the server's: counts when received
    unsynced = completion("ph-clockcheck1", 10, [1_000], p2.opened_at, synced=False)
    later = p2.opened_at + timedelta(minutes=5)
    r2 = doorstep.complete_at_door(
        session, pickup_id=p2.id, completion=unsynced, user_id=col, by="t", received_at=later
    )
    session.commit()
    assert (r2.lines[0].effective_at, r2.lines[0].amount_rp) == (later, 2_000)


def test_event_ids(session: Session, door: tuple[int, int, int]) -> None:
    hh, col_a, col_b = door
    now = datetime.now(UTC)
    first = request(session, hh)
    doorstep.complete_at_door(
        session,
        pickup_id=first.id,
        user_id=col_a,
        by="t",
        completion=completion("ph-reuse000001", 1, [1_500], now),
    )
    session.commit()
    again = request(session, hh)
    # a new completion reusing a line's event id (seq 2 is the first's line)
    line = doorstep.LineIn(seq=2, category="plastic-pet", net_g=900, weighed_at=now)
    reuse = replace(completion("ph-reuse000001", 7, [900], now), lines=(line,))
    with pytest.raises(LedgerError, match="used before"):
        doorstep.complete_at_door(
            session, pickup_id=again.id, completion=reuse, user_id=col_a, by="t"
        )
    session.rollback()
    # collector B cannot send with collector A's phone
    stolen = completion("ph-reuse000001", 20, [900], now)
    with pytest.raises(LedgerError, match="another collector"):
        doorstep.complete_at_door(
            session, pickup_id=again.id, user_id=col_b, by="t", completion=stolen
        )
    session.rollback()
    assert session.scalar(select(Pickup.status).where(Pickup.id == again.id)) == "open"


def test_provenance(session: Session, door: tuple[int, int, int]) -> None:
    hh, col, _ = door
    households.link_card(session, card_id="CARD-9", household_id=hh, by="t")  # unrelated
    p = request(session, hh)
    c = completion(
        "ph-provenance1",
        1,
        [2_000],
        datetime.now(UTC),
        entry="scale",
        scale="web-serial 403:6001",
        frames=("53542c47532c20322e30306b67",),
    )
    doorstep.complete_at_door(session, pickup_id=p.id, completion=c, user_id=col, by="t")
    session.commit()
    w = session.scalar(select(WeighinRecord).where(WeighinRecord.device_id == "ph-provenance1"))
    assert w is not None
    assert (w.card_id, w.household_id, w.protocol, w.frames) == (
        None,
        hh,
        "phone-scale",
        ["53542c47532c20322e30306b67"],
    )
    prov = session.get(DoorstepWeighin, w.id)
    assert prov is not None
    assert (prov.entry, prov.scale, prov.collector_id, prov.phone_id) == (
        "scale",
        "web-serial 403:6001",
        col,
        "ph-provenance1",
    )


def test_told_once(session: Session, door: tuple[int, int, int]) -> None:
    """The household is told of its request, each weigh-in credited at its door, the
    cash it took and the pickup done: once each, however often the phone sends.

    mutant: cash_paid_at_door not called -> no doorstep_cash notice, fails
    mutant: cash notice told before pay_at_door (balance before the cash) -> fails
    (tried too: complete_at_door telling the credits a second time itself -> still 3:
    the outbox's keys, ``weighin_credited:<event id>``, drop the repeat)
    """
    hh, col, _ = door
    now = datetime.now(UTC)
    saved = request(session, hh)
    body = completion("ph-toldonce01", 1, [1_000, 2_000], now)
    for _ in range(3):  # the first sending and two replays
        doorstep.complete_at_door(session, pickup_id=saved.id, completion=body, user_id=col, by="t")
        session.commit()
    cash = request(session, hh)
    before = funds(session, household_id=hh).balance_rp
    paid = replace(completion("ph-toldonce01", 10, [1_500], now), payment="cash")
    for _ in range(2):
        doorstep.complete_at_door(session, pickup_id=cash.id, completion=paid, user_id=col, by="t")
        session.commit()
    told = list(
        session.scalars(
            select(Notification).where(Notification.household_id == hh).order_by(Notification.id)
        )
    )
    assert Counter(n.event for n in told) == {
        "pickup_scheduled": 2,
        "weighin_credited": 3,
        "pickup_completed": 2,
        "doorstep_cash": 1,
    }
    (credit,) = [n.data for n in told if n.data.get("event_id") == "ph-toldonce01:11"]
    (cash_note,) = [n.data for n in told if n.event == "doorstep_cash"]
    assert (credit["amount_rp"], credit["balance_rp"]) == (4_500, before + 4_500)
    assert (cash_note["amount_rp"], cash_note["balance_rp"]) == (4_500, before)
    assert (cash_note["pickup_id"], cash_note["event_id"]) == (cash.id, "ph-toldonce01:10")
    assert funds(session, household_id=hh).balance_rp == before
