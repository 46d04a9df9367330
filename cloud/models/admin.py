"""Tables of programme administration: price changes awaiting a second person, household
self-registration requests, card enrolment at a station, one-time device config links,
and each site's cash box per day.

Every state change of these rows is an operator action and is audited by the domain
function that makes it (:mod:`cloud.audit`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow


class PriceChange(Base):
    """A proposed price version; it becomes a :class:`~cloud.models.Price` only when a
    second person approves it. ``effective_from`` None: in force from the approval."""

    __tablename__ = "price_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_categories.code"), index=True)
    rp_per_kg: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), index=True)
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(300))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(String(300))
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))

    __table_args__ = (
        CheckConstraint("rp_per_kg >= 0", name="rp_per_kg_nonneg"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled')", name="status_known"
        ),
    )


class RegistrationRequest(Base):
    """A household's request to join, from the public household page; an operator
    approves it (creating the household) or rejects it."""

    __tablename__ = "registration_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: argon2 hash of the PIN the requester chose (becomes the household's PIN)
    pin_hash: Mapped[str] = mapped_column(String(200))
    #: sha256 of the reference the requester keeps to look the request up
    ref_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: sha256 of the requester's network address (a cap per address, nothing more)
    client_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(String(300))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
    )


class CardEnrolment(Base):
    """A station put in "enrol" mode for one household: the first weigh-in there with an
    unknown card links that card to the household and is credited to it."""

    __tablename__ = "card_enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    card_id: Mapped[str | None] = mapped_column(String(64))
    weighin_id: Mapped[int | None] = mapped_column(ForeignKey("weighins.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting', 'enrolled', 'cancelled', 'expired')", name="status_known"
        ),
        Index(
            "uq_card_enrolments_waiting_device",
            "device_id",
            unique=True,
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
    )


class DeviceConfigLink(Base):
    """A one-time link to a device's configuration file (the Pi downloads it once).

    Only the sha256 of the link's token is kept; the device's broker password is made
    when the link is used, so no password is ever stored.
    """

    __tablename__ = "device_config_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CashDay(Base):
    """One site's cash box on one local day: opened with a float, closed with a count."""

    __tablename__ = "cash_days"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    opening_float_rp: Mapped[int] = mapped_column(BigInteger)
    opened_by: Mapped[str] = mapped_column(String(80))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expected_rp: Mapped[int | None] = mapped_column(BigInteger)
    counted_rp: Mapped[int | None] = mapped_column(BigInteger)
    difference_rp: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(300))
    closed_by: Mapped[str | None] = mapped_column(String(80))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("site_id", "day"),
        CheckConstraint("status IN ('open', 'closed')", name="status_known"),
        CheckConstraint("opening_float_rp >= 0", name="float_nonneg"),
    )


class CashMovement(Base):
    """Cash into or out of a site's box other than payouts (sales, top-ups, deposits)."""

    __tablename__ = "cash_movements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: signed: positive = into the box, negative = out of it
    amount_rp: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(300))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount_rp <> 0", name="amount_nonzero"),
        CheckConstraint("kind IN ('sale', 'top_up', 'bank_deposit', 'other')", name="kind_known"),
    )
