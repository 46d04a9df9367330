"""Payouts: cash withdrawals at the waste bank, never beyond what a household is owed.

Life of a payout: :func:`request_payout` -> :func:`approve_payout` -> :func:`pay_payout`
(or :func:`reject_payout` while not yet paid). Only paying posts to the ledger: one
``payout`` entry, debit the household's account, credit the programme's cash account.

While requested or approved, the amount is *held*::

    available = balance (sum of postings) - held (requested + approved payouts)

Every step that can move money checks ``amount <= available`` (:func:`cloud.postings.funds`,
the one balance) with the household's account row locked first (the account lock of
:mod:`cloud.postings`, taken after the payout row). So two concurrent requests can never
both spend the same rupiah, and a reversal or credit of the same household waits or is
waited for.

**Two people** (separation of duties): a payout of at least ``two_person_from_rp`` (a
setting of the API, :attr:`cloud.api.settings.ApiSettings.two_person_payout_rp`) is
approved by someone other than who requested it, and handed out in cash by someone
other than who approved it (:func:`refuse_same_person`). Below it, one cashier of a
small waste bank may do all three. ``None`` switches the rule off (tests of other rules,
scripts).

Functions flush but do not commit (the API commits once per request).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit, cashbox
from cloud.errors import LedgerError, NotFound
from cloud.fraud.holds import refuse_if_held
from cloud.models import Household, JournalEntry, utcnow
from cloud.models.money import HELD_PAYOUT_STATES, Payout
from cloud.notifications import events
from cloud.postings import (
    CASH_ACCOUNT,
    funds,
    lock_household_account,
    post_entry,
    programme_account,
)

#: the largest single payout accepted (a sanity bound: Rp 100 million)
MAX_PAYOUT_RP = 100_000_000
#: from this amount on, two people (the API's default for ``two_person_payout_rp``)
DEFAULT_TWO_PERSON_RP = 200_000


class PayoutError(LedgerError):
    """A payout rule refused the operation; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InsufficientFunds(PayoutError):
    def __init__(self, *, requested: int, available: int) -> None:
        super().__init__(
            f"payout of Rp {requested} exceeds the available balance of Rp {available}",
            field="amount_rp",
        )
        self.requested = requested
        self.available = available


class SamePerson(PayoutError):
    """A second person must do this step (:func:`refuse_same_person`)."""


def refuse_same_person(p: Payout, *, step: str, by: str, two_person_from_rp: int | None) -> None:
    """Above the threshold, the approver is not the requester and the payer not the approver."""
    if two_person_from_rp is None or p.amount_rp < two_person_from_rp:
        return
    earlier = p.requested_by if step == "approve" else p.decided_by
    if by == earlier:
        did = "requested" if step == "approve" else "approved"
        raise SamePerson(
            f"payout {p.id} of Rp {p.amount_rp:,} needs a second person: {by} {did} it, "
            f"so someone else must {step} it (two people from Rp {two_person_from_rp:,})"
        )


def _locked_payout(session: Session, payout_id: int) -> Payout:
    p = session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if p is None:
        raise NotFound(f"unknown payout {payout_id}")
    return p


def request_payout(
    session: Session, *, household_id: int, amount_rp: int, by: str, note: str | None = None
) -> Payout:
    """Hold ``amount_rp`` for a cash withdrawal; refused beyond the available balance."""
    if not 0 < amount_rp <= MAX_PAYOUT_RP:
        raise PayoutError(f"amount must be 1..{MAX_PAYOUT_RP} rupiah", field="amount_rp")
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"unknown household {household_id}")
    if not hh.active:
        raise PayoutError(f"household {household_id} is deactivated")
    lock_household_account(session, household_id=household_id)
    refuse_if_held(session, household_id=household_id)  # a confirmed fraud case holds payouts
    f = funds(session, household_id=household_id)
    if amount_rp > f.available_rp:
        raise InsufficientFunds(requested=amount_rp, available=f.available_rp)
    p = Payout(
        household_id=household_id,
        amount_rp=amount_rp,
        status="requested",
        requested_by=by,
        note=note,
    )
    session.add(p)
    session.flush()
    _audit(session, p, "payout.request", by, None)
    return p


def _audit(session: Session, p: Payout, action: str, by: str, was: str | None) -> None:
    hh = session.get(Household, p.household_id)
    audit.record(
        session,
        actor=by,
        action=action,
        subject=f"payout:{p.id}",
        before={"status": was} if was else None,
        after={
            "status": p.status,
            "amount_rp": p.amount_rp,
            "household_id": p.household_id,
            "reason": p.reason,
        },
        site_id=hh.site_id if hh else None,
    )


def approve_payout(
    session: Session, *, payout_id: int, by: str, two_person_from_rp: int | None
) -> Payout:
    p = _locked_payout(session, payout_id)
    if p.status != "requested":
        raise PayoutError(f"payout {payout_id} is {p.status}, not requested")
    refuse_same_person(p, step="approve", by=by, two_person_from_rp=two_person_from_rp)
    lock_household_account(session, household_id=p.household_id)
    refuse_if_held(session, household_id=p.household_id)
    # the balance may have dropped since the request (a reversal): re-check, self excluded
    f = funds(session, household_id=p.household_id)
    if f.available_rp < 0:
        raise InsufficientFunds(requested=p.amount_rp, available=f.available_rp + p.amount_rp)
    p.status, p.decided_at, p.decided_by = "approved", utcnow(), by
    session.flush()
    events.payout_approved(session, p)
    _audit(session, p, "payout.approve", by, "requested")
    return p


def reject_payout(session: Session, *, payout_id: int, by: str, reason: str) -> Payout:
    p = _locked_payout(session, payout_id)
    if p.status not in HELD_PAYOUT_STATES:
        raise PayoutError(f"payout {payout_id} is {p.status}; only a held payout can be rejected")
    if not reason.strip():
        raise PayoutError("a rejection needs a reason", field="reason")
    was = p.status
    p.status, p.decided_at, p.decided_by, p.reason = "rejected", utcnow(), by, reason[:300]
    session.flush()
    _audit(session, p, "payout.reject", by, was)
    return p


def pay_payout(
    session: Session,
    *,
    payout_id: int,
    by: str,
    two_person_from_rp: int | None,
    cash: bool = True,
) -> Payout:
    """Hand out the cash: post the payout entry. Only an approved payout can be paid.

    ``cash=False``: the money left by a confirmed transfer (:mod:`cloud.disbursement`),
    not from the site's cash box: it went to the household's own destination, recorded
    by whoever confirms the transfer, so the two-person rule is the approval's only."""
    p = _locked_payout(session, payout_id)
    if p.status != "approved":
        raise PayoutError(f"payout {payout_id} is {p.status}, not approved")
    if cash:
        refuse_same_person(p, step="pay", by=by, two_person_from_rp=two_person_from_rp)
    if cash:  # a closed cash box takes no more cash out (cloud.cashbox)
        cashbox.ensure_open_for_cash(session, household_id=p.household_id, at=utcnow())
    account_id = lock_household_account(session, household_id=p.household_id)
    if cash:  # a confirmed transfer is recorded anyway: the hold stopped it before it was sent
        refuse_if_held(session, household_id=p.household_id)
    f = funds(session, household_id=p.household_id)
    # this payout is part of `held`: paying it must leave available >= 0
    if f.available_rp < 0 or p.amount_rp > f.balance_rp:
        raise InsufficientFunds(requested=p.amount_rp, available=f.available_rp + p.amount_rp)
    cash_account = programme_account(session, CASH_ACCOUNT)
    entry: JournalEntry = post_entry(
        session,
        kind="payout",
        description=f"cash payout #{p.id}",
        postings=[(account_id, p.amount_rp), (cash_account.id, -p.amount_rp)],
        by=by,
    )
    p.status, p.paid_at, p.paid_by, p.entry_id = "paid", utcnow(), by, entry.id
    session.flush()
    events.payout_paid(session, p)
    _audit(session, p, "payout.pay", by, "approved")
    return p
