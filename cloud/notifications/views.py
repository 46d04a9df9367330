"""What people see of notifications: a household's inbox, the operators' delivery list
and counters. Read-only except :func:`mark_read`; the API routes call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from cloud.models import Household
from cloud.models.notifications import (
    DELIVERY_STATES,
    INAPP,
    Notification,
    NotificationAttempt,
    NotificationDelivery,
)
from cloud.notifications.compose import render
from cloud.notifications.templates import TemplateError

D = NotificationDelivery
N = Notification


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    event: str
    title: str
    text: str
    at: datetime
    read: bool


def inbox(
    session: Session, *, household_id: int, tz: str, limit: int = 50, before_id: int | None = None
) -> tuple[list[InboxItem], int]:
    """A household's in-app messages, newest first, and how many are unread."""
    stmt = (
        select(D, N)
        .join(N, N.id == D.notification_id)
        .where(D.channel == INAPP, D.recipient == f"household:{household_id}")
        .order_by(D.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(D.id < before_id)
    items = []
    for d, n in session.execute(stmt):
        try:
            r = render(session, n, tz=tz)
            title, text = r.title, r.text
        except TemplateError:  # never hide a message because a template changed
            title, text = n.event, ""
        items.append(InboxItem(d.id, n.event, title, text, n.created_at, d.read_at is not None))
    unread = session.scalar(
        select(func.count())
        .select_from(D)
        .where(D.channel == INAPP, D.recipient == f"household:{household_id}", D.read_at.is_(None))
    )
    return items, int(unread or 0)


def mark_read(
    session: Session, *, household_id: int, ids: Sequence[int] | None, now: datetime
) -> int:
    """Mark the household's messages ``ids`` (all when None) read; how many changed."""
    stmt = update(D).where(
        D.channel == INAPP, D.recipient == f"household:{household_id}", D.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(D.id.in_(list(ids)))
    result = session.execute(stmt.values(read_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _of_site(site_id: int) -> ColumnElement[bool]:
    """Notifications of a site: its own, or of its households."""
    return or_(
        N.site_id == site_id,
        N.household_id.in_(select(Household.id).where(Household.site_id == site_id)),
    )


def deliveries(
    session: Session,
    *,
    site_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    event: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[tuple[NotificationDelivery, Notification]]:
    """Deliveries (newest first) for the operator view, optionally one site's."""
    stmt = select(D, N).join(N, N.id == D.notification_id).order_by(D.id.desc()).limit(limit)
    if site_id is not None:
        stmt = stmt.where(_of_site(site_id))
    if status is not None:
        stmt = stmt.where(D.status == status)
    if channel is not None:
        stmt = stmt.where(D.channel == channel)
    if event is not None:
        stmt = stmt.where(N.event == event)
    if before_id is not None:
        stmt = stmt.where(D.id < before_id)
    return list(session.execute(stmt))


def delivery_of(
    session: Session, *, delivery_id: int, site_id: int | None = None
) -> tuple[NotificationDelivery, Notification] | None:
    stmt = select(D, N).join(N, N.id == D.notification_id).where(D.id == delivery_id)
    if site_id is not None:
        stmt = stmt.where(_of_site(site_id))
    row = session.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def attempts(session: Session, *, delivery_id: int) -> list[NotificationAttempt]:
    return list(
        session.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.delivery_id == delivery_id)
            .order_by(NotificationAttempt.id)
        )
    )


def counters(
    session: Session, *, now: datetime, site_id: int | None = None
) -> dict[str, dict[str, int]]:
    """Per channel: deliveries in each state, and ``sent_24h`` / ``dead_24h``."""
    base = select(D.channel, D.status, func.count()).join(N, N.id == D.notification_id)
    if site_id is not None:
        base = base.where(_of_site(site_id))
    out: dict[str, dict[str, int]] = {}
    for channel, status, count in session.execute(base.group_by(D.channel, D.status)):
        row = out.setdefault(channel, {s: 0 for s in DELIVERY_STATES})
        row[status] = int(count)
    since = now - timedelta(hours=24)
    recent = base.where(
        or_(
            and_(D.status == "sent", D.sent_at >= since),
            and_(D.status == "dead", D.created_at >= since),
        )
    ).group_by(D.channel, D.status)
    for row in out.values():
        row["sent_24h"] = row["dead_24h"] = 0
    for channel, status, count in session.execute(recent):
        out[channel][f"{status}_24h"] = int(count)
    return out
