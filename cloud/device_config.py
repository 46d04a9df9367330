"""One-time configuration links for a device (the Pi downloads its identity once).

An administrator provisions a device and asks for a link (:func:`issue_link`): a random
token, kept only as its sha256, valid for ``ttl`` and for one download. The Pi (or the
administrator's browser, to copy it over) fetches ``GET /api/v1/device-config/{token}``;
:func:`redeem` then makes a fresh broker password for the device — its broker account is
re-created with it — and returns the ``/etc/salinmas/edge.env`` file the systemd unit
reads (identity, broker address, password). The password exists only in that answer:
nothing stores it, and a second download of the same link is refused (410).

The file::

    SALINMAS_EDGE_DEVICE_ID=st-bank07
    SALINMAS_EDGE_SITE=bank07
    SALINMAS_EDGE_MQTT__HOST=mqtt.example.id
    SALINMAS_EDGE_MQTT__PORT=8883
    SALINMAS_EDGE_MQTT__TLS=true
    SALINMAS_EDGE_MQTT__PASSWORD=...

The hardware part (scale port, protocol, buttons) stays in ``station.toml``
(``docs/edge-deploy.md``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.broker_accounts import AccountStore, BrokerAccountError, new_password
from cloud.errors import LedgerError, NotFound
from cloud.models import Device, Site, utcnow
from cloud.models.admin import DeviceConfigLink

DEFAULT_TTL = timedelta(hours=24)


class LinkGone(LedgerError):
    """The link is unknown, used or expired (answered 410: ask for a new one)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(
    session: Session, *, device_id: str, by: str, ttl: timedelta = DEFAULT_TTL
) -> tuple[str, DeviceConfigLink]:
    """A new one-time link for ``device_id`` (earlier unused links of it stop working)."""
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"unknown device {device_id!r}")
    if dev.revoked:
        raise LedgerError(f"device {device_id} is revoked: provision it again first")
    now = utcnow()
    for old in session.scalars(
        select(DeviceConfigLink).where(
            DeviceConfigLink.device_id == device_id, DeviceConfigLink.used_at.is_(None)
        )
    ):
        old.expires_at = min(old.expires_at, now)
    token = secrets.token_urlsafe(24)
    link = DeviceConfigLink(
        device_id=device_id, token_hash=_hash(token), created_by=by, expires_at=now + ttl
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="device.config_link",
        subject=f"device:{device_id}",
        after={"link_id": link.id, "expires_at": link.expires_at},
        site_id=dev.site_id,
    )
    return token, link


def redeem(session: Session, accounts: AccountStore, *, token: str, broker: BrokerAddress) -> str:
    """Use a link once: a fresh broker password for its device and the ``edge.env`` text.

    The link row is locked and marked used before the broker is touched; if the broker
    fails, the caller rolls back (the link stays usable) and answers 503.
    """
    link = session.scalar(
        select(DeviceConfigLink)
        .where(DeviceConfigLink.token_hash == _hash(token))
        .with_for_update()
    )
    now = utcnow()
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise LinkGone("this configuration link is unknown, used or expired: ask for a new one")
    dev = session.get(Device, link.device_id)
    if dev is None or dev.revoked:
        raise LinkGone("the device of this link is revoked")
    link.used_at = now
    session.flush()
    password = new_password()
    try:
        accounts.remove_device(dev.device_id)
    except BrokerAccountError as exc:
        if "not found" not in str(exc).lower():
            raise
    accounts.add_device(dev.device_id, password)
    site = session.get(Site, dev.site_id) if dev.site_id is not None else None
    audit.record(
        session,
        actor=f"device:{dev.device_id}",
        action="device.config_download",
        subject=f"device:{dev.device_id}",
        after={"link_id": link.id},
        site_id=dev.site_id,
    )
    lines = [
        "# /etc/salinmas/edge.env: this device's identity and broker account (keep it 0600)",
        f"SALINMAS_EDGE_DEVICE_ID={dev.device_id}",
        *([f"SALINMAS_EDGE_SITE={site.code}"] if site else []),
        f"SALINMAS_EDGE_MQTT__HOST={broker.host}",
        f"SALINMAS_EDGE_MQTT__PORT={broker.port}",
        f"SALINMAS_EDGE_MQTT__TLS={'true' if broker.tls else 'false'}",
        f"SALINMAS_EDGE_MQTT__PASSWORD={password}",
    ]
    return "\n".join(lines) + "\n"
