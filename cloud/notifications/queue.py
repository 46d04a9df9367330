"""The delivery queue: claim due deliveries, hand them over, record what happened.

One round of a sender (:class:`cloud.notifications.sender.Sender`) is:

1. :func:`claim` (one transaction): pick due deliveries of the channels this sender
   serves, oldest first, skipping any whose recipient has an earlier one still on its
   way on the same channel (so a household reads its messages in order); rows are locked
   with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two senders never take the same one),
   on SQLite the write lock (``BEGIN IMMEDIATE``) serialises claims. For each one:
   quiet hours defer it; a missing/invalid phone or a template error makes it dead at
   once; a **transactional** channel (Gammu) gets it written right here, in this
   transaction (``queued``); any other is marked ``sending`` under a lease and returned.
2. the sender calls the remote channels outside any transaction, then :func:`finish`
   records each outcome (only while it still holds the claim).
3. :func:`settle_queued` reads the gateways' results for ``queued`` deliveries.

A claim whose lease ran out (the sender was killed) is taken again: that attempt counts,
and the message goes out again (at least once for remote channels).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from cloud.models.notifications import (
    IN_FLIGHT_STATES,
    INAPP,
    Notification,
    NotificationAttempt,
    NotificationDelivery,
)
from cloud.notifications.channels.base import Channel, Message, Outcome
from cloud.notifications.compose import render
from cloud.notifications.phone import InvalidPhone, normalise_phone
from cloud.notifications.preferences import (
    quiet_until,
    recipients,
    window_of,
)
from cloud.notifications.templates import TemplateError, Templates, load_templates
from salinmas.formats import local_time

log = logging.getLogger(__name__)

D = NotificationDelivery


@dataclass(frozen=True, slots=True)
class Policy:
    """Retry and timing rules of a sender."""

    sender: str
    max_attempts: int = 8
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    lease_s: float = 120.0
    timezone: str = "Asia/Jakarta"
    quiet_hours: tuple[str, str] | None = ("21:00", "06:00")

    def backoff(self, attempts: int) -> timedelta:
        """Delay before try ``attempts + 1``: base * 2**(attempts-1), capped."""
        exponent = min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(self.backoff_base_s * 2**exponent, self.backoff_max_s))


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery for a remote channel, ready to send."""

    delivery_id: int
    message: Message


def _close_attempt(
    session: Session, delivery_id: int, outcome: str, error: str | None, now: datetime
) -> None:
    session.execute(
        update(NotificationAttempt)
        .where(
            NotificationAttempt.delivery_id == delivery_id,
            NotificationAttempt.finished_at.is_(None),
        )
        .values(finished_at=now, outcome=outcome, error=error)
        .execution_options(synchronize_session=False)
    )


def apply_outcome(
    session: Session,
    d: NotificationDelivery,
    outcome: Outcome,
    *,
    policy: Policy,
    now: datetime,
    body: str | None = None,
    counted: bool = True,
) -> str:
    """Move ``d`` on after a try; returns its new status. ``counted``: a new try."""
    if counted:
        d.attempts += 1
    d.claimed_by = d.claimed_until = None
    if body is not None:
        d.body = body
    if outcome.external_id is not None:
        d.external_id = outcome.external_id
    status = outcome.status
    if status == "retry" and d.attempts >= policy.max_attempts:
        status = "dead"
    if status == "sent":
        d.status, d.sent_at, d.last_error = "sent", now, None
    elif status == "queued":
        d.status, d.last_error = "queued", None
    elif status == "retry":
        d.status, d.next_attempt_at = "pending", now + policy.backoff(d.attempts)
        d.last_error = (outcome.error or "failed")[:300]
    else:
        d.status, d.last_error = "dead", (outcome.error or "failed")[:300]
    _close_attempt(session, d.id, status, outcome.error and outcome.error[:300], now)
    return d.status


def _address(
    channel: Channel,
    d: NotificationDelivery,
    n: Notification,
    phone: str | None,
    contacts: Mapping[str, str],
) -> str | None:
    """The household's address for this channel (phones normalised), or InvalidPhone."""
    if not channel.needs_address() or n.household_id is None:
        return None
    if contacts.get(d.channel):
        return contacts[d.channel]
    if phone is None:
        raise InvalidPhone("the household has no phone number")
    return normalise_phone(phone)


def claim(
    session: Session,
    *,
    channels: Mapping[str, Channel],
    policy: Policy,
    now: datetime,
    limit: int = 50,
    templates: Templates | None = None,
) -> tuple[list[Job], int]:
    """Take due deliveries (see the module docs); the caller commits.

    Returns the remote jobs to send and how many deliveries were taken in all.
    """
    if not channels:
        return [], 0
    templates = templates or load_templates()
    earlier = aliased(NotificationDelivery)
    blocked = exists().where(
        earlier.channel == D.channel,
        earlier.recipient == D.recipient,
        earlier.id < D.id,
        earlier.status.in_(IN_FLIGHT_STATES),
    )
    due = or_(
        and_(D.status == "pending", D.next_attempt_at <= now),
        and_(D.status == "sending", D.claimed_until < now),
    )
    stmt = select(D).where(D.channel.in_(list(channels)), due, ~blocked).order_by(D.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=D)
    rows = list(session.scalars(stmt))
    if not rows:
        return [], 0
    notes = {
        n.id: n
        for n in session.scalars(
            select(Notification).where(Notification.id.in_({d.notification_id for d in rows}))
        )
    }
    hh_ids = {n.household_id for n in notes.values() if n.household_id is not None}
    prefs, phones = recipients(session, hh_ids)
    jobs: list[Job] = []
    for d in rows:
        n = notes[d.notification_id]
        channel = channels[d.channel]
        if d.status == "sending":  # a sender died holding it: that try counts
            log.warning("delivery %d: claim of %s expired; taking it again", d.id, d.claimed_by)
            if (
                apply_outcome(
                    session,
                    d,
                    Outcome("retry", error="sender stopped mid-send"),
                    policy=policy,
                    now=now,
                )
                == "dead"
            ):
                continue
            if d.next_attempt_at > now:
                continue
        pref = prefs.get(n.household_id) if n.household_id is not None else None
        if n.household_id is not None:
            until = quiet_until(now, window_of(pref, policy.quiet_hours), policy.timezone)
            if until is not None:
                d.next_attempt_at = until
                d.last_error = f"quiet hours until {local_time(until, policy.timezone)}"
                session.add(
                    NotificationAttempt(
                        delivery_id=d.id,
                        started_at=now,
                        finished_at=now,
                        outcome="deferred",
                        by=policy.sender,
                    )
                )
                continue
        session.add(NotificationAttempt(delivery_id=d.id, started_at=now, by=policy.sender))
        try:
            phone = phones.get(n.household_id, (None, True))[0] if n.household_id else None
            address = _address(channel, d, n, phone, (pref.contacts if pref else None) or {})
            text = render(session, n, tz=policy.timezone, templates=templates)
        except (InvalidPhone, TemplateError) as exc:
            session.flush()
            apply_outcome(session, d, Outcome("dead", error=str(exc)), policy=policy, now=now)
            continue
        msg = Message(
            d.id, f"{n.key}:{d.channel}:{d.resends}", d.channel, address, text.title, text.text
        )
        if channel.transactional:
            session.flush()
            outcome = _deliver_in(session, channel, msg)
            apply_outcome(session, d, outcome, policy=policy, now=now, body=text.text)
        else:
            d.status, d.claimed_by = "sending", policy.sender
            d.claimed_until = now + timedelta(seconds=policy.lease_s)
            d.body = text.text
            jobs.append(Job(d.id, msg))
    session.flush()
    return jobs, len(rows)


def _deliver_in(session: Session, channel: Channel, msg: Message) -> Outcome:
    """A transactional hand-over inside a savepoint: a failure leaves nothing behind."""
    try:
        with session.begin_nested():
            return channel.deliver(session, msg)
    except DBAPIError as exc:
        log.error("delivery %d: %s hand-over failed: %s", msg.delivery_id, channel.name, exc.orig)
        return Outcome("retry", error=f"{channel.name}: {type(exc.orig).__name__}")
    except ValueError as exc:  # a message the channel cannot carry
        return Outcome("dead", error=f"{channel.name}: {exc}")


def finish(
    session: Session, job: Job, outcome: Outcome, *, policy: Policy, now: datetime
) -> str | None:
    """Record a remote send's outcome; None if the claim was lost meanwhile."""
    stmt = select(D).where(
        D.id == job.delivery_id, D.status == "sending", D.claimed_by == policy.sender
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    d = session.scalar(stmt)
    if d is None:
        log.warning("delivery %d: claim lost before its outcome was recorded", job.delivery_id)
        return None
    return apply_outcome(session, d, outcome, policy=policy, now=now)


def settle_queued(
    session: Session,
    *,
    channels: Mapping[str, Channel],
    policy: Policy,
    now: datetime,
    limit: int = 500,
) -> int:
    """Read back the gateways' results of ``queued`` deliveries; how many settled."""
    settled = 0
    for name, channel in channels.items():
        if not channel.transactional:
            continue
        rows = list(
            session.scalars(
                select(D).where(D.channel == name, D.status == "queued").order_by(D.id).limit(limit)
            )
        )
        if not rows:
            continue
        outcomes = channel.poll(session, [(d.id, d.external_id or "0") for d in rows])
        for d in rows:
            outcome = outcomes.get(d.id)
            if outcome is None:
                continue
            settled += 1
            session.add(NotificationAttempt(delivery_id=d.id, started_at=now, by=policy.sender))
            session.flush()
            apply_outcome(session, d, outcome, policy=policy, now=now, counted=False)
    session.flush()
    return settled


class ResendError(ValueError):
    """The delivery cannot be resent (the message says why)."""


def resend(session: Session, *, delivery_id: int, by: str, now: datetime) -> NotificationDelivery:
    """An operator sends a delivery again (dead or sent), or retries a waiting one now."""
    d = session.get(NotificationDelivery, delivery_id)
    if d is None:
        raise ResendError(f"no delivery {delivery_id}")
    if d.channel == INAPP:
        raise ResendError("in-app messages are in the inbox already")
    if d.status in ("sending", "queued"):
        raise ResendError(f"delivery {delivery_id} is {d.status}; wait for its outcome")
    if d.status in ("dead", "sent"):
        d.resends += 1
        d.attempts = 0
    d.status, d.next_attempt_at, d.last_error = "pending", now, None
    d.claimed_by = d.claimed_until = None
    session.add(
        NotificationAttempt(
            delivery_id=d.id, started_at=now, finished_at=now, outcome="resend", by=by
        )
    )
    session.flush()
    return d


def due_count(session: Session, *, channels: Sequence[str], now: datetime) -> int:
    """Deliveries of ``channels`` that are due now (for the sender's idle decision)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(D)
            .where(D.channel.in_(list(channels)), D.status == "pending", D.next_attempt_at <= now)
        )
        or 0
    )
