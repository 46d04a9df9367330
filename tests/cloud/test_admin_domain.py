"""Administration rules on both databases: an import checks every row and is all or
nothing; a price change needs a second person; a cash day balances or says why, and only
the administrator reopens it; an audit row lives and dies with its action's transaction.

mutant: check() without the in-file duplicate card rule -> the dry run misses lines.
mutant: import_households without "if not report.clean: raise" -> households are written.
mutant: price_changes.approve without the proposer check -> the self-approval passes.
mutant: close_day accepting a difference without a reason -> the reasonless close passes.
mutant: reopen_day without the administrator check -> the operator's reopen passes.
mutant: audit.record committing on its own -> the rolled-back edit leaves an audit row.
mutant: update_household storing the phone as typed -> the audit row's phone is not E.164.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import cashbox, disbursement, households, onboarding, payouts, price_changes, pricing
from cloud.crediting import credit_many
from cloud.models import Household, Site, utcnow
from cloud.models.audit import AuditEntry
from cloud.models.money import Payout
from cloud.onboarding import ImportRefused
from cloud.postings import funds
from cloud.price_changes import PriceChangeError
from tests.cloud.factories import weighin
from tests.support.household_lists import household_list

pytestmark = pytest.mark.integration


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def now_price(session: Session) -> int | None:
    p = pricing.price_at(session, category="plastic-pet", at=utcnow())
    return p.rp_per_kg if p else None


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Household)) or 0)


def test_import_lists_every_bad_row_and_is_all_or_nothing(
    session: Session, household_id: int
) -> None:
    data, planted = household_list(300, site="bank01", taken_card="CARD-1")
    report = onboarding.check(session, data, "warga.csv")
    assert report.rows == 300
    assert report.bad_lines == planted  # exactly the 12, nothing else
    before = count(session)
    with pytest.raises(ImportRefused) as refused:
        onboarding.import_households(session, data, "warga.csv", by="user:admin")
    assert refused.value.report.bad_lines == planted
    session.rollback()
    assert count(session) == before

    clean, none = household_list(300, site="bank01", taken_card="CARD-1", planted=False)
    assert none == []
    done = onboarding.import_households(session, clean, "warga.csv", by="user:admin")
    session.commit()
    assert done.households == done.cards == 300
    assert count(session) == before + 300
    assert audit_actions(session).count("household.import") == 1
    again = onboarding.check(session, clean, "warga.csv")  # every card is taken now
    assert len(again.bad_lines) == 300


def test_a_price_change_needs_a_second_person(session: Session, household_id: int) -> None:
    change = price_changes.propose(
        session, category="plastic-pet", rp_per_kg=3_500, effective_from=None, by="user:alice"
    )
    session.commit()
    with pytest.raises(PriceChangeError, match="second person"):
        price_changes.approve(session, change_id=change.id, by="user:alice")
    session.rollback()
    assert now_price(session) == 3_000
    price_changes.approve(session, change_id=change.id, by="user:bob")
    session.commit()
    assert now_price(session) == 3_500
    assert audit_actions(session)[-2:] == ["price.propose", "price.approve"]


def test_the_cash_day_balances_or_says_why(session: Session, household_id: int) -> None:
    site_id = session.scalars(select(Site.id)).one()
    day = date(2026, 11, 30)
    cashbox.open_day(session, site_id=site_id, day=day, float_rp=100_000, by="user:kasir")
    cashbox.add_movement(
        session, site_id=site_id, day=day, kind="sale", amount_rp=20_000, note=None, by="user:kasir"
    )
    session.commit()
    assert cashbox.tally(session, site_id=site_id, day=day).expected_rp == 120_000
    with pytest.raises(cashbox.CashboxError, match="reason"):
        cashbox.close_day(
            session, site_id=site_id, day=day, counted_rp=119_000, reason=None, by="user:kasir"
        )
    session.rollback()
    row = cashbox.close_day(
        session,
        site_id=site_id,
        day=day,
        counted_rp=119_000,
        reason="kembalian kurang",
        by="user:kasir",
    )
    session.commit()
    assert (row.expected_rp, row.difference_rp) == (120_000, -1_000)
    with pytest.raises(cashbox.CashboxError):  # no cash moves on a closed day
        cashbox.add_movement(
            session, site_id=site_id, day=day, kind="sale", amount_rp=1, note=None, by="user:kasir"
        )
    session.rollback()
    with pytest.raises(cashbox.CashboxError, match="administrator"):
        cashbox.reopen_day(
            session,
            site_id=site_id,
            day=day,
            reason="salah hitung",
            by="user:kasir",
            by_role="operator",
        )
    session.rollback()
    cashbox.reopen_day(
        session, site_id=site_id, day=day, reason="salah hitung", by="user:admin", by_role="admin"
    )
    session.commit()
    assert cashbox.tally(session, site_id=site_id, day=day).status == "open"
    assert audit_actions(session)[-4:] == [
        "cashbox.open",
        "cashbox.movement",
        "cashbox.close",
        "cashbox.reopen",
    ]


def test_the_audit_row_is_in_the_actions_transaction(session: Session, household_id: int) -> None:
    hh = session.get(Household, household_id)
    assert hh is not None
    n = len(audit_actions(session))
    households.update_household(
        session, household=hh, changes={"phone": "0812 3456 7890"}, by="user:admin"
    )
    session.rollback()
    assert len(audit_actions(session)) == n  # the edit is gone, and so is its audit row
    households.update_household(
        session, household=hh, changes={"phone": "0812 3456 7890"}, by="user:admin"
    )
    session.commit()
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last is not None
    assert (last.action, last.actor, last.subject) == (
        "household.update",
        "user:admin",
        f"household:{household_id}",
    )
    assert last.after == {"phone": "+6281234567890"}  # stored through the one normaliser
    with pytest.raises(households.InvalidHouseholdField):
        households.update_household(
            session, household=hh, changes={"phone": "021 555"}, by="user:admin"
        )


def test_an_ewallet_payout_is_paid_once_and_only_when_confirmed(
    session: Session, household_id: int
) -> None:
    """mutant: settle() not recognising a repeated "succeeded" -> the repeated callback fails.
    mutant: mark_sent() without the "approved" check -> a requested payout goes out."""
    credit_many(session, [weighin(net_g=10_000)], [utcnow()])  # Rp 30.000
    session.commit()
    p = payouts.request_payout(session, household_id=household_id, amount_rp=25_000, by="household")
    d = disbursement.attach(
        session,
        payout_id=p.id,
        method="ewallet",
        provider="dana",
        account="0812 3456 7890",
        account_name=None,
        by="user:admin",
    )
    session.commit()
    assert d.account == "+6281234567890"
    with pytest.raises(disbursement.DisbursementError, match="not approved"):
        disbursement.mark_sent(session, disbursement_id=d.id, by="user:kasir", callback_url="x")
    session.rollback()
    payouts.approve_payout(session, payout_id=p.id, by="user:admin", two_person_from_rp=None)
    req = disbursement.mark_sent(
        session, disbursement_id=d.id, by="user:kasir", callback_url="http://127.0.0.1/cb"
    )
    session.commit()
    assert funds(session, household_id=household_id).balance_rp == 30_000  # not paid yet
    for _ in range(2):  # the provider's callback, repeated
        disbursement.settle(session, reference=req.reference, status="succeeded")
        session.commit()
    assert funds(session, household_id=household_id).balance_rp == 5_000
    assert session.get(Payout, p.id).status == "paid"  # type: ignore[union-attr]
