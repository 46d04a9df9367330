"""Bins, fill state, pickups and alerts.

Pickup policy (per bin): a reading at or above ``threshold_pct`` (default 80 %) while
the bin is *armed* opens one pickup and disarms the bin; it re-arms only when a reading
falls below ``threshold_pct - hysteresis_pct`` (the bin was emptied). A partial unique
index also guarantees at most one open/assigned pickup per bin, so oscillation around
the threshold never opens a second one.

Forecast: the fill rate is the least-squares slope of the bin's samples in the last
:data:`FORECAST_WINDOW`; time-to-full extrapolates it to 100 %.

Alerts (``kind``): ``sensor_fault``, ``lid_open``, ``tilt``, ``bin_full``,
``device_offline``; at most one uncleared alert per (kind, subject).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError, NotFound
from cloud.households import ensure_site
from cloud.models import OPEN_PICKUP_STATES, Alert, Bin, FillSample, Household, Pickup, Site, utcnow
from cloud.telemetry.base import event_time
from contract import Fill

FORECAST_WINDOW = timedelta(hours=6)
SAMPLE_RETENTION = timedelta(days=7)
#: a pickup opened by a full bin is due this long after opening when no forecast exists
DEFAULT_DUE = timedelta(hours=12)


# --------------------------------------------------------------------------- alerts


def raise_alert(
    session: Session, *, kind: str, subject: str, message: str, site_id: int | None = None
) -> Alert | None:
    """Raise an alert unless the same (kind, subject) is already active; returns a new one."""
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
) -> Bin:
    """Create or update a bin's registry entry (``site`` is a site code). Flushes."""
    if not 0 < threshold_pct <= 100 or not 0 <= hysteresis_pct < threshold_pct:
        raise LedgerError("need 0 < threshold_pct <= 100 and 0 <= hysteresis_pct < threshold")
    site_id = ensure_site(session, code=site).id if site else None
    b = session.get(Bin, bin_id)
    if b is None:
        b = Bin(bin_id=bin_id, armed=True, active=True)
        session.add(b)
    b.site_id, b.device_id, b.category_code, b.name = site_id, device_id, category, name
    b.x, b.y, b.lat, b.lon = x, y, lat, lon
    b.empty_depth_mm = empty_depth_mm
    b.threshold_pct, b.hysteresis_pct = threshold_pct, hysteresis_pct
    session.flush()
    return b


def get_bin(session: Session, *, bin_id: str) -> Bin:
    b = session.get(Bin, bin_id)
    if b is None:
        raise NotFound(f"unknown bin {bin_id!r}")
    return b


def list_bins(session: Session, *, site: str | None = None) -> list[Bin]:
    q = select(Bin).order_by(Bin.bin_id)
    if site is not None:
        q = q.join(Site, Site.id == Bin.site_id).where(Site.code == site)
    return list(session.scalars(q))


def fill_rate_pct_per_h(samples: list[tuple[datetime, float]]) -> float | None:
    """Least-squares slope of fill % over time, in % per hour (None if < 2 samples)."""
    if len(samples) < 2:
        return None
    t0 = samples[0][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in samples]
    ys = [v for _, v in samples]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def record_sample(session: Session, *, bin_id: str, at: datetime, level: float) -> float | None:
    """Keep one fill sample for the forecast (pruning old ones); the bin's fill rate now."""
    session.add(FillSample(bin_id=bin_id, at=at, fill_pct=level))
    session.execute(
        delete(FillSample).where(FillSample.bin_id == bin_id, FillSample.at < at - SAMPLE_RETENTION)
    )
    session.flush()
    samples = [
        (t, v)
        for t, v in session.execute(
            select(FillSample.at, FillSample.fill_pct)
            .where(FillSample.bin_id == bin_id, FillSample.at >= at - FORECAST_WINDOW)
            .order_by(FillSample.at)
        )
    ]
    return fill_rate_pct_per_h(samples)


def forecast_full_at(at: datetime, level: float, rate: float | None) -> datetime | None:
    """When a bin at ``level`` % at ``at``, filling at ``rate`` %/h, will be full."""
    if level >= 100:
        return at
    if rate is not None and rate > 0.01:
        return at + timedelta(hours=(100 - level) / rate)
    return None


@dataclass
class FillOutcome:
    """What one fill reading changed."""

    bin_id: str
    applied: bool  # False for a stale or replayed reading
    opened_pickup_id: int | None = None
    alerts: list[str] = field(default_factory=list)


def apply_fill(session: Session, *, fill: Fill, received_at: datetime) -> FillOutcome:
    """Update a bin's state from a reading; open a pickup / raise alerts per the policy."""
    b = session.get(Bin, fill.bin_id)
    if b is None:
        raise NotFound(f"unknown bin {fill.bin_id!r}")
    if b.device_id is not None and b.device_id != fill.device_id:
        raise LedgerError(f"bin {b.bin_id!r} belongs to {b.device_id!r}, not {fill.device_id!r}")
    out = FillOutcome(bin_id=b.bin_id, applied=False)
    if b.last_seq is not None and fill.seq <= b.last_seq:
        return out  # replay or out-of-order: the state already reflects newer data
    out.applied = True
    at = event_time(fill.device_time, fill.clock_synced, received_at)
    b.last_seq, b.state_at = fill.seq, at
    was_open, was_tilted, was_faulty = b.lid_open, b.tilted, b.fault is not None
    b.lid_open, b.tilted = fill.lid_open, fill.tilted

    def alert(kind: str, on: bool | None, message: str, was: bool | None = None) -> None:
        if on:
            if raise_alert(
                session, kind=kind, subject=b.bin_id, message=message, site_id=b.site_id
            ):
                out.alerts.append(kind)
        elif on is False and was is not False:  # only what may be raised is cleared
            clear_alert(session, kind=kind, subject=b.bin_id)

    alert("lid_open", fill.lid_open, f"lid of bin {b.bin_id} is open", was_open)
    alert("tilt", fill.tilted, f"bin {b.bin_id} is tilted or knocked over", was_tilted)
    if fill.fault is not None:
        b.fault = fill.fault.value
        alert("sensor_fault", True, f"fill sensor of bin {b.bin_id}: {fill.fault.value}")
        session.flush()
        return out
    alert("sensor_fault", False, "", was_faulty)
    assert fill.fill_pct is not None
    level = fill.fill_pct
    b.fault, b.fill_pct, b.distance_mm = None, level, fill.distance_mm
    rate = record_sample(session, bin_id=b.bin_id, at=at, level=level)
    b.fill_rate_pct_per_h, b.forecast_full_at = rate, forecast_full_at(at, level, rate)

    if b.armed and level >= b.threshold_pct:
        b.armed = False
        alert("bin_full", True, f"bin {b.bin_id} is {level:.0f} % full")
        if open_pickup_for_bin(session, bin_id=b.bin_id) is None:
            due = b.forecast_full_at or at + DEFAULT_DUE
            p = open_pickup(
                session,
                kind="bin_full",
                bin_id=b.bin_id,
                due_at=min(due, at + DEFAULT_DUE),
                priority=2 if level >= 95 else 1,
                fill_pct=level,
            )
            out.opened_pickup_id = p.id
    elif not b.armed and level < b.threshold_pct - b.hysteresis_pct:
        b.armed = True
        clear_alert(session, kind="bin_full", subject=b.bin_id)
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
    """Open a pickup for a bin or a household. Refuses a second open one for a bin."""
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
    return p


def request_household_pickup(
    session: Session,
    *,
    household_id: int,
    category: str | None = None,
    note: str | None = None,
    due_at: datetime | None = None,
    requested_by: str | None = None,
) -> Pickup:
    """A household asks for a pickup at the door (the plastic buy-back by motorbike)."""
    return open_pickup(
        session,
        kind="household",
        household_id=household_id,
        category=category,
        note=note,
        due_at=due_at or utcnow() + timedelta(days=1),
        requested_by=requested_by,
    )


def _pickup(session: Session, pickup_id: int) -> Pickup:
    p = session.scalar(select(Pickup).where(Pickup.id == pickup_id).with_for_update())
    if p is None:
        raise NotFound(f"unknown pickup {pickup_id}")
    return p


def assign_pickup(session: Session, *, pickup_id: int, collector_id: int) -> Pickup:
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    p.status, p.collector_id, p.assigned_at = "assigned", collector_id, utcnow()
    session.flush()
    return p


def complete_pickup(
    session: Session, *, pickup_id: int, collected_g: int | None = None, note: str | None = None
) -> Pickup:
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    if collected_g is not None and collected_g < 0:
        raise LedgerError("collected_g must be >= 0")
    p.status, p.completed_at, p.collected_g = "done", utcnow(), collected_g
    if note:
        p.note = note[:500]
    session.flush()
    return p


def cancel_pickup(session: Session, *, pickup_id: int, reason: str) -> Pickup:
    p = _pickup(session, pickup_id)
    if p.status not in OPEN_PICKUP_STATES:
        raise LedgerError(f"pickup {pickup_id} is {p.status}")
    p.status, p.cancelled_at, p.cancel_reason = "cancelled", utcnow(), reason[:300]
    session.flush()
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
    q = q.order_by(Pickup.due_at.is_(None), Pickup.due_at, Pickup.priority.desc(), Pickup.id)
    return list(session.scalars(q.limit(limit)))
