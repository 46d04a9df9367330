"""A collector completes a household's pickup with its weigh-ins; see :mod:`cloud.doorstep`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import cash_float, pickups
from cloud.crediting import Payee, credit_many
from cloud.doorstep.rules import MAX_LINE_G, MAX_LINES, MAX_PHOTO_BYTES, PHONE_ID, DoorstepError
from cloud.errors import LedgerError, NotFound
from cloud.models import OPEN_PICKUP_STATES, Pickup, WeighinRecord, utcnow
from cloud.models.doorstep import (
    CollectorPhone,
    DoorstepCompletion,
    DoorstepPhoto,
    DoorstepWeighin,
)
from cloud.notifications.events import cash_paid_at_door
from cloud.postings import funds
from contract import ReceiptStatus, Weighin


@dataclass(frozen=True, slots=True)
class LineIn:
    """One weigh-in at the door as the phone recorded it."""

    seq: int  #: the phone's sequence number: its event id is ``{phone_id}:{seq}``
    category: str
    net_g: int
    weighed_at: datetime  #: the phone's clock
    entry: str = "typed"  #: "typed" | "scale"
    scale: str | None = None  #: the scale as the phone named it, when read
    division_g: int = 1  #: the scale's d; 1 for a typed weight (whole grams)
    frames: tuple[str, ...] = ()  #: raw frames (hex) read from the scale
    note: str | None = None
    photo: bytes | None = None
    photo_type: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionIn:
    """A completion as the phone sent it (the API's body, checked)."""

    phone_id: str
    seq: int  #: the completion's own event id is ``{phone_id}:{seq}``
    completed_at: datetime  #: the phone's clock
    clock_synced: bool  #: the phone's clock agreed with the server's at its last contact
    boot_id: UUID  #: the page session that recorded it
    mono_ms: int
    lines: tuple[LineIn, ...]
    payment: str = "savings"  #: "savings" | "cash"
    note: str | None = None
    lat: float | None = None
    lon: float | None = None
    user_agent: str | None = None

    @property
    def event_id(self) -> str:
        return f"{self.phone_id}:{self.seq}"

    def line_event_id(self, line: LineIn) -> str:
        return f"{self.phone_id}:{line.seq}"

    def sha256(self) -> str:
        """A digest of everything sent (photos by their digest): the same completion
        sent again has the same one."""
        doc = asdict(self)
        for line in doc["lines"]:
            photo = line.pop("photo")
            line["photo"] = hashlib.sha256(photo).hexdigest() if photo else None
        raw = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LineResult:
    event_id: str
    weighin_id: int
    category: str
    net_g: int
    status: str
    price_rp_per_kg: int | None
    amount_rp: int
    effective_at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class DoorstepResult:
    """What a completion did (the same for every replay of it)."""

    completion_id: int
    event_id: str
    pickup_id: int
    household_id: int
    payment: str
    total_g: int
    total_rp: int
    cash_rp: int
    lines: tuple[LineResult, ...]
    balance_rp: int
    replay: bool


def _check_shape(c: CompletionIn) -> None:
    if not PHONE_ID.match(c.phone_id):
        raise DoorstepError("phone_id must be 'ph-' and 8-40 lower-case letters/digits", "phone_id")
    if not 1 <= len(c.lines) <= MAX_LINES:
        raise DoorstepError(f"a completion has 1 to {MAX_LINES} weigh-ins", "lines")
    seqs = [c.seq, *(line.seq for line in c.lines)]
    if len(set(seqs)) != len(seqs):
        raise DoorstepError("every weigh-in needs its own seq (and not the completion's)", "lines")
    if c.payment not in ("savings", "cash"):
        raise DoorstepError("payment is 'savings' or 'cash'", "payment")
    for line in c.lines:
        if line.entry not in ("typed", "scale"):
            raise DoorstepError("entry is 'typed' or 'scale'", "lines")
        if not 0 < line.net_g <= MAX_LINE_G:
            raise DoorstepError(f"a weigh-in weighs 1 g to {MAX_LINE_G // 1000} kg", "lines")
        if line.photo is not None and len(line.photo) > MAX_PHOTO_BYTES:
            raise DoorstepError(f"a photo is at most {MAX_PHOTO_BYTES // 1000} kB", "lines")


def _events(c: CompletionIn) -> list[Weighin]:
    """The completion's weigh-ins as the contract's events (the crediting path's input)."""
    try:
        return [
            Weighin(
                device_id=c.phone_id,
                seq=line.seq,
                event_id=c.line_event_id(line),
                device_time=line.weighed_at,
                clock_synced=c.clock_synced,
                boot_id=c.boot_id,
                mono_ms=c.mono_ms,
                card_id=None,
                category=line.category,
                net_g=line.net_g,
                division_g=line.division_g,
                protocol="typed" if line.entry == "typed" else "phone-scale",
                frames=list(line.frames),
            )
            for line in c.lines
        ]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DoorstepError(f"weigh-in {where}: {first['msg']}", "lines") from None


def bind_phone(session: Session, *, phone_id: str, user_id: int, user_agent: str | None) -> None:
    """Bind the phone to the user on first use; refuse it in anyone else's hands."""
    phone = session.get(CollectorPhone, phone_id, with_for_update=True)
    now = utcnow()
    if phone is None:
        session.add(
            CollectorPhone(
                phone_id=phone_id,
                collector_id=user_id,
                first_seen_at=now,
                last_seen_at=now,
                user_agent=(user_agent or "")[:200] or None,
            )
        )
    elif phone.collector_id != user_id:
        raise LedgerError(f"phone {phone_id} belongs to another collector")
    else:
        phone.last_seen_at = now
    session.flush()


def complete_at_door(
    session: Session,
    *,
    pickup_id: int,
    completion: CompletionIn,
    user_id: int,
    by: str,
    received_at: datetime | None = None,
) -> DoorstepResult:
    """Complete a household's pickup with its weigh-ins, crediting each exactly once.

    ``user_id`` is who weighed (the collector, or an operator at the depot); the phone
    is bound to them. A completion whose event id was processed before returns the
    stored result (``replay``), whatever happened since. Flushes, never commits.
    """
    received_at = received_at or utcnow()
    _check_shape(completion)
    digest = completion.sha256()
    p = session.scalar(select(Pickup).where(Pickup.id == pickup_id).with_for_update())
    if p is None:
        raise NotFound(f"unknown pickup {pickup_id}")
    done = session.scalar(
        select(DoorstepCompletion).where(DoorstepCompletion.event_id == completion.event_id)
    )
    if done is not None:
        if done.pickup_id != pickup_id or done.body_sha256 != digest:
            raise LedgerError(
                f"event id {completion.event_id} was used for another completion: "
                "a phone never reuses its event ids"
            )
        return stored_result(session, done, replay=True)
    if p.household_id is None:
        raise LedgerError(f"pickup {pickup_id} is a bin's: it is completed without weigh-ins")
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    if p.collector_id is not None and p.collector_id != user_id:
        raise LedgerError(f"pickup {pickup_id} is assigned to another collector")
    bind_phone(
        session, phone_id=completion.phone_id, user_id=user_id, user_agent=completion.user_agent
    )
    events = _events(completion)
    ids = [e.event_id for e in events]
    if session.scalar(select(func.count()).where(WeighinRecord.event_id.in_(ids))):
        raise LedgerError("a weigh-in's event id was used before: a phone never reuses them")
    payee = Payee(p.household_id, p.site_id, not_before=p.opened_at)
    results = credit_many(
        session, events, [received_at] * len(events), payees=dict.fromkeys(ids, payee)
    )
    credited = sum(r.receipt.amount_rp for r in results)
    total_g = sum(line.net_g for line in completion.lines)
    row = DoorstepCompletion(
        event_id=completion.event_id,
        pickup_id=p.id,
        collector_id=user_id,
        phone_id=completion.phone_id,
        body_sha256=digest,
        completed_at=completion.completed_at,
        clock_synced=completion.clock_synced,
        received_at=received_at,
        payment=completion.payment,
        total_g=total_g,
        total_rp=credited,
        cash_rp=0,
        lat=completion.lat,
        lon=completion.lon,
        note=(completion.note or "")[:300] or None,
        created_by=by,
    )
    session.add(row)
    session.flush()
    weighin_ids = {
        event_id: wid
        for event_id, wid in session.execute(
            select(WeighinRecord.event_id, WeighinRecord.id).where(WeighinRecord.event_id.in_(ids))
        )
    }
    for n, line in enumerate(completion.lines, 1):
        wid = weighin_ids[completion.line_event_id(line)]
        session.add(
            DoorstepWeighin(
                weighin_id=wid,
                completion_id=row.id,
                line_no=n,
                collector_id=user_id,
                phone_id=completion.phone_id,
                entry=line.entry,
                scale=(line.scale or "")[:60] or None,
                user_agent=(completion.user_agent or "")[:200] or None,
                note=(line.note or "")[:300] or None,
            )
        )
        if line.photo:
            session.add(
                DoorstepPhoto(
                    weighin_id=wid, media_type=line.photo_type or "image/jpeg", data=line.photo
                )
            )
    if completion.payment == "cash" and credited > 0:
        entry = cash_float.pay_at_door(
            session,
            collector_id=user_id,
            household_id=p.household_id,
            amount_rp=credited,
            effective_at=max(r.effective_at for r in results),
            description=f"cash at the door for pickup {p.id} ({completion.event_id})",
            by=by,
        )
        row.cash_rp, row.cash_entry_id = credited, entry.id
        cash_paid_at_door(
            session, p, event_id=completion.event_id, amount_rp=credited, at=entry.effective_at
        )
    session.flush()
    pickups.complete_pickup(
        session, pickup_id=p.id, collected_g=total_g, note=completion.note, weighed=True, by=by
    )
    return stored_result(session, row, replay=False)


def stored_result(session: Session, row: DoorstepCompletion, *, replay: bool) -> DoorstepResult:
    """The result of a stored completion (what its first sending answered, amounts
    included; the balance is the household's now)."""
    W = WeighinRecord
    rows = session.scalars(
        select(W)
        .join(DoorstepWeighin, DoorstepWeighin.weighin_id == W.id)
        .where(DoorstepWeighin.completion_id == row.id)
        .order_by(DoorstepWeighin.line_no)
    )
    credited = ReceiptStatus.CREDITED.value
    lines = tuple(
        LineResult(
            event_id=w.event_id,
            weighin_id=w.id,
            category=w.category_code,
            net_g=w.net_g,
            status=w.status,
            price_rp_per_kg=w.price_rp_per_kg,
            amount_rp=w.amount_rp if w.status == credited else 0,
            effective_at=w.effective_at,
            reason=w.reason,
        )
        for w in rows
    )
    p = session.get(Pickup, row.pickup_id)
    assert p is not None
    assert p.household_id is not None
    return DoorstepResult(
        completion_id=row.id,
        event_id=row.event_id,
        pickup_id=row.pickup_id,
        household_id=p.household_id,
        payment=row.payment,
        total_g=row.total_g,
        total_rp=row.total_rp,
        cash_rp=row.cash_rp,
        lines=lines,
        balance_rp=funds(session, household_id=p.household_id).balance_rp,
        replay=replay,
    )


def completion_of(session: Session, *, pickup_id: int) -> DoorstepCompletion | None:
    return session.scalar(
        select(DoorstepCompletion).where(DoorstepCompletion.pickup_id == pickup_id)
    )
