"""Payouts: cash withdrawals at the waste bank, never beyond what a household is owed.

Life of a payout: :func:`request_payout` -> :func:`approve_payout` -> :func:`pay_payout`
(or :func:`reject_payout` while not yet paid). Only paying posts to the ledger: one
``payout`` entry, debit the household's account, credit the programme's cash account.

While requested or approved, the amount is *held*::

    available = balance (sum of postings) - held (requested + approved payouts)

Every step that can move money checks ``amount <= available`` with the household's
account row locked first (:func:`lock_household_account`): ``SELECT ... FOR UPDATE`` on
PostgreSQL, and on SQLite the write engine's ``BEGIN IMMEDIATE`` already serialises the
whole transaction. So two concurrent requests can never both spend the same rupiah.

Functions flush but do not commit (the API commits once per request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from cloud.ledger import (
    CASH_ACCOUNT,
    PROGRAMME_ACCOUNTS,
    LedgerError,
    NotFound,
    post_entry,
    reverse_weighin,
)
from cloud.models import Account, Household, JournalEntry, Posting, WeighinRecord, utcnow
from cloud.models.money import HELD_PAYOUT_STATES, Payout

#: the largest single payout accepted (a sanity bound: Rp 100 million)
MAX_PAYOUT_RP = 100_000_000


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


@dataclass(frozen=True, slots=True)
class Funds:
    balance_rp: int
    held_rp: int

    @property
    def available_rp(self) -> int:
        return self.balance_rp - self.held_rp


def lock_household_account(session: Session, *, household_id: int) -> Account:
    """Lock the household's account row for the rest of the transaction."""
    acc = session.scalar(
        select(Account).where(Account.household_id == household_id).with_for_update()
    )
    if acc is None:
        raise NotFound(f"household {household_id} has no account")
    return acc


def _funds_statement() -> Select[Any]:
    hh: BindParameter[int] = bindparam("household_id")
    posted = (
        select(func.coalesce(func.sum(Posting.amount_rp), 0))
        .join(Account, Account.id == Posting.account_id)
        .where(Account.household_id == hh)
        .scalar_subquery()
    )
    held = (
        select(func.coalesce(func.sum(Payout.amount_rp), 0))
        .where(Payout.household_id == hh, Payout.status.in_(HELD_PAYOUT_STATES))
        .scalar_subquery()
    )
    return select(posted, held)


#: built once: a balance lookup is the API's hottest query
_FUNDS = _funds_statement()


def funds(session: Session, *, household_id: int) -> Funds:
    """Balance and held amount of a household, in one round trip."""
    row = session.connection().execute(_FUNDS, {"household_id": household_id}).one()
    return Funds(balance_rp=-int(row[0] or 0), held_rp=int(row[1] or 0))


def _cash_account(session: Session) -> Account:
    acc = session.scalar(select(Account).where(Account.code == CASH_ACCOUNT))
    if acc is None:
        kind, name = PROGRAMME_ACCOUNTS[CASH_ACCOUNT]
        acc = Account(code=CASH_ACCOUNT, kind=kind, name=name)
        session.add(acc)
        session.flush()
    return acc


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
    f = funds(session, household_id=household_id)
    if amount_rp > f.available_rp:
        raise InsufficientFunds(requested=amount_rp, available=f.available_rp)
    p = Payout(
        household_id=household_id, amount_rp=amount_rp, status="requested",
        requested_by=by, note=note,
    )  # fmt: skip
    session.add(p)
    session.flush()
    return p


def approve_payout(session: Session, *, payout_id: int, by: str) -> Payout:
    p = _locked_payout(session, payout_id)
    if p.status != "requested":
        raise PayoutError(f"payout {payout_id} is {p.status}, not requested")
    lock_household_account(session, household_id=p.household_id)
    # the balance may have dropped since the request (a reversal): re-check, self excluded
    f = funds(session, household_id=p.household_id)
    if f.available_rp < 0:
        raise InsufficientFunds(requested=p.amount_rp, available=f.available_rp + p.amount_rp)
    p.status, p.decided_at, p.decided_by = "approved", utcnow(), by
    session.flush()
    return p


def reject_payout(session: Session, *, payout_id: int, by: str, reason: str) -> Payout:
    p = _locked_payout(session, payout_id)
    if p.status not in HELD_PAYOUT_STATES:
        raise PayoutError(f"payout {payout_id} is {p.status}; only a held payout can be rejected")
    if not reason.strip():
        raise PayoutError("a rejection needs a reason", field="reason")
    p.status, p.decided_at, p.decided_by, p.reason = "rejected", utcnow(), by, reason[:300]
    session.flush()
    return p


def pay_payout(session: Session, *, payout_id: int, by: str) -> Payout:
    """Hand out the cash: post the payout entry. Only an approved payout can be paid."""
    p = _locked_payout(session, payout_id)
    if p.status != "approved":
        raise PayoutError(f"payout {payout_id} is {p.status}, not approved")
    acc = lock_household_account(session, household_id=p.household_id)
    f = funds(session, household_id=p.household_id)
    # this payout is part of `held`: paying it must leave available >= 0
    if f.available_rp < 0 or p.amount_rp > f.balance_rp:
        raise InsufficientFunds(requested=p.amount_rp, available=f.available_rp + p.amount_rp)
    cash = _cash_account(session)
    entry: JournalEntry = post_entry(
        session,
        kind="payout",
        description=f"cash payout #{p.id}",
        postings=[(acc.id, p.amount_rp), (cash.id, -p.amount_rp)],
        by=by,
    )
    p.status, p.paid_at, p.paid_by, p.entry_id = "paid", utcnow(), by, entry.id
    session.flush()
    return p


def reverse_weighin_locked(
    session: Session, *, weighin_id: int, reason: str, by: str
) -> JournalEntry:
    """:func:`cloud.ledger.reverse_weighin` with the household's account locked first.

    Locking first serialises a reversal with concurrent payouts of the same household.
    """
    rec = session.get(WeighinRecord, weighin_id)
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    if rec.household_id is not None:
        lock_household_account(session, household_id=rec.household_id)
    return reverse_weighin(session, weighin_id=weighin_id, reason=reason, by=by)
