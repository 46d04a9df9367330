"""The device registry: registration, revocation, online status and health.

A device's id is also its MQTT username. Broker accounts themselves live in
:mod:`cloud.broker_accounts`; this module keeps what the cloud knows about the device.

Heartbeats (:class:`Heartbeat`) have one rule, kept here: the fields a heartbeat sets
and *newer wins* (by receive time; an older heartbeat never overwrites a newer one, a
tie goes to the later arrival). :func:`write_device_state` is its only writer: the
one-message path (:func:`apply_health`) and the ingest's device cache, which keeps the
newest heartbeat and last-seen time per device and writes them behind
(:mod:`cloud.ingest.state`), both go through it.

Lock order: a transaction that writes several ``devices`` rows takes them in device-id
order — :func:`write_device_state` writes its rows sorted by id in one statement, and
:func:`lock_devices` locks a set of rows in that order before the one-message path
writes them in message order. So two ingest workers wait for each other instead of
deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, Table, and_, bindparam, case, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.households import ensure_site
from cloud.models import Device, Site, utcnow
from cloud.pickups import clear_alert, raise_alert
from contract import DeviceStatus, Health
from contract.models import MAX_WEIGHT_G

DeviceKind = Literal["station", "bin"]
_DEV: Table = Device.__table__  # type: ignore[assignment]


def register_device(
    session: Session,
    *,
    device_id: str,
    kind: DeviceKind,
    site: str | None = None,
    name: str | None = None,
    capacity_g: int | None = None,
) -> Device:
    """Register (or re-activate) a device; ``site`` is a site code. Flushes.

    ``capacity_g``: the capacity of a station's scale (default
    :data:`~cloud.models.DEFAULT_CAPACITY_G`; a re-activated device keeps its own).
    """
    if kind not in ("station", "bin"):
        raise ValueError(f"unknown device kind {kind!r}")
    site_id = ensure_site(session, code=site).id if site else None
    dev = session.get(Device, device_id)
    if dev is None:
        dev = Device(device_id=device_id, kind=kind, site_id=site_id, name=name, revoked=False)
        session.add(dev)
    else:
        dev.kind, dev.site_id, dev.revoked, dev.revoked_at = kind, site_id, False, None
        if name is not None:
            dev.name = name
    session.flush()
    if capacity_g is not None:
        set_capacity(session, device_id=device_id, capacity_g=capacity_g)
    return dev


def set_capacity(session: Session, *, device_id: str, capacity_g: int) -> Device:
    """Set the capacity (Max, grams) of a station's scale: ingest refuses a weigh-in whose
    net + tare exceeds it (``over_capacity``). At most the contract's 10 t. Flushes."""
    if not 0 < capacity_g <= MAX_WEIGHT_G:
        raise LedgerError(f"capacity_g must be 1..{MAX_WEIGHT_G} grams")
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"unknown device {device_id!r}")
    dev.capacity_g = capacity_g
    session.flush()
    return dev


def revoke_device(session: Session, *, device_id: str) -> Device:
    """Mark a device revoked: ingest dead-letters everything it sends from now on."""
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"unknown device {device_id!r}")
    dev.revoked, dev.revoked_at = True, utcnow()
    session.flush()
    return dev


def get_device(session: Session, *, device_id: str) -> Device | None:
    return session.get(Device, device_id)


def devices_query(
    *,
    site: str | None = None,
    site_id: int | None = None,
    kind: str | None = None,
    online: bool | None = None,
    revoked: bool | None = None,
) -> Select[Device]:
    """Devices by id (index ``ix_devices_site_device`` behind a site's), filtered."""
    q = select(Device).order_by(Device.device_id)
    if site is not None:
        q = q.join(Site, Site.id == Device.site_id).where(Site.code == site)
    for col, value in (
        (Device.site_id, site_id),
        (Device.kind, kind),
        (Device.online, online),
        (Device.revoked, revoked),
    ):
        if value is not None:
            q = q.where(col == value)
    return q


def list_devices(session: Session, *, site: str | None = None) -> list[Device]:
    return list(session.scalars(devices_query(site=site)))


def _seen(dev: Device, at: datetime) -> None:
    if dev.last_seen is None or at > dev.last_seen:
        dev.last_seen = at


def apply_status(session: Session, *, status: DeviceStatus, received_at: datetime) -> Device:
    """Apply a retained status / Last Will: online or offline (raises/clears an alert)."""
    dev = session.get(Device, status.device_id)
    if dev is None:
        raise NotFound(f"unknown device {status.device_id!r}")
    # ordered by receive time, not the payload's ``at``: a Last Will is composed at
    # connect time (older than the "online" sent after it) and device clocks may be off;
    # the broker delivers one device's status messages in order
    if dev.status_at is not None and received_at < dev.status_at:
        return dev
    dev.online = status.state == "online"
    dev.status_at = received_at
    if status.sw_version:
        dev.sw_version = status.sw_version
    if status.boot_id is not None:
        dev.boot_id = str(status.boot_id)
    if dev.online:
        _seen(dev, received_at)
        clear_alert(session, kind="device_offline", subject=dev.device_id)
    else:
        raise_alert(
            session,
            kind="device_offline",
            subject=dev.device_id,
            site_id=dev.site_id,
            message=f"device {dev.device_id} went offline",
        )
    session.flush()
    return dev


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What one heartbeat sets on its device's row, and when it was received."""

    device_id: str
    received_at: datetime
    sw_version: str
    boot_id: str
    uptime_s: int
    outbox_depth: int
    outbox_capacity: int
    #: a build and configuration reported with it (both or neither; None keeps the row's)
    sw_hash: str | None = None
    config_hash: str | None = None

    @classmethod
    def of(cls, health: Health, received_at: datetime) -> Heartbeat:
        return cls(
            health.device_id,
            received_at,
            health.sw_version,
            str(health.boot_id),
            health.uptime_s,
            health.outbox_depth,
            health.outbox_capacity,
            health.sw_hash,
            health.config_hash if health.sw_hash is not None else None,
        )

    def supersedes(self, health_at: datetime | None) -> bool:
        """Newer wins: whether this heartbeat replaces one received at ``health_at``.

        The same rule, in SQL, guards :func:`write_device_state` (:func:`_newer`).
        """
        return health_at is None or self.received_at >= health_at


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What is written to one device row: when it was last heard from, its heartbeat."""

    device_id: str
    seen: datetime | None = None
    heartbeat: Heartbeat | None = None


def _param(name: str, column: str) -> Any:
    return bindparam(name, type_=_DEV.c[column].type)


def _newer() -> Any:
    """:meth:`Heartbeat.supersedes` against the row, for a row that has a heartbeat."""
    at = _param("h_at", "health_at")
    return and_(at.is_not(None), or_(_DEV.c.health_at.is_(None), _DEV.c.health_at <= at))


def _heartbeat_statement() -> Any:
    seen = _param("d_seen", "last_seen")
    newer = _newer()
    values: dict[str, Any] = {
        "last_seen": case(
            (
                and_(seen.is_not(None), or_(_DEV.c.last_seen.is_(None), _DEV.c.last_seen < seen)),
                seen,
            ),
            else_=_DEV.c.last_seen,
        ),
        "health_at": case((newer, _param("h_at", "health_at")), else_=_DEV.c.health_at),
    }
    for col in ("sw_version", "boot_id", "uptime_s", "outbox_depth", "outbox_capacity"):
        values[col] = case((newer, _param(f"h_{col}", col)), else_=_DEV.c[col])
    hashed = and_(newer, _param("h_sw_hash", "sw_hash").is_not(None))
    for col in ("sw_hash", "config_hash"):
        values[col] = case((hashed, _param(f"h_{col}", col)), else_=_DEV.c[col])
    return update(_DEV).where(_DEV.c.device_id == bindparam("d_id")).values(values)


_WRITE = _heartbeat_statement()


def write_device_state(session: Session, states: Iterable[DeviceState]) -> int:
    """Write last-seen times (they only move forward) and heartbeats (newer wins).

    One statement for all rows, executed in device-id order (the lock order above).
    Flushes the session first and expires the devices it wrote. Returns the row count.
    """
    rows = sorted(states, key=lambda st: st.device_id)
    if not rows:
        return 0
    session.flush()
    params = []
    for st in rows:
        hb = st.heartbeat
        params.append(
            {
                "d_id": st.device_id,
                "d_seen": st.seen,
                "h_at": hb.received_at if hb else None,
                "h_sw_version": hb.sw_version if hb else None,
                "h_boot_id": hb.boot_id if hb else None,
                "h_uptime_s": hb.uptime_s if hb else None,
                "h_outbox_depth": hb.outbox_depth if hb else None,
                "h_outbox_capacity": hb.outbox_capacity if hb else None,
                "h_sw_hash": hb.sw_hash if hb else None,
                "h_config_hash": hb.config_hash if hb else None,
            }
        )
    session.connection().execute(_WRITE, params)
    for st in rows:
        dev = session.identity_map.get(identity_key(Device, st.device_id))
        if dev is not None:
            session.expire(dev)
    return len(rows)


def lock_devices(session: Session, device_ids: Iterable[str]) -> None:
    """Lock the rows of ``device_ids`` in device-id order (``FOR UPDATE``; a no-op on
    SQLite, whose writers take the whole database), before writing them in any order."""
    for chunk in chunks(device_ids):
        session.execute(
            select(_DEV.c.device_id)
            .where(_DEV.c.device_id.in_(chunk))
            .order_by(_DEV.c.device_id)
            .with_for_update()
        ).all()


def apply_health(session: Session, *, health: Health, received_at: datetime) -> Device:
    """Record a heartbeat now (the one-message path): version, uptime, outbox, last seen."""
    dev = session.get(Device, health.device_id)
    if dev is None:
        raise NotFound(f"unknown device {health.device_id!r}")
    hb = Heartbeat.of(health, received_at)
    write_device_state(session, [DeviceState(dev.device_id, received_at, hb)])
    return dev


def touch(session: Session, *, device_id: str, at: datetime) -> None:
    """Note that a device was heard from (any event)."""
    dev = session.get(Device, device_id)
    if dev is not None:
        _seen(dev, at)


def sweep_silent_devices(
    session: Session, *, now: datetime, silent_after: timedelta = timedelta(minutes=15)
) -> list[str]:
    """Mark devices not heard from for ``silent_after`` offline (with an alert).

    The Last Will covers a lost connection the broker notices; this covers what it
    cannot, e.g. a device stuck but still connected, or a broker restart that lost the
    session. Returns the ids newly marked offline. Flushes.
    """
    cutoff = now - silent_after
    changed = []
    for dev in session.scalars(
        select(Device).where(
            Device.online.is_(True), Device.revoked.is_(False), Device.last_seen < cutoff
        )
    ):
        dev.online, dev.status_at = False, now
        raise_alert(
            session,
            kind="device_offline",
            subject=dev.device_id,
            site_id=dev.site_id,
            message=f"device {dev.device_id} silent since {dev.last_seen:%F %T}Z",
        )
        changed.append(dev.device_id)
    session.flush()
    return changed
