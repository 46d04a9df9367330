"""Linking a new member card by tapping it at a station in "enrol" mode.

No new message on the wire and nothing new on the station: enrolment rides on the
weigh-in path the station already has. An operator picks a household and a station
(:func:`start`, the station's "enrol mode" lasts :data:`WINDOW`); the household taps its
new card and weighs its first bag as usual. The station publishes that weigh-in; ingest
finds the card unknown and keeps the weigh-in as *unassigned* (its usual rule, nothing
lost, nothing credited). :func:`resolve` — called by the operator's screen while it
waits (``POST /api/v1/enrolments/{id}/check``) — finds the first unassigned weigh-in of
that station since the mode started whose card is linked to nobody, links the card to
the household (:func:`cloud.households.link_card`) and credits the bag to it
(:func:`cloud.corrections.assign_weighin`, the correction path: exactly once, at the
price stored with the weigh-in). The station's own receipt said "unassigned" for that
bag; the household's statement shows the credit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit, corrections, households
from cloud.errors import LedgerError, NotFound
from cloud.models import Device, Household, MemberCard, WeighinRecord, utcnow
from cloud.models.admin import CardEnrolment
from contract import ReceiptStatus

WINDOW = timedelta(minutes=10)


def start(session: Session, *, device_id: str, household_id: int, by: str) -> CardEnrolment:
    dev = session.get(Device, device_id)
    if dev is None or dev.revoked or dev.kind != "station":
        raise NotFound(f"no active station {device_id!r}")
    hh = session.get(Household, household_id)
    if hh is None or not hh.active:
        raise NotFound(f"unknown or inactive household {household_id}")
    now = utcnow()
    for old in session.scalars(
        select(CardEnrolment)
        .where(CardEnrolment.device_id == device_id, CardEnrolment.status == "waiting")
        .with_for_update()
    ):
        old.status, old.ended_at = ("expired" if old.expires_at <= now else "cancelled"), now
    session.flush()
    row = CardEnrolment(
        device_id=device_id,
        household_id=household_id,
        status="waiting",
        started_by=by,
        started_at=now,
        expires_at=now + WINDOW,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="card.enrol_start",
        subject=f"enrolment:{row.id}",
        after={"device_id": device_id, "household_id": household_id},
        site_id=hh.site_id,
    )
    return row


def resolve(session: Session, *, enrolment_id: int, by: str) -> CardEnrolment:
    """Link and credit the first unknown card weighed at the station, if there is one yet."""
    row = session.scalar(
        select(CardEnrolment).where(CardEnrolment.id == enrolment_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"unknown enrolment {enrolment_id}")
    if row.status != "waiting":
        return row
    linked = select(MemberCard.card_id).where(MemberCard.active)
    rec = session.scalar(
        select(WeighinRecord)
        .where(
            WeighinRecord.device_id == row.device_id,
            WeighinRecord.status == ReceiptStatus.UNASSIGNED.value,
            WeighinRecord.received_at >= row.started_at,
            WeighinRecord.card_id.is_not(None),
            WeighinRecord.card_id.not_in(linked),
        )
        .order_by(WeighinRecord.id)
        .limit(1)
    )
    now = utcnow()
    if rec is None:
        if row.expires_at <= now:
            row.status, row.ended_at = "expired", now
            session.flush()
        return row
    assert rec.card_id is not None
    with audit.inner(session):  # one audit row: card.enrol
        households.link_card(session, card_id=rec.card_id, household_id=row.household_id, by=by)
        corrections.assign_weighin(session, weighin_id=rec.id, household_id=row.household_id, by=by)
    row.status, row.card_id, row.weighin_id, row.ended_at = "enrolled", rec.card_id, rec.id, now
    session.flush()
    audit.record(
        session,
        actor=by,
        action="card.enrol",
        subject=f"card:{rec.card_id}",
        before={"household_id": None},
        after={
            "household_id": row.household_id,
            "enrolment_id": row.id,
            "weighin_id": rec.id,
            "amount_rp": rec.amount_rp,
        },
        site_id=rec.site_id,
    )
    return row


def cancel(session: Session, *, enrolment_id: int, by: str) -> CardEnrolment:
    row = session.scalar(
        select(CardEnrolment).where(CardEnrolment.id == enrolment_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"unknown enrolment {enrolment_id}")
    if row.status != "waiting":
        raise LedgerError(f"enrolment {enrolment_id} is {row.status}")
    row.status, row.ended_at = "cancelled", utcnow()
    session.flush()
    audit.record(
        session,
        actor=by,
        action="card.enrol_cancel",
        subject=f"enrolment:{row.id}",
        before={"status": "waiting"},
        after={"status": "cancelled"},
    )
    return row
