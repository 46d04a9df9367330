"""An operator's corrections of weigh-ins: assign an unassigned one, reverse a credit.

Both move money through the crediting path's own posting step
(:func:`cloud.crediting.post_credits`, the entry a station's credit gets) or a
reversing entry (:func:`cloud.postings.post_entry`) — never by editing a posting. Both
lock the weigh-in row first, then the household's account (the lock order of
:mod:`cloud.postings`), so two operators cannot both act on one weigh-in and a payout
of that household waits for the correction and sees it. Flush, never commit.

No balance goes below zero through a correction: a reversal takes back from the
household's account only what it has available (its balance less what payouts hold);
the part already spent or held becomes a receivable, in the same entry — money the
household owes the programme, recovered from its next credits (:mod:`cloud.receivables`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.crediting import Credit, credit_description, credit_facts, post_credits
from cloud.errors import LedgerError, NotFound
from cloud.models import Household, JournalEntry, Posting, WeighinRecord, utcnow
from cloud.notifications.events import weighin_reversed, weighins_credited
from cloud.postings import funds, lock_household_account, post_entry
from cloud.receivables import receivable_account_id, split_reversal
from cloud.stock import reversal_out_of_stock, weighin_into_stock
from contract import ReceiptStatus


def get_weighin(session: Session, *, weighin_id: int) -> WeighinRecord:
    rec = session.get(WeighinRecord, weighin_id)
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    return rec


def unassigned_weighins(session: Session, *, limit: int = 100) -> list[WeighinRecord]:
    """Weigh-ins kept for an operator to assign (unknown or missing card), oldest first."""
    return list(
        session.scalars(
            select(WeighinRecord)
            .where(WeighinRecord.status == ReceiptStatus.UNASSIGNED.value)
            .order_by(WeighinRecord.id)
            .limit(limit)
        )
    )


def _locked_weighin(session: Session, weighin_id: int) -> WeighinRecord:
    rec = session.scalar(
        select(WeighinRecord).where(WeighinRecord.id == weighin_id).with_for_update()
    )
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    return rec


def assign_weighin(
    session: Session, *, weighin_id: int, household_id: int, by: str
) -> WeighinRecord:
    """Credit an unassigned weigh-in to a household (at its stored price snapshot)."""
    rec = _locked_weighin(session, weighin_id)
    if rec.status != ReceiptStatus.UNASSIGNED.value:
        raise LedgerError(f"weigh-in {weighin_id} is {rec.status}, not unassigned")
    if rec.price_rp_per_kg is None:
        raise LedgerError(f"weigh-in {weighin_id} has no price")
    hh = session.get(Household, household_id)
    if hh is None or not hh.active:
        raise NotFound(f"unknown or inactive household {household_id}")
    account_id = lock_household_account(session, household_id=household_id)
    rec.status = ReceiptStatus.CREDITED.value
    rec.household_id = household_id
    rec.assigned_at = utcnow()
    rec.assigned_by = by
    session.flush()
    if rec.amount_rp > 0:
        credit = Credit(
            rec.id,
            household_id,
            rec.amount_rp,
            credit_description(rec.net_g, rec.category_code, rec.price_rp_per_kg, rec.event_id),
            rec.effective_at,
        )
        posted = post_credits(session, [credit], {household_id: account_id})
        rec.entry_id = posted.entry_ids[rec.id]
        weighins_credited(session, [credit_facts(rec)], posted.balances)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="weighin.assign",
        subject=f"weighin:{rec.id}",
        before={"status": ReceiptStatus.UNASSIGNED.value, "household_id": None},
        after={"status": rec.status, "household_id": household_id, "amount_rp": rec.amount_rp},
        site_id=rec.site_id,
    )
    weighin_into_stock(session, rec)  # a station's kilos enter stock once credited
    return rec


def reverse_weighin(session: Session, *, weighin_id: int, reason: str, by: str) -> JournalEntry:
    """Reverse a credited weigh-in with a reversing entry (the original stays).

    The household gives back what it has available; the rest (spent or held for a
    payout) is posted, in the same entry, to its receivable (:mod:`cloud.receivables`).
    """
    rec = _locked_weighin(session, weighin_id)
    if rec.entry_id is None:
        raise LedgerError(f"weigh-in {weighin_id} has no credit to reverse")
    if rec.reversal_entry_id is not None:
        raise LedgerError(f"weigh-in {weighin_id} is already reversed")
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    postings: list[tuple[int, int]] = [
        (p.account_id, -p.amount_rp)
        for p in session.scalars(select(Posting).where(Posting.entry_id == rec.entry_id))
    ]
    owed = 0
    if rec.household_id is not None:
        account_id = lock_household_account(session, household_id=rec.household_id)
        # the account is locked: no payout or credit of this household moves meanwhile;
        # what is not available (spent, or held for a payout) is owed, never overdrawn
        available = funds(session, household_id=rec.household_id).available_rp
        taken, owed = split_reversal(rec.amount_rp, available)
        if owed:
            receivable = receivable_account_id(session, household_id=rec.household_id)
            postings = [(a, amt) for a, amt in postings if a != account_id]
            postings += [(account_id, taken)] if taken else []
            postings.append((receivable, owed))
    entry = post_entry(
        session,
        kind="reversal",
        description=f"reversal of weigh-in {rec.event_id}: {reason}",
        postings=postings,
        by=by,
        weighin_id=rec.id,
        reverses_entry_id=rec.entry_id,
    )
    rec.reversal_entry_id = entry.id
    session.flush()
    weighin_reversed(session, rec, reason=reason)
    audit.record(
        session,
        actor=by,
        action="weighin.reverse",
        subject=f"weighin:{rec.id}",
        before={"reversal_entry_id": None},
        after={
            "reversal_entry_id": entry.id,
            "amount_rp": rec.amount_rp,
            "household_id": rec.household_id,
            "owed_rp": owed,
            "reason": reason,
        },
        site_id=rec.site_id,
    )
    reversal_out_of_stock(session, weighin_id=rec.id, at=entry.effective_at, by=by)
    return entry
