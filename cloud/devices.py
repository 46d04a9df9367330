"""The device registry: registration, revocation, online status and health.

A device's id is also its MQTT username. Broker accounts themselves live in
:mod:`cloud.broker_accounts`; this module keeps what the cloud knows about the device.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError, NotFound
from cloud.households import ensure_site
from cloud.models import Device, Site, utcnow
from cloud.pickups import clear_alert, raise_alert
from contract import DeviceStatus, Health
from contract.models import MAX_WEIGHT_G

DeviceKind = Literal["station", "bin"]


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


def apply_health(session: Session, *, health: Health, received_at: datetime) -> Device:
    """Record a heartbeat: version, uptime, outbox depth, last seen."""
    dev = session.get(Device, health.device_id)
    if dev is None:
        raise NotFound(f"unknown device {health.device_id!r}")
    _seen(dev, received_at)
    if dev.health_at is None or received_at >= dev.health_at:
        dev.health_at = received_at
        dev.sw_version = health.sw_version
        dev.boot_id = str(health.boot_id)
        dev.uptime_s = health.uptime_s
        dev.outbox_depth = health.outbox_depth
        dev.outbox_capacity = health.outbox_capacity
        if health.sw_hash is not None:
            dev.sw_hash, dev.config_hash = health.sw_hash, health.config_hash
    session.flush()
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
