"""Receivables: money a household owes the programme after a reversal of spent money.

No household balance goes below zero through any path. A reversal
(:func:`cloud.corrections.reverse_weighin`) takes back from the household's account
only what is *available* (its balance less what pending payouts hold, the rule of
:func:`cloud.postings.funds`); the rest — already paid out, or held for a payout that
may still be paid — is posted in the same journal entry to the household's
*receivable account* (an asset of the programme: ``household:{id}:receivable``, linked
to the household by a :class:`cloud.models.money.Receivable` row)::

    reversal of X with A available:   purchases -X | household +min(X, A) | receivable +rest

What a household owes is the sum of that account's postings (:func:`owed_rp`: the
ledger is the one balance; nothing stores an amount). It comes down three ways, each
one balanced entry:

* ``receivable_recovery``: every later credit of the household (station, doorstep,
  assignment, a released hold: all post through :func:`cloud.crediting.post_credits`,
  which calls :func:`recover`) settles it first, in the credit's own transaction and
  under the same account lock, before the rest stays on the balance; the household's
  statement shows a line "recovered against reversal of weigh-in N";
* ``receivable_repayment``: cash repaid at the counter (:func:`repay`) goes into the
  site's cash box (counted by :func:`cloud.cashbox.tally`; refused on a closed day);
* ``receivable_write_off``: an administrator gives it up (:func:`write_off`, reason
  required, audited) to the programme's expense account of written-off receivables.

Locks: the household's account row (:func:`cloud.postings.lock_household_account`)
guards its receivable account too: every step here runs with it held, so a recovery, a
repayment, a write-off and a reversal of one household serialise. Flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud import audit, cashbox
from cloud.bulk import Prepared, among
from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.models import Account, Household, JournalEntry, Posting, utcnow
from cloud.models.money import Receivable
from cloud.postings import (
    CASH_ACCOUNT,
    WRITTEN_OFF_ACCOUNT,
    lock_household_account,
    post_entry,
    posted_rp,
    programme_account,
)

#: the journal entry kinds that bring a receivable down
RECOVERY, REPAYMENT, WRITE_OFF = (
    "receivable_recovery",
    "receivable_repayment",
    "receivable_write_off",
)
#: the largest single repayment or write-off accepted (the bound of a payout)
MAX_RP = 100_000_000


class ReceivableError(LedgerError):
    """A receivable rule refused the operation; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def split_reversal(amount_rp: int, available_rp: int) -> tuple[int, int]:
    """What a reversal of ``amount_rp`` takes back from the household's account (at most
    what is available) and what it leaves owed: ``(taken, owed)``."""
    taken = min(amount_rp, max(available_rp, 0))
    return taken, amount_rp - taken


def receivable_account_id(session: Session, *, household_id: int) -> int:
    """The household's receivable account, made on first use (the caller holds the
    household's account lock, so two reversals never both make one)."""
    found = session.scalar(
        select(Receivable.account_id).where(Receivable.household_id == household_id)
    )
    if found is not None:
        return int(found)
    acc = Account(
        code=f"household:{household_id}:receivable",
        kind="asset",
        name=f"Owed by household {household_id} (piutang)",
    )
    session.add(acc)
    session.flush()
    session.add(Receivable(household_id=household_id, account_id=acc.id))
    session.flush()
    return acc.id


def owed_rp(session: Session, household_ids: Iterable[int]) -> dict[int, int]:
    """What each of ``household_ids`` owes now (0 if nothing): one grouped query per chunk."""
    out: dict[int, int] = {}
    for chunk in chunks(household_ids):
        out.update({hh: 0 for hh in chunk})
        rows = session.execute(
            select(Household.id, _owed_of(Household.id)).where(among(session, Household.id, chunk))
        )
        out.update((hh, int(total or 0)) for hh, total in rows)
    return out


def outstanding_reversals(session: Session, *, account_id: int) -> list[tuple[int, int]]:
    """The reversed weigh-ins still (partly) owed on a receivable account, oldest first:
    ``(weighin_id, rupiah still owed)``; what came down settles the oldest first."""
    rows = session.execute(
        select(JournalEntry.weighin_id, Posting.amount_rp)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .order_by(JournalEntry.id, Posting.id)
    ).all()
    settled = -sum(amt for _, amt in rows if amt < 0)
    out = []
    for weighin_id, amt in rows:
        if amt <= 0 or weighin_id is None:
            continue
        left = amt - min(amt, settled)
        settled -= amt - left
        if left:
            out.append((int(weighin_id), left))
    return out


def _against(session: Session, account_id: int, amount_rp: int) -> str:
    """``weigh-in 12`` / ``weigh-ins 12, 15``: the reversals ``amount_rp`` settles (FIFO)."""
    ids, left = [], amount_rp
    for weighin_id, owed in outstanding_reversals(session, account_id=account_id):
        if left <= 0:
            break
        ids.append(str(weighin_id))
        left -= owed
    return ("weigh-in " if len(ids) == 1 else "weigh-ins ") + ", ".join(ids)


def recover(
    session: Session, credited: Sequence[tuple[int, int]], accounts: Mapping[int, int]
) -> dict[int, int]:
    """Settle what credited households owe from what was just credited to them.

    ``credited``: ``(household_id, amount_rp)`` of the credits just posted (accounts
    locked by the caller, ``accounts`` their ids). One ``receivable_recovery`` entry per
    household that owes: household's account debited, receivable credited, by
    ``min(owed, credited)``. Returns each credited household's balance once settled (the
    balance its credit notices tell, exact under the lock). One query when nobody owes
    (the common case): what each owes and its balance after the credits together.
    """
    per_household: dict[int, int] = {}
    for hh, amount in credited:
        per_household[hh] = per_household.get(hh, 0) + amount
    balances: dict[int, int] = {}
    owing: dict[int, int] = {}
    for chunk in chunks(per_household):
        for hh, posted, owed in session.execute(_BALANCES_OWED(session), {"keys": chunk}):
            balances[hh] = -int(posted or 0)
            if owed and owed > 0:
                owing[hh] = int(owed)
    for hh in sorted(owing):
        take = min(owing[hh], per_household[hh])
        if take <= 0:
            continue
        rec_acc = receivable_account_id(session, household_id=hh)
        post_entry(
            session,
            kind=RECOVERY,
            description=f"recovered against reversal of {_against(session, rec_acc, take)}",
            postings=[(accounts[hh], take), (rec_acc, -take)],
        )
        balances[hh] -= take  # the recovery debits the household's account
    return balances


def _owed_of(hh: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[Any]:
    """What household ``hh`` owes (a column), as a scalar subquery (:func:`owed_rp`)."""
    return (
        select(func.coalesce(func.sum(Posting.amount_rp), 0))
        .join(Receivable, Receivable.account_id == Posting.account_id)
        .where(Receivable.household_id == hh)
        .scalar_subquery()
    )


#: each household's postings' sum (its balance negated) and what it owes (:func:`recover`)
_BALANCES_OWED = Prepared(
    lambda keys: select(Household.id, posted_rp(Household.id), _owed_of(Household.id)).where(
        keys(Household.id)
    )
)


def _bring_down(
    session: Session,
    *,
    household_id: int,
    amount_rp: int,
    by: str,
    kind: str,
    to_account: str,
    says: str,
    tail: str,
    action: str,
    noted: dict[str, object],
) -> JournalEntry:
    """One entry that takes ``amount_rp`` off what the household owes (at most that),
    against the programme account ``to_account``, with its audit row; its description
    is ``says`` + the reversals it settles + ``tail``."""
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"unknown household {household_id}")
    if not 0 < amount_rp <= MAX_RP:
        raise ReceivableError(f"amount must be 1..{MAX_RP} rupiah", field="amount_rp")
    lock_household_account(session, household_id=household_id)
    owed = owed_rp(session, [household_id])[household_id]
    if amount_rp > owed:
        raise ReceivableError(
            f"household {household_id} owes Rp {owed}, not Rp {amount_rp}", field="amount_rp"
        )
    rec_acc = receivable_account_id(session, household_id=household_id)
    entry = post_entry(
        session,
        kind=kind,
        description=f"{says} {_against(session, rec_acc, amount_rp)}{tail}",
        postings=[(programme_account(session, to_account).id, amount_rp), (rec_acc, -amount_rp)],
        by=by,
    )
    audit.record(
        session,
        actor=by,
        action=action,
        subject=f"household:{household_id}",
        before={"owed_rp": owed},
        after={"owed_rp": owed - amount_rp, "amount_rp": amount_rp, "entry_id": entry.id, **noted},
        site_id=hh.site_id,
    )
    return entry


def repay(
    session: Session, *, household_id: int, amount_rp: int, by: str, note: str | None = None
) -> JournalEntry:
    """Cash repaid at the counter: into the site's cash box (open day), off what is owed."""
    cashbox.ensure_open_for_cash(session, household_id=household_id, at=utcnow())
    return _bring_down(
        session,
        household_id=household_id,
        amount_rp=amount_rp,
        by=by,
        kind=REPAYMENT,
        to_account=CASH_ACCOUNT,
        says="cash repaid against reversal of",
        tail=f": {note}" if note else "",
        action="receivable.repay",
        noted={"note": note},
    )


def write_off(
    session: Session, *, household_id: int, amount_rp: int, reason: str, by: str
) -> JournalEntry:
    """Give up (part of) what a household owes: an expense of the programme, audited."""
    if not reason.strip():
        raise ReceivableError("a write-off needs a reason", field="reason")
    return _bring_down(
        session,
        household_id=household_id,
        amount_rp=amount_rp,
        by=by,
        kind=WRITE_OFF,
        to_account=WRITTEN_OFF_ACCOUNT,
        says="written off against reversal of",
        tail=f": {reason.strip()}",
        action="receivable.write_off",
        noted={"reason": reason},
    )


@dataclass(frozen=True, slots=True)
class Owed:
    """One household that owes the programme: how much and for which reversals."""

    household_id: int
    member_no: str
    name: str
    site_id: int | None
    owed_rp: int
    since: datetime
    reversals: list[tuple[int, int]]


def open_receivables(
    session: Session, *, limit: int, household_id: int | None = None
) -> list[Owed]:
    """Households that owe (largest first); the caller's session scopes them (an API
    session sees its site's only, :mod:`cloud.api.scope`)."""
    owed = func.coalesce(func.sum(Posting.amount_rp), 0)
    q = (
        select(Receivable, Household, owed)
        .join(Household, Household.id == Receivable.household_id)
        .join(Posting, Posting.account_id == Receivable.account_id)
        .group_by(Receivable.id, Household.id)
        .having(owed > 0)
        .order_by(owed.desc(), Receivable.id)
        .limit(limit)
    )
    if household_id is not None:
        q = q.where(Receivable.household_id == household_id)
    return [
        Owed(
            household_id=hh.id,
            member_no=hh.member_no,
            name=hh.name,
            site_id=hh.site_id,
            owed_rp=int(total),
            since=r.created_at,
            reversals=outstanding_reversals(session, account_id=r.account_id),
        )
        for r, hh, total in session.execute(q)
    ]
