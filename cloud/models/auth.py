"""The API's people: staff users (by role), household PINs, login throttle.

Households log in with their member number and a PIN (:class:`HouseholdPin`); everyone
else is a :class:`User` with a role. Passwords and PINs are stored as argon2id hashes
only. :class:`LoginThrottle` counts failed logins per (username, client address) so the
API can answer 429 with ``Retry-After`` across several API workers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

#: staff roles: ``admin`` (programme-wide, everything), ``operator`` (one site's daily
#: work), ``cashier`` (one site's counter: payouts), ``collector`` (its own pickups),
#: ``auditor`` (programme-wide, reads everything, never writes)
USER_ROLES = ("admin", "operator", "cashier", "collector", "auditor")
#: roles that belong to one site (``users.site_id`` set); the others span every site
SITE_USER_ROLES = ("operator", "cashier", "collector")


class User(Base):
    """A person who logs in with a username and password."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'operator', 'cashier', 'collector', 'auditor')", name="role_known"
        ),
    )


class HouseholdPin(Base):
    """The PIN a household logs in with (one per household; replaced, never listed)."""

    __tablename__ = "household_pins"
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    set_by: Mapped[str | None] = mapped_column(String(80))


class LoginThrottle(Base):
    """Failed logins of one ``key`` (``"<username>|<client address>"``) in a window."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
