"""Fraud rules: each fires on its pattern and not on the near miss; cases; holds.

mutant: card_two_stations comparing ``<`` 0 minutes (any gap) -> the 40-minute near miss fails
mutant: outside_hours without the grace -> the 16:10 near miss fails
mutant: repeated_weights counting the window one day short -> the 13-days-apart case fails
mutant: station_jump without the category mix (plain kg per weigh-in) -> the mix test fails
mutant: unassigned_assigned counting weigh-ins instead of occasions -> the 3-occasions miss fails
mutant: collector_gap ignoring gap_pct -> the 5 % near miss fails
mutant: apply_hits without the "covers the day" check -> the rescan raises again
mutant: apply_hits without merging (MERGE_DAYS = 0) -> the running days give several cases
mutant: payouts.request_payout without refuse_if_held -> the hold test fails
mutant: confirm_case without the PayoutHold -> the hold test fails
mutant: approve_payout checking the hold after telling the household -> the hold test fails
mutant: disbursement.mark_sent without refuse_if_held -> the transfer hold test fails
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import corrections, crediting, deliveries, disbursement, households, payouts
from cloud.devices import register_device
from cloud.errors import LedgerError
from cloud.fraud import cases, rules
from cloud.fraud.detectors import DETECTORS
from cloud.fraud.holds import PayoutsHeld, release_hold
from cloud.models import Device, WeighinRecord
from cloud.models.fraud import FraudCase, PayoutHold
from cloud.models.money import Payout
from cloud.models.notifications import Notification
from cloud.models.stock import SiteOpeningHours
from contract import Weighin
from tests.cloud.factories import weighin

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Jakarta")
MONDAY = date(2026, 11, 2)
_seq = iter(range(1, 1_000_000))


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


def credit(
    session: Session, items: Sequence[tuple[str, datetime, str | None, int]], **kw: Any
) -> list[int]:
    """Credit (device, local time, card, grams) weigh-ins; their row ids."""
    events: list[Weighin] = []
    for device, t, card, g in items:
        n = next(_seq)
        utc = t.astimezone(ZoneInfo("UTC"))
        ev = weighin(
            device_id=device,
            seq=n,
            event_id=f"{device}:{n}",
            device_time=utc,
            card_id=card,
            net_g=g,
            **kw,
        )
        events.append(ev)
    crediting.credit_batch(
        session, events, received_at=[e.device_time + timedelta(seconds=1) for e in events]
    )
    ids = dict(session.execute(select(WeighinRecord.event_id, WeighinRecord.id)).all())
    return [ids[e.event_id] for e in events]


@pytest.fixture
def world(session: Session, household_id: int) -> dict[str, Any]:
    """Two sites, a station at each (bank01's is st-bank01), six households at bank01."""
    register_device(session, device_id="st-bank02", kind="station", site="bank02")
    register_device(session, device_id="st-bank01b", kind="station", site="bank01")
    ids = {"CARD-1": household_id}
    for i in range(2, 7):
        hh = households.register_household(
            session, member_no=f"M-000{i}", name=f"HH {i}", site="bank01"
        )
        households.link_card(session, card_id=f"CARD-{i}", household_id=hh.id, by="t")
        ids[f"CARD-{i}"] = hh.id
    session.commit()
    return ids


def hits(
    session: Session, rule: str, first: date = MONDAY, last: date | None = None, **params: float
) -> list[Any]:
    p = {**rules.BY_CODE[rule].params, **params}
    return DETECTORS[rule](session, p, first, last or first + timedelta(days=30), TZ)


def test_card_at_two_sites_within_minutes(session: Session, world: dict[str, Any]) -> None:
    credit(
        session,
        [
            ("st-bank01", at(MONDAY, 9), "CARD-1", 1000),
            ("st-bank02", at(MONDAY, 9, 10), "CARD-1", 1000),  # 10 min later, elsewhere
            ("st-bank01", at(MONDAY, 10), "CARD-2", 1000),
            ("st-bank02", at(MONDAY, 10, 40), "CARD-2", 1000),  # 40 min: a bus ride
            ("st-bank01", at(MONDAY, 11), "CARD-3", 1000),
            ("st-bank01b", at(MONDAY, 11, 2), "CARD-3", 1000),
        ],
    )  # same site
    found = hits(session, "card_two_stations")
    assert [(h.subject_key, h.household_id, h.day) for h in found] == [
        ("CARD-1", world["CARD-1"], MONDAY)
    ]
    assert hits(session, "card_two_stations", minutes=5) == []  # the threshold is data
    assert len(hits(session, "card_two_stations", different_sites=0)) == 2


def test_outside_opening_hours(session: Session, world: dict[str, Any]) -> None:
    site = session.scalar(select(Device.site_id).where(Device.device_id == "st-bank01"))
    session.add_all(
        SiteOpeningHours(site_id=site, weekday=d, opens_min=420, closes_min=960) for d in range(6)
    )
    credit(
        session,
        [
            ("st-bank01", at(MONDAY, 16, 10), "CARD-1", 1000),  # in the grace
            ("st-bank01", at(MONDAY, 20, 30), "CARD-2", 1000),
            ("st-bank01", at(MONDAY + timedelta(days=6), 10), "CARD-3", 1000),
        ],
    )  # Sunday
    found = hits(session, "outside_hours")
    assert [(h.subject_key, h.day, h.figures["times"]) for h in found] == [
        ("st-bank01", MONDAY, ["20:30"]),
        ("st-bank01", MONDAY + timedelta(days=6), ["10:00"]),
    ]


def test_repeated_identical_weights(session: Session, world: dict[str, Any]) -> None:
    days = [MONDAY, MONDAY + timedelta(days=6), MONDAY + timedelta(days=13)]
    credit(session, [("st-bank01", at(d, 9), "CARD-1", 1255) for d in days])
    credit(
        session,
        [("st-bank01", at(d, 9), "CARD-2", 1255) for d in (MONDAY, MONDAY + timedelta(days=14))],
    )
    found = hits(session, "repeated_weights")
    assert [(h.subject_key, h.day) for h in found] == [(str(world["CARD-1"]), days[2])]
    assert hits(session, "repeated_weights", days=13) == []  # 13 days apart is outside 13


def test_one_household_far_above_its_neighbours(session: Session, world: dict[str, Any]) -> None:
    credit(session, [("st-bank01", at(MONDAY, 9), f"CARD-{i}", 8000) for i in range(2, 7)])
    credit(session, [("st-bank01", at(MONDAY, 10), "CARD-1", 72_000)])
    found = hits(session, "household_outlier", last=MONDAY)
    assert [(h.subject_key, h.figures["factor"]) for h in found] == [(str(world["CARD-1"]), 9.0)]
    assert hits(session, "household_outlier", last=MONDAY, factor=10) == []


def _station_weeks(session: Session, heavy: float, organic_before: int, organic_after: int) -> None:
    """Three weeks at st-bank01, six weigh-ins a day: the third week ``heavy`` and with
    ``organic_after`` organic bags (3 kg) of six instead of ``organic_before``."""
    by_cat: dict[str, list[tuple[str, datetime, str | None, int]]] = {
        "organic": [],
        "plastic-pet": [],
    }
    for d in range(21):
        day = MONDAY + timedelta(days=d)
        k, organic = (heavy, organic_after) if d >= 14 else (1.0, organic_before)
        for i in range(6):
            cat = "organic" if i < organic else "plastic-pet"
            by_cat[cat].append(
                (
                    "st-bank01",
                    at(day, 8 + i),
                    "CARD-1",
                    round((3000 if cat == "organic" else 500) * k),
                )
            )
    for cat, items in by_cat.items():
        credit(session, items, category=cat)


@pytest.mark.parametrize(("heavy", "expected"), [(1.3, True), (1.1, False)])
def test_a_station_that_reads_heavy(
    session: Session, world: dict[str, Any], heavy: float, expected: bool
) -> None:
    _station_weeks(session, heavy, organic_before=3, organic_after=3)
    found = hits(
        session, "station_jump", first=MONDAY + timedelta(days=20), last=MONDAY + timedelta(days=20)
    )
    assert bool(found) is expected
    if expected:
        assert found[0].figures["weighin_ratio"] == pytest.approx(1.3, abs=0.01)


def test_a_station_whose_visitors_bring_more_organic_is_not_flagged(
    session: Session, world: dict[str, Any]
) -> None:
    """More organic (heavy bags) in the window: kg per weigh-in rises, per category it does not."""
    _station_weeks(session, 1.0, organic_before=2, organic_after=3)  # 1.31x kg per weigh-in
    assert (
        hits(
            session,
            "station_jump",
            first=MONDAY + timedelta(days=20),
            last=MONDAY + timedelta(days=20),
        )
        == []
    )


def test_unassigned_weighins_assigned_to_one_household(
    session: Session, world: dict[str, Any]
) -> None:
    for n_occasions, card in ((4, "CARD-1"), (3, "CARD-2")):
        for d in range(n_occasions):
            ids = credit(
                session,
                [("st-bank01", at(MONDAY + timedelta(days=d), 9 + j), None, 700) for j in range(3)],
            )
            for wid in ids:
                corrections.assign_weighin(
                    session, weighin_id=wid, household_id=world[card], by="op"
                )
    session.commit()
    today = datetime.now(TZ).date()
    found = hits(session, "unassigned_assigned", first=today, last=today)
    assert [(h.subject_key, h.figures["occasions"], h.figures["weighins"]) for h in found] == [
        (str(world["CARD-1"]), 4, 12)
    ]


def _collector(
    session: Session, world: dict[str, Any], door_g: int, depot_g: int, day: date
) -> None:
    if session.get(Device, "ph-col01") is None:
        site = session.scalar(select(Device.site_id).where(Device.device_id == "st-bank01"))
        session.add(Device(device_id="ph-col01", kind="collector", site_id=site, revoked=False))
    ids = credit(session, [("ph-col01", at(day, 9), "CARD-2", door_g)])
    site_id = int(session.scalar(select(Device.site_id).where(Device.device_id == "ph-col01")) or 0)
    deliveries.deliver_to_depot(
        session,
        site_id=site_id,
        collector_id=42,
        by="c",
        weighin_ids=ids,
        delivered_g={"plastic-pet": depot_g},
        at=at(day, 15),
    )


def test_a_collector_whose_door_kilos_do_not_reach_the_depot(
    session: Session, world: dict[str, Any]
) -> None:
    _collector(session, world, 100_000, 95_000, MONDAY)  # 5 %: drying, a torn sack
    assert hits(session, "collector_gap") == []
    _collector(session, world, 30_000, 15_000, MONDAY + timedelta(days=1))  # now 15 % short
    (h,) = hits(session, "collector_gap")
    assert (h.subject_key, h.day, h.figures["door_kg"], h.figures["depot_kg"]) == (
        "42",
        MONDAY + timedelta(days=1),
        130.0,
        110.0,
    )


def test_a_scan_is_idempotent_and_one_pattern_is_one_case(
    session: Session, world: dict[str, Any]
) -> None:
    for d in range(3):  # the copied card on three running days
        day = MONDAY + timedelta(days=d)
        credit(
            session,
            [
                ("st-bank01", at(day, 9), "CARD-1", 900 + 10 * d),
                ("st-bank02", at(day, 9, 5), "CARD-1", 950 + 10 * d),
            ],
        )
    first = cases.scan(session, first=MONDAY, last=MONDAY + timedelta(days=6), tz=TZ)
    again = cases.scan(session, first=MONDAY, last=MONDAY + timedelta(days=6), tz=TZ)
    session.commit()
    assert (first.hits, first.raised, first.extended) == (3, 1, 2)
    assert (again.raised, again.extended, again.known) == (0, 0, 3)
    (c,) = session.scalars(select(FraudCase)).all()
    assert (c.first_day, c.last_day, c.hits, c.household_id) == (
        MONDAY,
        MONDAY + timedelta(days=2),
        3,
        world["CARD-1"],
    )
    cases.dismiss_case(session, case_id=c.id, note="the family has two members' cards", by="op")
    day = MONDAY + timedelta(days=4)  # the same pattern goes on: the dismissed case absorbs it
    credit(
        session,
        [("st-bank01", at(day, 9), "CARD-1", 800), ("st-bank02", at(day, 9, 5), "CARD-1", 850)],
    )
    later = cases.scan(session, first=MONDAY, last=MONDAY + timedelta(days=6), tz=TZ)
    assert (later.raised, later.extended) == (0, 1)
    assert session.get(FraudCase, c.id).status == "dismissed"  # type: ignore[union-attr]


def test_a_confirmed_case_holds_the_households_payouts(
    session: Session, world: dict[str, Any]
) -> None:
    hh = world["CARD-1"]
    credit(
        session,
        [
            ("st-bank01", at(MONDAY, 9), "CARD-1", 10_000),
            ("st-bank02", at(MONDAY, 9, 5), "CARD-1", 10_000),
        ],
    )
    approved = payouts.request_payout(session, household_id=hh, amount_rp=1000, by="cashier")
    payouts.approve_payout(session, payout_id=approved.id, by="op", two_person_from_rp=None)
    requested = payouts.request_payout(session, household_id=hh, amount_rp=1000, by="cashier")
    cases.scan(session, first=MONDAY, last=MONDAY, tz=TZ)
    (c,) = session.scalars(select(FraudCase)).all()
    with pytest.raises(LedgerError, match="note"):
        cases.confirm_case(session, case_id=c.id, note=" ", by="op")
    cases.confirm_case(session, case_id=c.id, note="card copied, police report filed", by="op")
    session.commit()
    with pytest.raises(PayoutsHeld, match=f"case {c.id}"):
        payouts.request_payout(session, household_id=hh, amount_rp=1000, by="cashier")
    with pytest.raises(PayoutsHeld):
        payouts.approve_payout(session, payout_id=requested.id, by="op", two_person_from_rp=None)
    with pytest.raises(PayoutsHeld):
        payouts.pay_payout(session, payout_id=approved.id, by="cashier", two_person_from_rp=None)
    # refused before the household is told: not even in the failed transaction
    assert told(session, "payout") == [f"payout_ready:{approved.id}"]
    with pytest.raises(LedgerError, match="confirmed already"):
        cases.dismiss_case(session, case_id=c.id, note="changed my mind", by="op")
    session.rollback()
    other = world["CARD-2"]  # another household is not held
    credit(session, [("st-bank01", at(MONDAY, 11), "CARD-2", 10_000)])
    payouts.request_payout(session, household_id=other, amount_rp=1000, by="cashier")
    hold = session.scalars(select(PayoutHold)).one()
    release_hold(session, hold_id=hold.id, note="card replaced, household cleared", by="admin")
    payouts.pay_payout(session, payout_id=approved.id, by="cashier", two_person_from_rp=None)
    session.commit()
    assert told(session, "payout") == [f"payout_paid:{approved.id}", f"payout_ready:{approved.id}"]


def test_a_hold_stops_a_transfer_before_it_leaves_not_after(
    session: Session, world: dict[str, Any]
) -> None:
    """An e-wallet payout not sent yet is held; one sent before the case was confirmed is
    recorded when the provider confirms it (the money has left: the ledger must say so).

    mutant: disbursement.mark_sent without refuse_if_held -> the held one goes out
    mutant: pay_payout refusing a held household for a confirmed transfer too -> the
    settlement of the one already sent raises PayoutsHeld"""
    hh = world["CARD-1"]
    credit(
        session,
        [
            ("st-bank01", at(MONDAY, 9), "CARD-1", 10_000),
            ("st-bank02", at(MONDAY, 9, 5), "CARD-1", 10_000),
        ],
    )
    sent, waiting = (
        payouts.request_payout(session, household_id=hh, amount_rp=1000, by="cashier")
        for _ in range(2)
    )
    out = {}
    for p in (sent, waiting):
        payouts.approve_payout(session, payout_id=p.id, by="op", two_person_from_rp=None)
        out[p.id] = disbursement.attach(
            session,
            payout_id=p.id,
            method="ewallet",
            provider="dana",
            account="0812 3456 7890",
            account_name=None,
            by="admin",
        )
    req = disbursement.mark_sent(
        session, disbursement_id=out[sent.id].id, by="op", callback_url="x"
    )
    cases.scan(session, first=MONDAY, last=MONDAY, tz=TZ)
    (c,) = session.scalars(select(FraudCase)).all()
    cases.confirm_case(session, case_id=c.id, note="card copied, police report filed", by="op")
    session.commit()
    with pytest.raises(PayoutsHeld):
        disbursement.mark_sent(
            session, disbursement_id=out[waiting.id].id, by="op", callback_url="x"
        )
    session.rollback()
    disbursement.settle(session, reference=req.reference, status="succeeded")
    session.commit()
    assert session.get(Payout, sent.id).status == "paid"  # type: ignore[union-attr]
    assert session.get(Payout, waiting.id).status == "approved"  # type: ignore[union-attr]


def told(session: Session, prefix: str) -> list[str]:
    """The notification keys written so far that start with ``prefix``."""
    rows = session.scalars(select(Notification.key).where(Notification.key.startswith(prefix)))
    return sorted(rows)


def test_rules_are_data(session: Session) -> None:
    rows = rules.ensure_rules(session)
    assert set(rows) == set(DETECTORS)
    rules.update_rule(session, code="card_two_stations", params={"minutes": 12}, by="admin")
    rule = rules.ensure_rules(session)["card_two_stations"]
    assert rules.params_of(rule)["minutes"] == 12
    assert "12 menit" in rules.explain(rule.explanation_id, rules.params_of(rule))
    assert "12 minutes" in rules.explain(rule.explanation_en, rules.params_of(rule))
    with pytest.raises(LedgerError, match="no parameter"):
        rules.update_rule(session, code="card_two_stations", params={"hours": 1}, by="admin")
