"""Payouts (cash withdrawals at the waste bank) and stored idempotent responses.

A payout moves through ``requested -> approved -> paid`` (or ``rejected`` /
``cancelled``). Only ``paid`` posts to the ledger (one journal entry, ``entry_id``);
while requested or approved its amount is *held*: the available balance is the ledger
balance minus the held amounts, and no payout may exceed it.

:class:`IdempotencyRecord` keeps the response of every money-moving POST by
``(principal, key)`` so a retried request gets the same answer, never a second effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

PAYOUT_STATES = ("requested", "approved", "paid", "rejected", "cancelled")
#: states whose amount is held against the balance
HELD_PAYOUT_STATES = ("requested", "approved")


class Payout(Base):
    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    amount_rp: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str | None] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    requested_by: Mapped[str] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    paid_by: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(300))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    __table_args__ = (
        CheckConstraint("amount_rp > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('requested', 'approved', 'paid', 'rejected', 'cancelled')",
            name="status_known",
        ),
    )


class IdempotencyRecord(Base):
    """The stored answer to one money-moving request (``Idempotency-Key`` header)."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),)


class Receivable(Base):
    """What a household owes the programme: the link from a household to its receivable
    account (an asset of the programme, :mod:`cloud.receivables`).

    One row per household that ever owed anything, made by the first reversal of money
    it had already spent or that pending payouts held. What it owes now is the sum of
    that account's postings (the ledger is the one balance; this row stores no amount).
    """

    __tablename__ = "receivables"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
