"""Device provisioning: the device registry row plus its broker account, in one step.

:func:`provision_device` registers a device (a scale station or a bin sensor), gives it
a fresh random MQTT password and creates its broker account through the
:class:`cloud.broker_accounts.AccountStore` — Mosquitto's dynamic-security plugin over its
control topic in production (the account may connect only with its own client id and
reach only its own topics), the embedded broker's document in the demo. The password is
returned once and never stored in clear.

:func:`revoke_device` marks the device revoked (ingest then dead-letters anything it
still sends) and deletes its broker account: Mosquitto disconnects the device at once and
refuses its next connection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cloud import audit
from cloud.broker_accounts import AccountStore, BrokerAccountError, new_password
from cloud.errors import LedgerError, NotFound
from cloud.models import Device, utcnow
from contract.topics import valid_device_id

log = logging.getLogger(__name__)

DEVICE_KINDS = ("station", "bin")


class ProvisioningError(LedgerError):
    """The device cannot be provisioned as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeviceExists(ProvisioningError):
    pass


@dataclass(frozen=True, slots=True)
class Credentials:
    device_id: str
    username: str
    password: str


def provision_device(
    session: Session,
    accounts: AccountStore,
    *,
    device_id: str,
    kind: str,
    name: str | None = None,
    site_id: int | None = None,
    by: str | None = None,
) -> Credentials:
    """Register ``device_id`` (or re-enable a revoked one) and create its broker account.

    Raises :class:`DeviceExists` if an active device already has that id,
    :class:`ProvisioningError` if the broker already has an account of that name (a
    service account), :class:`BrokerAccountError` if the broker is unreachable. Flushes
    the registry row; the caller commits (after which the credentials are handed out).
    """
    if not valid_device_id(device_id):
        raise ProvisioningError(
            "a device id is 3-48 lower-case letters, digits or dashes", field="device_id"
        )
    if kind not in DEVICE_KINDS:
        raise ProvisioningError(f"kind must be one of {', '.join(DEVICE_KINDS)}", field="kind")
    dev = session.get(Device, device_id)
    if dev is not None and not dev.revoked:
        raise DeviceExists(f"device {device_id} is already provisioned")
    if dev is None:
        dev = Device(device_id=device_id, kind=kind, name=name, site_id=site_id)
        session.add(dev)
    else:
        dev.kind, dev.revoked, dev.revoked_at = kind, False, None
        dev.name = name or dev.name
        dev.site_id = site_id if site_id is not None else dev.site_id
    session.flush()
    password = new_password()
    try:
        accounts.add_device(device_id, password)
    except BrokerAccountError as exc:
        if "Client already exists" in str(exc):
            raise ProvisioningError(
                f"the broker already has an account named {device_id!r}", field="device_id"
            ) from None
        raise
    audit.record(
        session,
        actor=by,
        action="device.provision",
        subject=f"device:{device_id}",
        after={"kind": kind, "name": dev.name, "site_id": dev.site_id},
        site_id=dev.site_id,
    )
    return Credentials(device_id=device_id, username=device_id, password=password)


def revoke_device(
    session: Session, accounts: AccountStore, *, device_id: str, by: str | None = None
) -> Device:
    """Revoke a device: registry flag (flushed first), then its broker account deleted.

    A :class:`BrokerAccountError` leaves the registry flag set in the session: commit it
    (ingest refuses the device from then on) and retry the revocation for the broker.
    """
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"unknown device {device_id}")
    if not dev.revoked:
        dev.revoked, dev.revoked_at = True, utcnow()
        audit.record(
            session,
            actor=by,
            action="device.revoke",
            subject=f"device:{device_id}",
            before={"revoked": False},
            after={"revoked": True},
            site_id=dev.site_id,
        )
    session.flush()
    accounts.remove_device(device_id)
    return dev
