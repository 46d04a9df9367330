"""Payouts that leave by bank transfer or through a payment provider (e-wallet, bills).

A :class:`Disbursement` belongs to one approved payout and says where the money goes.
The payout is paid (posted to the ledger) only when the transfer is confirmed: the
bank's batch marked executed, or the provider's callback saying it succeeded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

DISBURSEMENT_METHODS = ("bank", "ewallet", "bill")
DISBURSEMENT_STATES = ("pending", "sent", "succeeded", "failed")


class DisbursementBatch(Base):
    """A bank transfer file made of several bank disbursements."""

    __tablename__ = "disbursement_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_format: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    settled_by: Mapped[str | None] = mapped_column(String(80))
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("status IN ('generated', 'settled')", name="status_known"),)


class Disbursement(Base):
    __tablename__ = "disbursements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    #: bank code (``008`` Mandiri), wallet (``dana``/``gopay``/``ovo``) or biller (``pln``)
    provider: Mapped[str] = mapped_column(String(40))
    #: account number, wallet phone (E.164) or customer number
    account: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: what the provider dedupes on: one transfer per payout, however often it is sent
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("disbursement_batches.id"))
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failure: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        CheckConstraint("method IN ('bank', 'ewallet', 'bill')", name="method_known"),
        CheckConstraint(
            "status IN ('pending', 'sent', 'succeeded', 'failed')", name="status_known"
        ),
    )
