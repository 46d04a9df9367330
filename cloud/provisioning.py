"""Device provisioning: the device registry row plus its broker account, in one step.

:func:`provision_device` registers a device (a scale station or a bin sensor), gives it
a fresh random MQTT password, writes the password file (the ACL's ``pattern`` lines
confine every device to ``salinmas/v1/dev/<its id>/...``) and makes Mosquitto re-read
its files (SIGHUP). The password is returned once and never stored in clear.

:func:`revoke_device` marks the device revoked (ingest then dead-letters anything it
still sends), removes its broker account and reloads the broker: the device's next
connection is refused, and Mosquitto re-checks connected clients on reload, dropping a
client whose account is gone.

File edits are serialised with an advisory lock (``fcntl.flock`` on ``<passwd>.lock``)
so two API workers cannot lose each other's change.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from cloud.broker_accounts import AccountFiles, new_password, reload_broker
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


@dataclass(frozen=True)
class BrokerControl:
    """Where the broker's account files are and how to make it re-read them.

    ``pid_file`` holds Mosquitto's pid (``pid_file`` in mosquitto.conf); when it is
    ``None`` or missing the files are written and the reload is skipped with a warning
    (e.g. a broker that watches its files itself).
    """

    files: AccountFiles
    service_accounts: Mapping[str, str]
    pid_file: Path | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        lock = self.files.password_file.with_name(self.files.password_file.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def reload(self) -> bool:
        if self.pid_file is None or not self.pid_file.exists():
            log.warning("broker pid file %s not found; broker not reloaded", self.pid_file)
            return False
        try:
            pid = int(self.pid_file.read_text().strip())
            reload_broker(pid)
        except (ValueError, ProcessLookupError, PermissionError) as exc:
            log.warning("could not reload the broker from %s: %s", self.pid_file, exc)
            return False
        return True


@dataclass(frozen=True, slots=True)
class Credentials:
    device_id: str
    username: str
    password: str


def provision_device(
    session: Session,
    broker: BrokerControl,
    *,
    device_id: str,
    kind: str,
    name: str | None = None,
    site_id: int | None = None,
) -> Credentials:
    """Register ``device_id`` (or re-enable a revoked one) and create its broker account.

    Raises :class:`DeviceExists` if an active device already has that id. Flushes the
    registry row; the caller commits (after which the credentials are handed out).
    """
    if not valid_device_id(device_id):
        raise ProvisioningError(
            "a device id is 3-48 lower-case letters, digits or dashes", field="device_id"
        )
    if device_id in broker.service_accounts:
        raise ProvisioningError("that id is a service account", field="device_id")
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
    with broker.locked():
        broker.files.set_password(device_id, password, broker.service_accounts)
    broker.reload()
    return Credentials(device_id=device_id, username=device_id, password=password)


def revoke_device(session: Session, broker: BrokerControl, *, device_id: str) -> Device:
    """Revoke a device: registry flag, broker account removed, broker reloaded."""
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"unknown device {device_id}")
    if not dev.revoked:
        dev.revoked, dev.revoked_at = True, utcnow()
    session.flush()
    with broker.locked():
        broker.files.remove([device_id], broker.service_accounts)
    broker.reload()
    return dev
