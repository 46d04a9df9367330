"""A collector's cash float: the waste bank's cash a collector carries to pay at doors.

The float is a ledger account like any other (:func:`cloud.postings.collector_float_account`,
an asset ``collector:{id}:float``); every move is one balanced journal entry:

==================  ===========================================  ============================
entry kind          debit                                        credit
==================  ===========================================  ============================
``float_issue``     the float (cash handed to the collector)     ``programme:cash``
``doorstep_cash``   the household's account (its credit, paid)   the float
``float_return``    ``programme:cash`` (what was counted back)   the float
``float_difference`` ``programme:float-differences`` (short)     the float (over: reversed)
==================  ===========================================  ============================

At the depot :func:`settle_float` counts the cash the collector hands back: the float
is then at Rp 0, and what the count was short of (or over) is booked where an operator
sees it. Entries lock the float's account row first, so a settlement and a cash payment
at a door serialise (a household's account, when one is involved, is locked before it:
the crediting path's order). Functions flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError
from cloud.models import Account, JournalEntry
from cloud.postings import (
    CASH_ACCOUNT,
    FLOAT_DIFFERENCES_ACCOUNT,
    account_total_rp,
    collector_float_account,
    float_account_code,
    lock_household_account,
    post_entry,
    programme_account,
)

#: the most cash one entry may move (a sanity bound: Rp 100 million)
MAX_FLOAT_RP = 100_000_000


def _locked_float(session: Session, collector_id: int) -> int:
    acc = collector_float_account(session, collector_id=collector_id)
    session.scalar(select(Account.id).where(Account.id == acc.id).with_for_update())
    return acc.id


def float_rp(session: Session, *, collector_id: int) -> int:
    """The cash the collector should be carrying (the float account's balance; nothing if
    it was never handed one). A read: it creates no account. (Creating it here made
    ``GET /collectors/{id}/float`` write in a read transaction, which SQLite refuses at
    once with "database is locked" when another write committed since it began.)"""
    acc = session.scalar(select(Account.id).where(Account.code == float_account_code(collector_id)))
    return 0 if acc is None else account_total_rp(session, account_id=acc)


def issue_float(session: Session, *, collector_id: int, amount_rp: int, by: str) -> JournalEntry:
    """The waste bank hands the collector ``amount_rp`` in cash for the day."""
    if not 0 < amount_rp <= MAX_FLOAT_RP:
        raise LedgerError(f"a float is Rp 1 to Rp {MAX_FLOAT_RP}")
    fl = _locked_float(session, collector_id)
    cash = programme_account(session, CASH_ACCOUNT).id
    return post_entry(
        session,
        kind="float_issue",
        description=f"cash float handed to collector {collector_id}",
        postings=[(fl, amount_rp), (cash, -amount_rp)],
        by=by,
    )


def pay_at_door(
    session: Session,
    *,
    collector_id: int,
    household_id: int,
    amount_rp: int,
    effective_at: datetime,
    description: str,
    by: str,
) -> JournalEntry:
    """The household takes ``amount_rp`` of its credit in cash from the collector."""
    if not 0 < amount_rp <= MAX_FLOAT_RP:
        raise LedgerError(f"cash at the door is Rp 1 to Rp {MAX_FLOAT_RP}")
    household = lock_household_account(session, household_id=household_id)
    fl = _locked_float(session, collector_id)
    return post_entry(
        session,
        kind="doorstep_cash",
        description=description,
        postings=[(household, amount_rp), (fl, -amount_rp)],
        effective_at=effective_at,
        by=by,
    )


def settle_float(
    session: Session, *, collector_id: int, counted_rp: int, by: str
) -> list[JournalEntry]:
    """At the depot: the collector hands back ``counted_rp``; the float ends at Rp 0.

    Returns the entries written: the cash returned (if any) and the difference between
    the float and the count (if any).
    """
    if not 0 <= counted_rp <= MAX_FLOAT_RP:
        raise LedgerError(f"the counted cash is Rp 0 to Rp {MAX_FLOAT_RP}")
    fl = _locked_float(session, collector_id)
    expected = account_total_rp(session, account_id=fl)
    entries = []
    if counted_rp:
        cash = programme_account(session, CASH_ACCOUNT).id
        entries.append(
            post_entry(
                session,
                kind="float_return",
                description=f"cash float returned by collector {collector_id}",
                postings=[(cash, counted_rp), (fl, -counted_rp)],
                by=by,
            )
        )
    short = expected - counted_rp
    if short:
        diff = programme_account(session, FLOAT_DIFFERENCES_ACCOUNT).id
        entries.append(
            post_entry(
                session,
                kind="float_difference",
                description=(
                    f"collector {collector_id}'s float {'short' if short > 0 else 'over'} "
                    f"by Rp {abs(short)} (expected Rp {expected}, counted Rp {counted_rp})"
                ),
                postings=[(diff, short), (fl, -short)],
                by=by,
            )
        )
    return entries
