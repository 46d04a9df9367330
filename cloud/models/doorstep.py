"""JEKNYONG: pickups at the door — collectors' settings and phones, completions with their
weigh-ins, and the route plans of a site.

A doorstep weigh-in is a row of ``weighins`` like a station's (credited through
:mod:`cloud.crediting`); :class:`DoorstepWeighin` keeps what a station's row does not
say: who weighed it, with which phone, and whether the weight was typed or read from a
scale. :class:`DoorstepCompletion` is one completion of a household's pickup as the
collector's phone sent it, keyed by the event id the phone made (a replay finds it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

PAYMENTS = ("savings", "cash")
ENTRIES = ("typed", "scale")


class CollectorProfile(Base):
    """A collector's motorbike and shift: what the route planner needs of them."""

    __tablename__ = "collector_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    #: the waste bank the collector rides from (the depot of its routes)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    #: what the box may carry: grams, and its volume (None = volume not limiting)
    capacity_g: Mapped[int] = mapped_column(BigInteger, default=60_000)
    capacity_ml: Mapped[int | None] = mapped_column(BigInteger)
    #: the shift: local start "HH:MM" (the site's time zone) and its length
    shift_start: Mapped[str] = mapped_column(String(5), default="08:00")
    shift_hours: Mapped[float] = mapped_column(Float, default=8.0)
    #: may empty the site's full bins (they become stops of its routes)
    empties_bins: Mapped[bool] = mapped_column(Boolean, default=False)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    #: when the collector last unloaded at the depot (the box counts from then)
    unloaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        CheckConstraint("capacity_g > 0", name="capacity_positive"),
        CheckConstraint("shift_hours > 0 AND shift_hours <= 24", name="shift_hours_range"),
    )


class CollectorPhone(Base):
    """A phone's own id (made on the phone), bound to the collector who first used it.

    Doorstep event ids are ``{phone_id}:{seq}``; binding a phone to one collector keeps
    a collector from sending event ids in another's name.
    """

    __tablename__ = "collector_phones"
    phone_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(200))


class DoorstepCompletion(Base):
    """One completion of a household's pickup, as the collector's phone sent it."""

    __tablename__ = "doorstep_completions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the phone's event id of the completion (``{phone_id}:{seq}``): a replay finds it
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    pickup_id: Mapped[int] = mapped_column(ForeignKey("pickups.id"), unique=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    phone_id: Mapped[str] = mapped_column(String(48))
    #: sha256 of the completion as sent (a reused event id with other content is refused)
    body_sha256: Mapped[str] = mapped_column(String(64))
    #: the phone's clock when it was completed, and whether it agreed with the server's
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    clock_synced: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    payment: Mapped[str] = mapped_column(String(10))
    total_g: Mapped[int] = mapped_column(BigInteger)
    #: rupiah credited by its weigh-ins, and paid in cash at the door (from the float)
    total_rp: Mapped[int] = mapped_column(BigInteger)
    cash_rp: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        CheckConstraint("payment IN ('savings', 'cash')", name="payment_known"),
        CheckConstraint("cash_rp >= 0 AND cash_rp <= total_rp", name="cash_within_credit"),
    )


class DoorstepWeighin(Base):
    """Provenance of a weigh-in at the door (the ``weighins`` row holds the money side)."""

    __tablename__ = "doorstep_weighins"
    weighin_id: Mapped[int] = mapped_column(ForeignKey("weighins.id"), primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("doorstep_completions.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    #: who weighed and with which phone (the weigh-in's device_id is the phone too)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    phone_id: Mapped[str] = mapped_column(String(48))
    #: "typed" (the collector typed what a hanging scale showed) or "scale" (read by the
    #: phone from a scale over Web Serial / Web Bluetooth); neither is legal-for-trade
    entry: Mapped[str] = mapped_column(String(10))
    #: the scale as the phone named it (e.g. "web-serial 0403:6001"), when read
    scale: Mapped[str | None] = mapped_column(String(60))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (CheckConstraint("entry IN ('typed', 'scale')", name="entry_known"),)


class DoorstepPhoto(Base):
    """A photo the collector took of a weighed bag (optional; a few hundred kB at most)."""

    __tablename__ = "doorstep_photos"
    weighin_id: Mapped[int] = mapped_column(ForeignKey("weighins.id"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RoutePlan(Base):
    """A site's planned routes (the newest is in force); ``plan`` is what was shown."""

    __tablename__ = "route_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: why it was made: manual | changed | late | first
    reason: Mapped[str] = mapped_column(String(20))
    #: the stops and collectors it was made for (a different board makes a new plan)
    fingerprint: Mapped[str] = mapped_column(String(64))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    matrix_source: Mapped[str] = mapped_column(String(200))
    solve_s: Mapped[float] = mapped_column(Float)
