"""The API's people: staff users (by role), household PINs, sessions, login throttle.

Households log in with their member number and a PIN (:class:`HouseholdPin`); everyone
else is a :class:`User` with a role. Passwords and PINs are stored as argon2id hashes
only. Each carries a ``token_version`` that every token names: bumping it (new password
or PIN, role or site changed, deactivated) ends every token of that subject at once.
A login opens an :class:`AuthSession` (its refresh token's hash, rotated at each use);
:class:`StreamTicket` holds the single-use tickets that open the live stream.
:class:`LoginThrottle` counts failed logins per key (account, address, ...) so every API
worker answers 429 with ``Retry-After`` alike (:mod:`cloud.throttle`).
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
    #: named by every token; bumped to end them all (see :mod:`cloud.tokens`)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
    #: the household's token version (see :attr:`User.token_version`)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuthSession(Base):
    """One login: its refresh token (hash of the current secret) and whether it ended."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: ``user:<id>`` | ``household:<id>``
    subject: Mapped[str] = mapped_column(String(40), index=True)
    #: the subject's token version when the session started
    token_version: Mapped[int] = mapped_column(Integer)
    refresh_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class StreamTicket(Base):
    """A single-use ticket for the live stream (deleted when redeemed)."""

    __tablename__ = "stream_tickets"
    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[str] = mapped_column(String(40))
    token_version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class LoginThrottle(Base):
    """Failed logins of one ``key`` (``"<username>|<client address>"``) in a window."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
