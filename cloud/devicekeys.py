"""Which keys, software builds and configurations each station may weigh with.

**Keys — registration is an operator action.** A station makes its Ed25519 key itself
(``salinmas edge identity`` / first start) and announces the public key over its own
MQTT account (every signed weigh-in, heartbeat and configuration entry carries it).
The cloud records an unknown key as ``pending`` and raises a ``device_key`` alert;
nothing it signs is credited (held ``key``) until an operator compares its key id with
the one the station shows and approves it (API ``POST /api/v1/devices/{id}/keys/{key_id}
/approve``), which retires the station's previous key. Trust on first use was the
alternative; it is not the default because whoever presents a key first — a copied SD
card, anyone holding the station's MQTT password — would have been trusted silently.
A public key belongs to one device for ever: the same key presented by another device
(an SD card copied into a second Pi) is refused and raises a ``device_key`` alert.

With ``integrity = "trust_first_use"`` (development and the demo only; production
refuses it) the *first* key a device presents is approved at once (``system:first-use``,
still alerted), and every new software build and configuration is approved when first
seen; any later key still waits for an operator.

**Software and configuration** are approved per station by hash
(:class:`cloud.models.Approval`): a weigh-in made by an unapproved build (``sw_hash``)
or under an unapproved configuration (``config_hash``) is held. The station's
configuration log (``contract.DeviceConfig``) tells the operator what a hash stands for.
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.bulk import Prepared
from cloud.errors import LedgerError, NotFound
from cloud.models import Approval, ConfigLogEntry, Device, DeviceKey, utcnow
from cloud.pickups import raise_alert
from contract import DeviceConfig

log = logging.getLogger(__name__)

ApprovalKind = Literal["software", "config"]
FIRST_USE = "system:first-use"


def key_id(public_key: str) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key (as the station prints)."""
    import hashlib

    return hashlib.sha256(bytes.fromhex(public_key)).hexdigest()[:16]


def announce_key(
    session: Session, *, device_id: str, public_key: str, trust_first_use: bool
) -> DeviceKey | None:
    """Note that ``device_id`` presented ``public_key``; the key row, or None if the key
    belongs to another device (refused, alerted). A new key is ``pending`` (alerted), or
    approved at once when ``trust_first_use`` and the device has no key yet. Flushes."""
    known = session.scalar(select(DeviceKey).where(DeviceKey.public_key == public_key))
    dev = session.get(Device, device_id)
    site_id = dev.site_id if dev is not None else None
    if known is not None:
        if known.device_id == device_id:
            return known
        raise_alert(
            session,
            kind="device_key",
            subject=device_id,
            site_id=site_id,
            message=f"{device_id} presented key {known.key_id} of {known.device_id} "
            "(a copied SD card?): refused",
        )
        return None
    first = session.scalar(select(DeviceKey.id).where(DeviceKey.device_id == device_id)) is None
    row = DeviceKey(
        device_id=device_id, public_key=public_key, key_id=key_id(public_key), status="pending"
    )
    session.add(row)
    session.flush()
    if trust_first_use and first:
        # development: expected for every new station, so no alert for an operator to
        # dismiss (ten of them on a fresh demo); the key row says who approved it
        row.status, row.approved_at, row.approved_by = "approved", utcnow(), FIRST_USE
        log.info("%s: key %s trusted on first use (development)", device_id, row.key_id)
    else:
        message = (
            f"{device_id} presented a new key {row.key_id}: approve it to credit its weigh-ins"
        )
        raise_alert(session, kind="device_key", subject=device_id, site_id=site_id, message=message)
    session.flush()
    return row


def approve_key(session: Session, *, device_id: str, key: str, by: str) -> DeviceKey:
    """Approve a pending key of ``device_id`` (by key id or public key) and retire the
    device's other keys: their chains end, the new key's chain starts at 1. Flushes."""
    row = _key(session, device_id, key)
    if row.status == "retired":
        raise LedgerError(f"key {row.key_id} was retired; the station must make a new one")
    now = utcnow()
    for other in session.scalars(
        select(DeviceKey).where(
            DeviceKey.device_id == device_id, DeviceKey.id != row.id, DeviceKey.status != "retired"
        )
    ):
        other.status, other.retired_at, other.retired_by = "retired", now, by
    if row.status != "approved":
        row.status, row.approved_at, row.approved_by = "approved", now, by
    session.flush()
    _audit(session, by, "device.key_approve", device_id, {"key": row.key_id})
    return row


def retire_key(session: Session, *, device_id: str, key: str, by: str) -> DeviceKey:
    """Retire a key (lost, copied, station replaced): nothing it signs is credited."""
    row = _key(session, device_id, key)
    row.status, row.retired_at, row.retired_by = "retired", utcnow(), by
    session.flush()
    _audit(session, by, "device.key_retire", device_id, {"key": row.key_id})
    return row


def _audit(session: Session, by: str, action: str, device_id: str, after: dict[str, str]) -> None:
    """One audit row for an operator's decision on a station's key or approvals."""
    dev = session.get(Device, device_id)
    audit.record(
        session,
        actor=by,
        action=action,
        subject=f"device:{device_id}",
        after=after,
        site_id=dev.site_id if dev is not None else None,
    )


def _key(session: Session, device_id: str, key: str) -> DeviceKey:
    column = DeviceKey.public_key if len(key) == 64 else DeviceKey.key_id
    row = session.scalar(
        select(DeviceKey).where(DeviceKey.device_id == device_id, column == key.lower())
    )
    if row is None:
        raise NotFound(f"{device_id} has no key {key!r}")
    return row


def keys_of(session: Session, *, device_id: str) -> list[DeviceKey]:
    return list(
        session.scalars(
            select(DeviceKey).where(DeviceKey.device_id == device_id).order_by(DeviceKey.id)
        )
    )


# --------------------------------------------------------------------------- approvals


def approve(
    session: Session,
    *,
    device_id: str,
    kind: ApprovalKind,
    digest: str,
    by: str,
    note: str | None = None,
) -> Approval:
    """Approve a software build or configuration (by hash) for a station. Flushes."""
    if kind not in ("software", "config"):
        raise ValueError(f"unknown approval kind {kind!r}")
    if session.get(Device, device_id) is None:
        raise NotFound(f"unknown device {device_id!r}")
    row = session.scalar(
        select(Approval).where(
            Approval.device_id == device_id, Approval.kind == kind, Approval.digest == digest
        )
    )
    if row is None:
        row = Approval(device_id=device_id, kind=kind, digest=digest, approved_by=by, note=note)
        session.add(row)
    elif row.withdrawn_at is not None:  # approved again: a new decision, same row
        row.withdrawn_at, row.withdrawn_by = None, None
        row.approved_at, row.approved_by, row.note = utcnow(), by, note
    session.flush()
    _audit(session, by, "device.approve", device_id, {"kind": kind, "digest": digest})
    return row


def withdraw(
    session: Session, *, device_id: str, kind: ApprovalKind, digest: str, by: str
) -> Approval:
    """Withdraw an approval: weigh-ins made by that build/configuration are held again."""
    row = session.scalar(
        select(Approval).where(
            Approval.device_id == device_id, Approval.kind == kind, Approval.digest == digest
        )
    )
    if row is None:
        raise NotFound(f"{device_id} has no {kind} approval {digest[:12]}")
    row.withdrawn_at, row.withdrawn_by = utcnow(), by
    session.flush()
    _audit(session, by, "device.approval_withdraw", device_id, {"kind": kind, "digest": digest})
    return row


def approved_digests(session: Session, device_ids: list[str]) -> set[tuple[str, str, str]]:
    """``(device_id, kind, digest)`` of every approval in force for ``device_ids``."""
    if not device_ids:
        return set()
    rows = session.execute(_APPROVED(session), {"keys": device_ids})
    return {(d, k, g) for d, k, g in rows}


_APPROVED = Prepared(
    lambda keys: select(Approval.device_id, Approval.kind, Approval.digest).where(
        keys(Approval.device_id), Approval.withdrawn_at.is_(None)
    )
)
#: which of a batch's devices sign with an approved key (:class:`cloud.integrity.Inspector`)
SIGNING = Prepared(
    lambda keys: select(DeviceKey.device_id).where(
        keys(DeviceKey.device_id), DeviceKey.status == "approved"
    )
)


# --------------------------------------------------------------------------- config log


def apply_config(
    session: Session, *, event: DeviceConfig, received_at: object, trust_first_use: bool
) -> None:
    """Keep a configuration-log entry (once per event id), note the device's hashes,
    announce its key, and raise a ``device_config`` alert for what is not approved."""
    from datetime import datetime

    assert isinstance(received_at, datetime)
    if session.scalar(select(ConfigLogEntry.id).where(ConfigLogEntry.event_id == event.event_id)):
        return  # a replay
    fields = {
        k: getattr(event, k)
        for k in (
            "event_id",
            "device_id",
            "log_pos",
            "change",
            "sw_version",
            "sw_hash",
            "config_hash",
            "public_key",
            "protocol",
            "division_g",
            "capacity_g",
            "min_divisions",
            "stable_window_ms",
            "min_stable_samples",
            "calibration",
            "device_time",
        )
    }
    session.add(ConfigLogEntry(**fields, received_at=received_at))
    dev = session.get(Device, event.device_id)
    if dev is not None:
        dev.sw_hash, dev.config_hash = event.sw_hash, event.config_hash
    if event.public_key is not None:
        announce_key(
            session,
            device_id=event.device_id,
            public_key=event.public_key,
            trust_first_use=trust_first_use,
        )
    note_build(
        session,
        device_id=event.device_id,
        sw_hash=event.sw_hash,
        config_hash=event.config_hash,
        trust_first_use=trust_first_use,
        change=event.change,
    )
    session.flush()


def note_build(
    session: Session,
    *,
    device_id: str,
    sw_hash: str,
    config_hash: str,
    trust_first_use: bool,
    change: str = "",
) -> None:
    """Approve (trust_first_use) or alert on a build/configuration not approved yet."""
    have = approved_digests(session, [device_id])
    missing = [
        (kind, digest)
        for kind, digest in (("software", sw_hash), ("config", config_hash))
        if (device_id, kind, digest) not in have
    ]
    if not missing:
        return
    dev = session.get(Device, device_id)
    what = ", ".join(f"{k} {d[:12]}" for k, d in missing)
    if trust_first_use:
        for kind, digest in missing:
            approve(
                session,
                device_id=device_id,
                kind=kind,  # type: ignore[arg-type]
                digest=digest,
                by=FIRST_USE,
                note=change[:200] or None,
            )
        if not have:  # a new station: expected, no alert (the approvals record it)
            log.info("%s: %s approved on first use (development)", device_id, what)
            return
        message = f"{device_id}: {what} changed, approved automatically (development)"
    else:
        message = f"{device_id} runs an unapproved {what}: its weigh-ins are held"
    raise_alert(
        session,
        kind="device_config",
        subject=device_id,
        site_id=dev.site_id if dev is not None else None,
        message=message,
    )
