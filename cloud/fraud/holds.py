"""Payout holds: a household whose fraud case was confirmed gets no payout until released.

:func:`refuse_if_held` is what :mod:`cloud.payouts` calls after taking the household's
account lock; :func:`cloud.fraud.cases.confirm_case` takes the same lock before it puts
a hold, so a payout being paid and a confirmation never interleave.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError, NotFound
from cloud.models import utcnow
from cloud.models.fraud import PayoutHold


class PayoutsHeld(LedgerError):
    """The household's payouts are held by a confirmed fraud case."""

    def __init__(self, hold: PayoutHold) -> None:
        super().__init__(
            f"payouts of household {hold.household_id} are held: fraud case {hold.case_id} "
            f"was confirmed by {hold.held_by}; an administrator can release the hold"
        )
        self.hold_id = hold.id
        self.case_id = hold.case_id


def active_hold(session: Session, *, household_id: int) -> PayoutHold | None:
    """The household's oldest hold not released yet, or None."""
    return session.scalar(
        select(PayoutHold)
        .where(PayoutHold.household_id == household_id, PayoutHold.released_at.is_(None))
        .order_by(PayoutHold.id)
        .limit(1)
    )


def refuse_if_held(session: Session, *, household_id: int) -> None:
    """Raise :class:`PayoutsHeld` while the household has an active hold."""
    hold = active_hold(session, household_id=household_id)
    if hold is not None:
        raise PayoutsHeld(hold)


def release_hold(session: Session, *, hold_id: int, note: str, by: str) -> PayoutHold:
    """End a hold (with a note); payouts are possible again if no other hold remains."""
    hold = session.scalar(select(PayoutHold).where(PayoutHold.id == hold_id).with_for_update())
    if hold is None:
        raise NotFound(f"unknown payout hold {hold_id}")
    if hold.released_at is not None:
        raise LedgerError(f"payout hold {hold_id} was released already")
    if len(note.strip()) < 3:
        raise LedgerError("releasing a hold needs a note")
    hold.released_at, hold.released_by, hold.release_note = utcnow(), by, note.strip()[:300]
    session.flush()
    return hold
