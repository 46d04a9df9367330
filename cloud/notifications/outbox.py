"""Writing the notification outbox: :func:`enqueue` (one) and :func:`enqueue_many` (a batch).

Call them inside the transaction of the event they tell of — a credit, a reversal, a
payout, a pickup — and let the caller commit: the event and its notifications are then
stored together or not at all. Nothing is rendered or sent here; the sender does that.

Idempotent on ``key``: a key seen before (the same weigh-in delivered three times, a
retried request) adds nothing (``INSERT .. ON CONFLICT DO NOTHING`` on the unique key,
so two workers racing on the same event cannot both add one either).

A batch costs a fixed number of statements (channel registry, the households with their
preferences, :func:`cloud.notifications.preferences.recipients`, one insert per table,
:func:`cloud.bulk.insert_rows`), so crediting 2,000 weigh-ins adds four statements, not
2,000.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.bulk import insert_rows
from cloud.models import utcnow
from cloud.models.notifications import INAPP, Notification, NotificationDelivery
from cloud.notifications.preferences import (
    channel_registry,
    default_channels,
    household_channels,
    recipients,
)
from cloud.notifications.templates import event_audience


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event to tell: to a household, or (``household_id=None``) to operators."""

    event: str
    #: idempotency key: the same key never makes a second notification
    key: str
    data: Mapping[str, Any] = field(default_factory=dict)
    household_id: int | None = None
    #: the site concerned (operators of that site; a household's site for display)
    site_id: int | None = None


def enqueue(
    session: Session,
    event: str,
    *,
    key: str,
    data: Mapping[str, Any],
    household_id: int | None = None,
    site_id: int | None = None,
    at: datetime | None = None,
) -> int | None:
    """Record one notification; its id, or None when ``key`` was recorded before."""
    out = Outgoing(event, key, data, household_id, site_id)
    return enqueue_many(session, [out], at=at)[0]


def enqueue_many(
    session: Session, items: Sequence[Outgoing], *, at: datetime | None = None
) -> list[int | None]:
    """Record notifications (ids in the order of ``items``; None for known keys).

    Writes in the caller's transaction and never commits. ``ValueError`` for an
    unknown event or a household event without a household.
    """
    if not items:
        return []
    now = at or utcnow()
    for it in items:
        audience = event_audience(it.event)  # TemplateError (a ValueError) if unknown
        if (audience == "household") != (it.household_id is not None):
            raise ValueError(f"{it.event} is for {audience}; household_id is {it.household_id}")
        if not it.key or len(it.key) > 200:
            raise ValueError("a notification key is 1 to 200 characters")
    registry = channel_registry(session)
    hh_ids = {it.household_id for it in items if it.household_id is not None}
    prefs, phones = recipients(session, hh_ids)
    ops_channels = [INAPP, *sorted(n for n, c in registry.items() if c.operators)]
    home_channels = default_channels(registry)  # a household without preferences: once

    rows: list[dict[str, Any]] = []
    plans: dict[str, tuple[str, list[str]]] = {}  # key -> (recipient, channels)
    seen: set[str] = set()
    for it in items:
        if it.key in seen:  # the first occurrence of a key wins
            continue
        seen.add(it.key)
        suppressed: str | None = None
        if it.household_id is not None:
            pref = prefs.get(it.household_id)
            phone, active = phones.get(it.household_id, (None, False))
            channels = household_channels(pref, registry) if pref is not None else home_channels
            # a channel that needs an address the household lacks is left out
            contacts = (pref.contacts if pref is not None else None) or {}
            channels = [
                c
                for c in channels
                if c == INAPP or not registry[c].needs_address or phone or contacts.get(c)
            ]
            if not active:
                suppressed, channels = "inactive", []
            elif pref is not None and pref.opt_out:
                suppressed = "opted_out"
            elif not channels:
                suppressed = "no_channel"
            lang = pref.lang if pref is not None else "id"
            recipient = f"household:{it.household_id}"
        else:
            channels, lang = ops_channels, "id"
            recipient = f"operators:site:{it.site_id}" if it.site_id else "operators"
        rows.append(
            {
                "key": it.key,
                "event": it.event,
                "audience": "household" if it.household_id is not None else "operators",
                "household_id": it.household_id,
                "site_id": it.site_id,
                "role": None if it.household_id is not None else "operator",
                "lang": lang,
                "data": dict(it.data),
                "created_at": now,
                "suppressed": suppressed,
            }
        )
        plans[it.key] = (recipient, channels)

    inserted = dict(
        insert_rows(
            session, Notification, rows, returning=("key", "id"), skip_conflicts_on=("key",)
        )
    )
    deliveries = [
        {
            "notification_id": nid,
            "channel": channel,
            "recipient": plans[key][0],
            "status": "sent" if channel == INAPP else "pending",
            "attempts": 0,
            "resends": 0,
            "next_attempt_at": now,
            "created_at": now,
            "sent_at": now if channel == INAPP else None,
        }
        for key, nid in inserted.items()
        for channel in plans[key][1]
    ]
    insert_rows(session, NotificationDelivery, deliveries)
    return [inserted.get(it.key) for it in items]
