"""A household asks to join from the household page; an operator of its site decides.

:func:`request` (no login: the public household page) keeps the request with the PIN the
household chose (argon2 hash only) and hands back a reference to look it up
(:func:`status_of`); at most :data:`PER_ADDRESS_PER_DAY` requests a day come from one
network address and at most :data:`MAX_PENDING` wait at once, so the form cannot be used
to fill the database. :func:`approve` registers the household (a fresh member number of
its site, its ledger account, the chosen PIN) through :mod:`cloud.households`;
:func:`reject` says why. Every step is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import audit, households
from cloud.auth import hash_secret, set_household_pin_hash
from cloud.errors import LedgerError, NotFound
from cloud.models import Household, Site, utcnow
from cloud.models.admin import RegistrationRequest
from cloud.notifications.phone import InvalidPhone, normalise_phone
from cloud.onboarding import _next_numbers

PER_ADDRESS_PER_DAY = 5
MAX_PENDING = 2000


class RegistrationError(LedgerError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooManyRequests(LedgerError):
    """Answered 429: the cap per address or on pending requests is reached."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def request(
    session: Session,
    *,
    name: str,
    address: str | None,
    phone: str,
    site_id: int,
    pin: str,
    client: str,
) -> tuple[str, RegistrationRequest]:
    """Keep a request; returns the reference for the requester (shown once) and the row."""
    try:
        e164 = normalise_phone(phone)
    except InvalidPhone as exc:
        raise RegistrationError(str(exc), field="phone") from None
    if session.get(Site, site_id) is None:
        raise RegistrationError("unknown site", field="site_id")
    key = _sha(f"registration|{client}")
    since = utcnow() - timedelta(days=1)
    recent = session.scalar(
        select(func.count()).where(
            RegistrationRequest.client_key == key, RegistrationRequest.created_at >= since
        )
    )
    pending = session.scalar(select(func.count()).where(RegistrationRequest.status == "pending"))
    if (recent or 0) >= PER_ADDRESS_PER_DAY or (pending or 0) >= MAX_PENDING:
        raise TooManyRequests("too many registration requests: try again tomorrow")
    ref = secrets.token_urlsafe(9)
    row = RegistrationRequest(
        name=" ".join(name.split())[:200],
        address=address,
        phone=e164,
        site_id=site_id,
        pin_hash=hash_secret(pin),
        ref_hash=_sha(ref),
        client_key=key,
        status="pending",
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor="public",
        action="registration.request",
        subject=f"registration:{row.id}",
        after={"name": row.name, "site_id": site_id},
        site_id=site_id,
    )
    return ref, row


def status_of(session: Session, *, ref: str) -> tuple[RegistrationRequest, str | None]:
    """The request behind a reference and, once approved, the member number."""
    row = session.scalar(
        select(RegistrationRequest).where(RegistrationRequest.ref_hash == _sha(ref))
    )
    if row is None:
        raise NotFound("no registration request with this reference")
    member = None
    if row.household_id is not None:
        member = session.scalar(select(Household.member_no).where(Household.id == row.household_id))
    return row, member


def _pending(session: Session, request_id: int) -> RegistrationRequest:
    row = session.scalar(
        select(RegistrationRequest).where(RegistrationRequest.id == request_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"unknown registration request {request_id}")
    if row.status != "pending":
        raise RegistrationError(f"registration request {request_id} is {row.status}")
    return row


def approve(session: Session, *, request_id: int, by: str) -> Household:
    row = _pending(session, request_id)
    site = session.get(Site, row.site_id)
    assert site is not None
    member_no = _next_numbers(session, site.code.upper(), 1, set())[0]
    with audit.inner(session):  # one audit row: registration.approve
        hh = households.register_household(
            session,
            member_no=member_no,
            name=row.name,
            site=site.code,
            phone=row.phone,
            address=row.address,
            by=by,
        )
        set_household_pin_hash(session, household_id=hh.id, pin_hash=row.pin_hash, by=by)
    row.status, row.decided_by, row.decided_at, row.household_id = "approved", by, utcnow(), hh.id
    session.flush()
    audit.record(
        session,
        actor=by,
        action="registration.approve",
        subject=f"registration:{row.id}",
        before={"status": "pending"},
        after={"status": "approved", "household_id": hh.id, "member_no": member_no, "pin": "set"},
        site_id=row.site_id,
    )
    return hh


def reject(session: Session, *, request_id: int, by: str, reason: str) -> RegistrationRequest:
    row = _pending(session, request_id)
    if not reason.strip():
        raise RegistrationError("a rejection needs a reason", field="reason")
    row.status, row.decided_by, row.decided_at, row.reason = "rejected", by, utcnow(), reason[:300]
    session.flush()
    audit.record(
        session,
        actor=by,
        action="registration.reject",
        subject=f"registration:{row.id}",
        before={"status": "pending"},
        after={"status": "rejected", "reason": row.reason},
        site_id=row.site_id,
    )
    return row
