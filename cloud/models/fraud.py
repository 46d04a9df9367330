"""Fraud signals: the rules (data), the cases they raise, and payout holds.

A :class:`FraudRule` row holds one rule's parameters (its threshold and window) and its
plain explanation in Indonesian and English; the code of each rule only says how to
compute its figure (:mod:`cloud.fraud.detectors`). A :class:`FraudCase` is a hit for an
operator to review: dismissed with a note, or confirmed — which, for a household, puts
a :class:`PayoutHold` on it (:mod:`cloud.payouts` refuses payouts while one is active).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

CASE_STATES = ("open", "dismissed", "confirmed")


class FraudRule(Base):
    __tablename__ = "fraud_rules"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the rule's thresholds and windows, e.g. {"minutes": 30}
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    explanation_id: Mapped[str] = mapped_column(Text)
    explanation_en: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))


class FraudCase(Base):
    """One rule's hits on one subject over consecutive local days."""

    __tablename__ = "fraud_cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_code: Mapped[str] = mapped_column(ForeignKey("fraud_rules.code"))
    #: household | card | station | collector
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_key: Mapped[str] = mapped_column(String(80))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    hits: Mapped[int] = mapped_column(Integer, default=1)
    #: the figures behind the hits (the latest hit's, plus the worst seen)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        # two scans at once cannot both open a case for the same first hit
        UniqueConstraint(
            "rule_code",
            "subject_kind",
            "subject_key",
            "first_day",
            name="uq_fraud_cases_rule_subject_day",
        ),
        Index("ix_fraud_cases_subject", "rule_code", "subject_kind", "subject_key"),
        CheckConstraint("status IN ('open', 'dismissed', 'confirmed')", name="status_known"),
        CheckConstraint("first_day <= last_day", name="days_ordered"),
    )


class PayoutHold(Base):
    """Payouts of a household held because a case against it was confirmed."""

    __tablename__ = "payout_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("fraud_cases.id"), unique=True)
    held_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    held_by: Mapped[str] = mapped_column(String(80))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(80))
    release_note: Mapped[str | None] = mapped_column(String(300))
