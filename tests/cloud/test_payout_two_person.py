"""Separation of duties on payouts: from a set amount on, the approver is not the
requester and the cashier who hands out the cash is not the approver.

mutant: refuse_same_person returning early always -> the self-approval passes.
mutant: refuse_same_person comparing the payer with the requester -> the approver pays.
mutant: ``p.amount_rp < two_person_from_rp`` as ``<=`` -> the payout at the threshold
        passes with one person.
mutant: approve_payout without the call -> the self-approval passes.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cloud import payouts
from cloud.crediting import credit_many
from cloud.models import utcnow
from cloud.postings import funds
from tests.cloud.factories import weighin

pytestmark = pytest.mark.integration

LIMIT = 20_000


def _requested(session: Session, household_id: int, amount_rp: int) -> int:
    p = payouts.request_payout(
        session, household_id=household_id, amount_rp=amount_rp, by="user:ani"
    )
    session.commit()
    return p.id


def test_at_the_threshold_a_second_person_approves_and_a_third_pays(
    session: Session, household_id: int
) -> None:
    credit_many(session, [weighin(net_g=10_000)], [utcnow()])  # Rp 30.000
    session.commit()
    pid = _requested(session, household_id, LIMIT)
    with pytest.raises(payouts.SamePerson, match="needs a second person"):
        payouts.approve_payout(session, payout_id=pid, by="user:ani", two_person_from_rp=LIMIT)
    session.rollback()
    payouts.approve_payout(session, payout_id=pid, by="user:budi", two_person_from_rp=LIMIT)
    session.commit()
    with pytest.raises(payouts.SamePerson, match="user:budi approved it"):
        payouts.pay_payout(session, payout_id=pid, by="user:budi", two_person_from_rp=LIMIT)
    session.rollback()
    assert funds(session, household_id=household_id).balance_rp == 30_000  # nothing paid yet
    # the requester may hand out what someone else approved
    p = payouts.pay_payout(session, payout_id=pid, by="user:ani", two_person_from_rp=LIMIT)
    session.commit()
    assert (p.status, p.requested_by, p.decided_by, p.paid_by) == (
        "paid",
        "user:ani",
        "user:budi",
        "user:ani",
    )
    assert funds(session, household_id=household_id).balance_rp == 10_000


def test_below_the_threshold_one_cashier_does_it_all(session: Session, household_id: int) -> None:
    credit_many(session, [weighin(net_g=10_000)], [utcnow()])
    session.commit()
    pid = _requested(session, household_id, LIMIT - 1)
    payouts.approve_payout(session, payout_id=pid, by="user:ani", two_person_from_rp=LIMIT)
    p = payouts.pay_payout(session, payout_id=pid, by="user:ani", two_person_from_rp=LIMIT)
    session.commit()
    assert p.status == "paid"


def test_a_confirmed_transfer_is_recorded_by_whoever_confirms_it(
    session: Session, household_id: int
) -> None:
    """The approval had its second person; the money went to the household's own
    destination, so the bank file's settlement by the approver still records it."""
    credit_many(session, [weighin(net_g=10_000)], [utcnow()])
    session.commit()
    pid = _requested(session, household_id, LIMIT)
    payouts.approve_payout(session, payout_id=pid, by="user:budi", two_person_from_rp=LIMIT)
    p = payouts.pay_payout(
        session, payout_id=pid, by="user:budi", two_person_from_rp=LIMIT, cash=False
    )
    session.commit()
    assert p.status == "paid"
