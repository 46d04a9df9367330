"""Notification outbox: what to tell whom, on which channels, and what became of it.

- :class:`Notification` — one event told to one recipient (a household, or the operators
  of a site), written in the same transaction as the event (a credit, a reversal, a
  payout, a pickup). ``key`` is the idempotency key: the same event never makes two.
- :class:`NotificationDelivery` — that notification on one channel (``inapp``, ``sms``,
  ``whatsapp``, ...): the unit the sender claims, sends, retries and finally marks
  ``sent`` or ``dead``. An in-app delivery is ``sent`` when written (the inbox *is* the
  channel) and carries ``read_at``.
- :class:`NotificationAttempt` — every try, with its outcome (and every operator resend).
- :class:`NotificationPreference` — a household's channels, language, quiet hours and
  opt-out (no row: the defaults).
- :class:`NotificationChannel` — the channels a sender has configured (it registers
  them at start), so :func:`cloud.notifications.enqueue` knows which exist.

Delivery states::

    pending --claim--> sending --ok--> sent
       ^                  |  \\--handed to a gateway (SMS: Gammu's outbox)--> queued --> sent
       +---- backoff -----+                                                    |
       |                  \\--N tries / permanent error--> dead <--------------+ (failed)
       +--- operator resend (dead, sent) --+
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

DELIVERY_STATES = ("pending", "sending", "queued", "sent", "dead")
#: states a delivery is still on its way in (it blocks later ones to the same recipient)
IN_FLIGHT_STATES = ("pending", "sending")
INAPP = "inapp"


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: idempotency key, e.g. ``weighin_credited:st-1:7:household:12``
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    #: ``household`` | ``operators``
    audience: Mapped[str] = mapped_column(String(12))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    #: for ``operators``: the staff role told (``operator``)
    role: Mapped[str | None] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(2), default="id")
    #: template values (amounts in rupiah, weights in grams, ids); rendered when sent
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    #: why no delivery was made (``opted_out``, ``no_channel``), else None
    suppressed: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("audience IN ('household', 'operators')", name="audience_known"),
    )


class NotificationDelivery(Base):
    __tablename__ = "notification_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    #: who, for ordering: ``household:12`` or ``operators:site:3`` (resolved when sent)
    recipient: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: operator resends so far (part of the idempotency key a gateway sees)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the gateway's id of the message (Gammu: its outbox ``ID``)
    external_id: Mapped[str | None] = mapped_column(String(80))
    #: the text as sent (the last attempt), for the operator view
    body: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_order", "channel", "recipient", "status"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'queued', 'sent', 'dead')", name="status_known"
        ),
    )


class NotificationAttempt(Base):
    __tablename__ = "notification_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: sent | queued | retry | dead | deferred | resend | interrupted (None while running)
    outcome: Mapped[str | None] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(String(300))
    #: the sender (``host:pid``) or the operator (``user:alice``) who resent
    by: Mapped[str] = mapped_column(String(80))


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    #: channel names in order of preference; ``None`` = the programme's defaults
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    lang: Mapped[str] = mapped_column(String(2), default="id")
    #: local "HH:MM" (programme time zone); both None = the programme's quiet hours
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    #: channel -> address when it is not the household's phone (e.g. an e-mail address)
    contacts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))


class NotificationChannel(Base):
    """A channel some sender serves (registered by ``salinmas notify run`` at start)."""

    __tablename__ = "notification_channels"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # gammu | apprise
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: used for households without an explicit channel list
    household_default: Mapped[bool] = mapped_column(Boolean, default=False)
    #: operator notifications go to it
    operators: Mapped[bool] = mapped_column(Boolean, default=False)
    #: needs the household's phone/contact (a group chat needs none)
    needs_address: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
