"""Held weigh-ins: an operator releases or rejects them; some resolve by themselves.

A weigh-in that failed a check (:mod:`cloud.integrity`) is a ``weighins`` row with
status ``held`` and an open :class:`cloud.models.Hold`. From there:

- **release** (an operator, with a note): the weigh-in is checked again — only to date
  it (a boot anchor may have arrived meanwhile) — and credited through the normal path
  (:func:`cloud.crediting.credit_held`: the price in force when it was weighed, the
  household of its card; unassigned or rejected when that is what a station's weigh-in
  would have been). The hold records who released it, when and why.
- **reject** (an operator, with a reason): the weigh-in becomes ``rejected``; no money.
- **by itself** (:func:`resolve_automatic`, after each ingest batch and in the worker's
  maintenance): a ``chain_gap`` hold whose missing predecessor has arrived and links,
  and a ``clock`` hold whose boot got an anchor (or waited ``clock_wait``), are checked
  again in full; if nothing else fails they are released by ``system:chain`` /
  ``system:clock``; if something else fails the hold takes that reason and waits for an
  operator.

Every path locks the weigh-in row first (then the household's account, then the
journal's head: the lock order of :mod:`cloud.postings`). Flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.bulk import among
from cloud.crediting import credit_held
from cloud.errors import LedgerError, NotFound
from cloud.integrity import AUTOMATIC, Inspector
from cloud.models import Hold, WeighinRecord, utcnow
from cloud.pickups import clear_alert
from cloud.verification import weighin_of
from contract import Receipt, ReceiptStatus


def _locked(session: Session, weighin_id: int) -> tuple[WeighinRecord, Hold]:
    rec = session.scalar(
        select(WeighinRecord).where(WeighinRecord.id == weighin_id).with_for_update()
    )
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    hold = session.scalar(select(Hold).where(Hold.weighin_id == rec.id))
    if rec.status != ReceiptStatus.HELD.value or hold is None or hold.resolved_at is not None:
        raise LedgerError(f"weigh-in {weighin_id} is {rec.status}, not held")
    return rec, hold


def release(
    session: Session, *, weighin_id: int, by: str, note: str, inspector: Inspector
) -> WeighinRecord:
    """An operator credits a held weigh-in through the normal path (see the module docs)."""
    if not note.strip():
        raise LedgerError("a release needs a note (why it may be credited)")
    rec, hold = _locked(session, weighin_id)
    kind = hold.kind
    _credit(session, rec, hold, inspector, by=by, note=note)
    audit.record(
        session,
        actor=by,
        action="weighin.release",
        subject=f"weighin:{rec.id}",
        before={"status": "held", "hold": kind},
        after={"status": rec.status, "amount_rp": rec.amount_rp, "note": note[:200]},
        site_id=rec.site_id,
    )
    return rec


def reject(session: Session, *, weighin_id: int, by: str, reason: str) -> WeighinRecord:
    """An operator refuses a held weigh-in for good: rejected, no money moves."""
    if not reason.strip():
        raise LedgerError("a rejection needs a reason")
    rec, hold = _locked(session, weighin_id)
    rec.status = ReceiptStatus.REJECTED.value
    rec.reason = f"rejected by {by}: {reason}"[:200]
    old = Receipt.model_validate_json(rec.receipt_json)
    rec.receipt_json = old.model_copy(
        update={"status": ReceiptStatus.REJECTED, "reason": rec.reason, "processed_at": utcnow()}
    ).model_dump_json()
    _resolve(hold, "rejected", by, reason)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="weighin.reject_held",
        subject=f"weighin:{rec.id}",
        before={"status": "held", "hold": hold.kind},
        after={"status": rec.status, "reason": reason[:200]},
        site_id=rec.site_id,
    )
    _maybe_clear_alert(session, rec.device_id)
    return rec


def _credit(
    session: Session, rec: WeighinRecord, hold: Hold, inspector: Inspector, *, by: str, note: str
) -> None:
    event = weighin_of(rec)
    checked = inspector(session, [(event, rec.received_at)])[0]
    credit_held(session, rec, event, checked)
    _resolve(hold, "released", by, note)
    session.flush()
    _maybe_clear_alert(session, rec.device_id)


def _resolve(hold: Hold, resolution: str, by: str, note: str) -> None:
    hold.resolved_at, hold.resolved_by = utcnow(), by
    hold.resolution, hold.note = resolution, note[:200] or None


def _maybe_clear_alert(session: Session, device_id: str) -> None:
    still = session.scalar(
        select(Hold.id).where(Hold.device_id == device_id, Hold.resolved_at.is_(None)).limit(1)
    )
    if still is None:
        clear_alert(session, kind="weighin_held", subject=device_id)


def open_holds(
    session: Session, *, device_id: str | None = None, limit: int = 100
) -> list[tuple[WeighinRecord, Hold]]:
    """Held weigh-ins waiting for an operator (or for their missing piece), oldest first."""
    q = (
        select(WeighinRecord, Hold)
        .join(Hold, Hold.weighin_id == WeighinRecord.id)
        .where(Hold.resolved_at.is_(None))
        .order_by(Hold.id)
        .limit(limit)
    )
    if device_id is not None:
        q = q.where(Hold.device_id == device_id)
    return [(w, h) for w, h in session.execute(q)]


def resolve_automatic(
    session: Session,
    inspector: Inspector,
    *,
    now: datetime,
    device_ids: Iterable[str] | None = None,
    limit: int = 500,
) -> list[int]:
    """Check the open ``chain_gap`` and ``clock`` holds again (of ``device_ids``, or all);
    release those that pass now; ids of the weigh-ins released. A ``clock`` hold held
    longer than the inspector's ``clock_wait`` counts at its receive time."""
    q = (
        select(Hold.weighin_id)
        .where(Hold.kind.in_(sorted(AUTOMATIC)), Hold.resolved_at.is_(None))
        .order_by(Hold.weighin_id)
        .limit(limit)
    )
    if device_ids is not None:
        ids = sorted(set(device_ids))
        if not ids:
            return []
        q = q.where(among(session, Hold.device_id, ids))
    released = []
    for weighin_id in list(session.scalars(q)):
        rec, hold = _locked(session, weighin_id)
        event = weighin_of(rec)
        inspector.clocks.load(session, [(rec.device_id, rec.boot_id)])
        checked = inspector(session, [(event, rec.received_at)])[0]
        why = checked.hold
        if why is not None and why[0] == "clock" and hold.held_at < now - inspector.clock_wait:
            why = None  # waited long enough: it counts at its receive time
        if why is None:
            credit_held(session, rec, event, checked)
            _resolve(hold, "released", f"system:{hold.kind.split('_')[0]}", "resolved itself")
            _maybe_clear_alert(session, rec.device_id)
            released.append(rec.id)
        elif why[0] != hold.kind:  # something else fails now: an operator's case
            hold.kind, hold.detail = why[0], why[1][:200]
            rec.reason = f"{why[0]}: {why[1]}"[:200]
        session.flush()
    return released
