"""The audit log's one writer and its reader.

Every operator action calls :func:`record` with the actor explicitly, inside the
transaction of the action (it flushes, never commits)::

    before = audit.snapshot(household, HOUSEHOLD_FIELDS)
    household.name = "Ibu Sri"
    audit.record(session, actor=by, action="household.update",
                 subject=f"household:{household.id}", before=before,
                 after=audit.snapshot(household, HOUSEHOLD_FIELDS), site_id=household.site_id)

``before``/``after`` hold only what the action changed or created (plain JSON values;
secrets such as PINs and passwords are never passed in: say ``{"pin": "set"}``).
Reading (:func:`entries`) filters by actor, action (a prefix: ``payout.`` matches every
payout step), subject and time, newest first, for the auditor's screen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cloud.models.audit import AuditEntry

#: the actor of work nobody in particular did (seeding, migrations of data)
SYSTEM = "system"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of ``obj`` as JSON-ready values (for ``before``/``after``)."""
    return {f: _plain(getattr(obj, f)) for f in fields}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Only the keys whose value differs: ``(before, after)`` trimmed to the change."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@contextlib.contextmanager
def inner(session: Session) -> Iterator[None]:
    """Inside: the steps of one larger action, which records the one row for all of them
    (an approved registration creates a household and sets its PIN: one audit row)."""
    session.info["audit_inner"] = session.info.get("audit_inner", 0) + 1
    try:
        yield
    finally:
        session.info["audit_inner"] -= 1


def record(
    session: Session,
    *,
    actor: str | None,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    site_id: int | None = None,
) -> AuditEntry | None:
    """Write one audit row in the caller's transaction (flushes, never commits).

    Inside :func:`inner` nothing is written: the enclosing action records instead.
    """
    if not action or "." not in action:
        raise ValueError("an audit action is '<subject kind>.<verb>', e.g. 'household.update'")
    if session.info.get("audit_inner"):
        return None
    entry = AuditEntry(
        actor=(actor or SYSTEM)[:80],
        action=action[:60],
        subject=subject[:120],
        site_id=site_id,
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    #: an exact action, or a prefix ending in "." (``payout.``)
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    site_id: int | None = None


def _filtered(f: AuditFilter) -> Select[Any]:
    q = select(AuditEntry)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        q = q.where(
            AuditEntry.action.startswith(f.action, autoescape=True)
            if f.action.endswith(".")
            else AuditEntry.action == f.action
        )
    if f.subject:
        q = q.where(AuditEntry.subject == f.subject)
    if f.since is not None:
        q = q.where(AuditEntry.at >= f.since)
    if f.until is not None:
        q = q.where(AuditEntry.at < f.until)
    if f.site_id is not None:
        q = q.where(AuditEntry.site_id == f.site_id)
    return q


def entries(
    session: Session, f: AuditFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """A page of matching rows (newest first) and how many match in all."""
    q = _filtered(f)
    total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = session.scalars(q.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total
