"""Bins, their fill state and forecast samples, pickups and alerts.

The pickup policy itself (threshold, hysteresis, alerts, sampling, forecast) is the pure
:mod:`cloud.fill_policy`; :func:`apply_fill` is its one-message path (a reading applied
through the ORM, decisions included) and :func:`keep_samples` the one place forecast
samples are written, pruned and turned into a fill rate (the ingest's cached batch path,
:mod:`cloud.ingest.state`, uses both). A partial unique index also guarantees at most one
open/assigned pickup per bin.

Alerts (``kind``): ``sensor_fault``, ``lid_open``, ``tilt``, ``bin_full``,
``device_offline``; at most one uncleared alert per (kind, subject).

One module of ~440 lines on purpose: a bin's state, its pickup and its alerts change
in the same transaction for one reading, and the one-message and batch paths must
read the same helpers (the policy itself is :mod:`cloud.fill_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.fill_policy import (
    FORECAST_WINDOW,
    SAMPLE_RETENTION,
    decide,
    fill_rate_pct_per_h,
    forecast_full_at,
    pickup_due,
)
from cloud.households import ensure_site
from cloud.models import OPEN_PICKUP_STATES, Alert, Bin, FillSample, Household, Pickup, Site, utcnow
from cloud.notifications import events
from contract import Fill

_SAMPLES: Table = FillSample.__table__  # type: ignore[assignment]


# --------------------------------------------------------------------------- alerts


def raise_alert(
    session: Session,
    *,
    kind: str,
    subject: str,
    message: str,
    site_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> Alert | None:
    """Raise an alert unless the same (kind, subject) is already active; returns a new one.

    A new one is told to the site's operators when its kind has a notification template
    (``details``: facts for it, e.g. the fill level), in this transaction.
    """
    active = session.scalar(
        select(Alert).where(
            Alert.kind == kind, Alert.subject == subject, Alert.cleared_at.is_(None)
        )
    )
    if active is not None:
        return None
    alert = Alert(kind=kind, subject=subject, message=message[:300], site_id=site_id)
    session.add(alert)
    session.flush()
    events.alert_raised(session, alert, details)
    return alert


def clear_alert(session: Session, *, kind: str, subject: str) -> bool:
    changed = False
    for a in session.scalars(
        select(Alert).where(
            Alert.kind == kind, Alert.subject == subject, Alert.cleared_at.is_(None)
        )
    ):
        a.cleared_at = utcnow()
        changed = True
    session.flush()
    return changed


def acknowledge_alert(session: Session, *, alert_id: int, by: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"unknown alert {alert_id}")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = utcnow(), by
        session.flush()
        audit.record(
            session,
            actor=by,
            action="alert.acknowledge",
            subject=f"alert:{alert.id}",
            before={"acknowledged": False},
            after={"acknowledged": True},
            site_id=alert.site_id,
        )
    return alert


def list_alerts(
    session: Session, *, active_only: bool = True, site_id: int | None = None, limit: int = 200
) -> list[Alert]:
    q = select(Alert).order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)
    if active_only:
        q = q.where(Alert.cleared_at.is_(None))
    if site_id is not None:
        q = q.where(Alert.site_id == site_id)
    return list(session.scalars(q))


# --------------------------------------------------------------------------- bins


def register_bin(
    session: Session,
    *,
    bin_id: str,
    site: str | None = None,
    device_id: str | None = None,
    category: str | None = None,
    name: str | None = None,
    x: float | None = None,
    y: float | None = None,
    lat: float | None = None,
    lon: float | None = None,
    empty_depth_mm: int | None = None,
    threshold_pct: float = 80.0,
    hysteresis_pct: float = 10.0,
    by: str | None = None,
) -> Bin:
    """Create or update a bin's registry entry (``site`` is a site code). Flushes; audited."""
    if not 0 < threshold_pct <= 100 or not 0 <= hysteresis_pct < threshold_pct:
        raise LedgerError("need 0 < threshold_pct <= 100 and 0 <= hysteresis_pct < threshold")
    site_id = ensure_site(session, code=site).id if site else None
    b = session.get(Bin, bin_id)
    before = None if b is None else audit.snapshot(b, BIN_FIELDS)
    if b is None:
        b = Bin(bin_id=bin_id, armed=True, active=True)
        session.add(b)
    b.site_id, b.device_id, b.category_code, b.name = site_id, device_id, category, name
    b.x, b.y, b.lat, b.lon = x, y, lat, lon
    b.empty_depth_mm = empty_depth_mm
    b.threshold_pct, b.hysteresis_pct = threshold_pct, hysteresis_pct
    session.flush()
    audit.record(
        session,
        actor=by,
        action="bin.update" if before else "bin.create",
        subject=f"bin:{bin_id}",
        before=before,
        after=audit.snapshot(b, BIN_FIELDS),
        site_id=b.site_id,
    )
    return b


BIN_FIELDS = (
    "site_id",
    "device_id",
    "category_code",
    "name",
    "lat",
    "lon",
    "empty_depth_mm",
    "threshold_pct",
    "hysteresis_pct",
)


def get_bin(session: Session, *, bin_id: str) -> Bin:
    b = session.get(Bin, bin_id)
    if b is None:
        raise NotFound(f"unknown bin {bin_id!r}")
    return b


def bin_full() -> ColumnElement[bool]:
    """A bin is full at or above its threshold (the overview's figures, the bin list)."""
    return Bin.fill_pct >= Bin.threshold_pct


def bins_query(
    *,
    site: str | None = None,
    site_id: int | None = None,
    full: bool | None = None,
    fault: bool | None = None,
) -> Select[Bin]:
    """Bins by id (index ``ix_bins_site_bin`` behind a site's), filtered: ``full`` = at or
    above the threshold (the overview's rule), ``fault`` = a sensor fault reported."""
    q = select(Bin).order_by(Bin.bin_id)
    if site is not None:
        q = q.join(Site, Site.id == Bin.site_id).where(Site.code == site)
    if site_id is not None:
        q = q.where(Bin.site_id == site_id)
    if full is not None:
        q = q.where(bin_full() if full else or_(Bin.fill_pct.is_(None), ~bin_full()))
    if fault is not None:
        q = q.where(Bin.fault.is_not(None) if fault else Bin.fault.is_(None))
    return q


def list_bins(
    session: Session, *, site: str | None = None, site_id: int | None = None
) -> list[Bin]:
    return list(session.scalars(bins_query(site=site, site_id=site_id)))


def newest_sample_at(session: Session, *, bin_id: str) -> datetime | None:
    """The time of the bin's newest forecast sample (None if it has none)."""
    at: datetime | None = session.scalar(
        select(func.max(FillSample.at)).where(FillSample.bin_id == bin_id)
    )
    return at


def keep_samples(
    session: Session, samples: Sequence[tuple[str, datetime, float]]
) -> dict[str, float | None]:
    """Write forecast samples ``(bin_id, at, level)``; the fill rate of each bin now.

    Prunes each bin's samples older than :data:`~cloud.fill_policy.SAMPLE_RETENTION`
    before its newest, and works out each bin's rate over the
    :data:`~cloud.fill_policy.FORECAST_WINDOW` before its newest sample. A fixed number
    of statements for any number of bins (one INSERT, one DELETE, one SELECT per
    :data:`cloud.db.IN_LIST_MAX` bins).
    """
    if not samples:
        return {}
    session.execute(
        insert(FillSample), [{"bin_id": b, "at": at, "fill_pct": v} for b, at, v in samples]
    )
    newest: dict[str, datetime] = {}
    for b, at, _ in samples:
        if b not in newest or at > newest[b]:
            newest[b] = at
    session.connection().execute(
        delete(_SAMPLES).where(
            _SAMPLES.c.bin_id == bindparam("p_bin"), _SAMPLES.c.at < bindparam("p_cut")
        ),
        [{"p_bin": b, "p_cut": at - SAMPLE_RETENTION} for b, at in sorted(newest.items())],
    )
    rates: dict[str, float | None] = {}
    for chunk in chunks(newest):
        window: dict[str, list[tuple[datetime, float]]] = {b: [] for b in chunk}
        for b, t, v in session.execute(
            select(FillSample.bin_id, FillSample.at, FillSample.fill_pct)
            .where(
                FillSample.bin_id.in_(chunk),
                FillSample.at >= min(newest[b] for b in chunk) - FORECAST_WINDOW,
            )
            .order_by(FillSample.bin_id, FillSample.at)
        ):
            if newest[b] - FORECAST_WINDOW <= t <= newest[b]:
                window[b].append((t, v))
        rates.update((b, fill_rate_pct_per_h(w)) for b, w in window.items())
    return rates


@dataclass
class FillOutcome:
    """What one fill reading changed."""

    bin_id: str
    applied: bool  # False for a stale or replayed reading
    opened_pickup_id: int | None = None
    alerts: list[str] = field(default_factory=list)
    #: the bin's newest forecast sample after the reading
    sampled_at: datetime | None = None


def apply_fill(session: Session, *, fill: Fill, received_at: datetime) -> FillOutcome:
    """Apply one reading to its bin (row locked): state, alerts, samples, pickup.

    The decision is :func:`cloud.fill_policy.decide`'s; this applies it. Flushes.
    """
    b = session.scalar(
        select(Bin)
        .where(Bin.bin_id == fill.bin_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the ingest may have written it behind
    )
    if b is None:
        raise NotFound(f"unknown bin {fill.bin_id!r}")
    if b.device_id is not None and b.device_id != fill.device_id:
        raise LedgerError(f"bin {b.bin_id!r} belongs to {b.device_id!r}, not {fill.device_id!r}")
    sampled_at = newest_sample_at(session, bin_id=b.bin_id)
    out = FillOutcome(bin_id=b.bin_id, applied=False, sampled_at=sampled_at)
    d = decide(b, sampled_at, fill, received_at)
    if d is None:
        return out  # replay or out-of-order: the state already reflects newer data
    out.applied = True
    b.last_seq, b.state_at, b.lid_open, b.tilted, b.armed = (
        d.seq,
        d.at,
        d.lid_open,
        d.tilted,
        d.armed,
    )
    for kind, message in d.raise_alerts:
        details = {"fill_pct": d.level} if kind == "bin_full" else None
        if raise_alert(
            session,
            kind=kind,
            subject=b.bin_id,
            message=message,
            site_id=b.site_id,
            details=details,
        ):
            out.alerts.append(kind)
    for kind in d.clear_alerts:
        clear_alert(session, kind=kind, subject=b.bin_id)
    if d.level is None:
        b.fault = d.fault
    else:
        b.fault, b.fill_pct, b.distance_mm = None, d.level, d.distance_mm
        if d.sample:
            rates = keep_samples(session, [(b.bin_id, d.at, d.level)])
            b.fill_rate_pct_per_h, out.sampled_at = rates[b.bin_id], d.at
        b.forecast_full_at = forecast_full_at(d.at, d.level, b.fill_rate_pct_per_h)
    if d.pickup_priority is not None and open_pickup_for_bin(session, bin_id=b.bin_id) is None:
        p = open_pickup(
            session,
            kind="bin_full",
            bin_id=b.bin_id,
            due_at=pickup_due(d.at, b.forecast_full_at),
            priority=d.pickup_priority,
            fill_pct=d.level,
        )
        out.opened_pickup_id = p.id
    session.flush()
    return out


# --------------------------------------------------------------------------- pickups


def open_pickup_for_bin(session: Session, *, bin_id: str) -> Pickup | None:
    return session.scalar(
        select(Pickup).where(Pickup.bin_id == bin_id, Pickup.status.in_(OPEN_PICKUP_STATES))
    )


def open_pickup(
    session: Session,
    *,
    kind: str = "manual",
    bin_id: str | None = None,
    household_id: int | None = None,
    due_at: datetime | None = None,
    priority: int = 0,
    note: str | None = None,
    requested_by: str | None = None,
    fill_pct: float | None = None,
    category: str | None = None,
) -> Pickup:
    """Open a pickup for a bin or a household. Refuses a second open one for a bin.

    Audited when someone asked for it (``requested_by``); a bin's own crossing is not a
    person's action (its fill samples tell it)."""
    if kind not in ("bin_full", "household", "manual"):
        raise LedgerError(f"unknown pickup kind {kind!r}")
    if (bin_id is None) == (household_id is None):
        raise LedgerError("a pickup is for exactly one of a bin or a household")
    site_id: int | None = None
    if bin_id is not None:
        b = get_bin(session, bin_id=bin_id)
        if open_pickup_for_bin(session, bin_id=bin_id) is not None:
            raise LedgerError(f"bin {bin_id!r} already has an open pickup")
        site_id, category = b.site_id, category or b.category_code
    else:
        hh = session.get(Household, household_id)
        if hh is None or not hh.active:
            raise NotFound(f"unknown or inactive household {household_id}")
        site_id = hh.site_id
    p = Pickup(
        kind=kind,
        status="open",
        bin_id=bin_id,
        household_id=household_id,
        site_id=site_id,
        category_code=category,
        priority=priority,
        opened_at=utcnow(),
        due_at=due_at,
        fill_pct_at_open=fill_pct,
        note=note,
        requested_by=requested_by,
    )
    session.add(p)
    session.flush()
    events.pickup_opened(session, p)
    if requested_by is not None:
        _audit(session, p, "pickup.open", requested_by, None)
    return p


def _audit(session: Session, p: Pickup, action: str, by: str | None, was: str | None) -> None:
    audit.record(
        session,
        actor=by,
        action=action,
        subject=f"pickup:{p.id}",
        before={"status": was} if was else None,
        after={
            "status": p.status,
            "collector_id": p.collector_id,
            "collected_g": p.collected_g,
            "reason": p.cancel_reason,
        },
        site_id=p.site_id,
    )


def _pickup(session: Session, pickup_id: int) -> Pickup:
    p = session.scalar(select(Pickup).where(Pickup.id == pickup_id).with_for_update())
    if p is None:
        raise NotFound(f"unknown pickup {pickup_id}")
    return p


def assign_pickup(
    session: Session, *, pickup_id: int, collector_id: int, by: str | None = None
) -> Pickup:
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    was = p.status
    p.status, p.collector_id, p.assigned_at = "assigned", collector_id, utcnow()
    session.flush()
    events.pickup_assigned(session, p)
    _audit(session, p, "pickup.assign", by, was)
    return p


def complete_pickup(
    session: Session,
    *,
    pickup_id: int,
    collected_g: int | None = None,
    note: str | None = None,
    by: str | None = None,
    weighed: bool = False,
) -> Pickup:
    """Mark a pickup done. A household's pickup is done only with its weigh-ins, which
    pay the household (:func:`cloud.doorstep.complete_at_door` says ``weighed``)."""
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    if p.household_id is not None and not weighed:
        raise LedgerError(
            f"pickup {pickup_id} is a household's: complete it at the door with its "
            "weigh-ins, which credit the household"
        )
    if collected_g is not None and collected_g < 0:
        raise LedgerError("collected_g must be >= 0")
    was = p.status
    p.status, p.completed_at, p.collected_g = "done", utcnow(), collected_g
    if note:
        p.note = note[:500]
    session.flush()
    events.pickup_completed(session, p)
    _audit(session, p, "pickup.complete", by, was)
    return p


def cancel_pickup(
    session: Session, *, pickup_id: int, reason: str, by: str | None = None
) -> Pickup:
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    was = p.status
    p.status, p.cancelled_at, p.cancel_reason = "cancelled", utcnow(), reason[:300]
    session.flush()
    _audit(session, p, "pickup.cancel", by, was)
    return p


def list_pickups(
    session: Session,
    *,
    status: str | Sequence[str] | None = None,
    collector_id: int | None = None,
    household_id: int | None = None,
    site_id: int | None = None,
    limit: int = 200,
) -> list[Pickup]:
    """Pickups by due time (soonest first, undated last), then priority."""
    q = pickups_query(
        status=status, collector_id=collector_id, household_id=household_id, site_id=site_id
    )
    return list(session.scalars(q.limit(limit)))


def pickups_query(
    *,
    status: str | Sequence[str] | None = None,
    collector_id: int | None = None,
    household_id: int | None = None,
    site_id: int | None = None,
    completed_since: datetime | None = None,
) -> Select[Pickup]:
    """:func:`list_pickups`'s statement (index ``ix_pickups_site_status_due`` behind a
    site's board); ``completed_since``: done at or after that time (the board's "today")."""
    q = select(Pickup)
    if isinstance(status, str):
        q = q.where(Pickup.status == status)
    elif status is not None:
        q = q.where(Pickup.status.in_(list(status)))
    if collector_id is not None:
        q = q.where(Pickup.collector_id == collector_id)
    if household_id is not None:
        q = q.where(Pickup.household_id == household_id)
    if site_id is not None:
        q = q.where(Pickup.site_id == site_id)
    if completed_since is not None:
        q = q.where(Pickup.completed_at >= completed_since)
    return q.order_by(Pickup.due_at.asc().nulls_last(), Pickup.priority.desc(), Pickup.id)
