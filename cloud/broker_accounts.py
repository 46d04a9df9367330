"""Mosquitto accounts and ACL: one account per device, confined to its own topics.

The password file uses Mosquitto 2's PBKDF2-SHA512 format (``$7$``), written here in
pure Python so provisioning does not need ``mosquitto_passwd``. After changing the files,
send the broker SIGHUP (:func:`reload_broker`) and it re-reads both.

The ACL (see :func:`render_acl`) lets a device write only
``salinmas/v1/dev/<its username>/{weighin,fill,health,status}`` and read only its own
``receipt`` and ``cmd``; service accounts (ingest, api) get what their role needs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from contract.topics import PREFIX, TOPIC_SPECS, valid_device_id

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default
SALT_BYTES = 12

#: service accounts and their role; devices are every other account
SERVICE_ROLES = ("ingest", "api")


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A Mosquitto 2 password-file hash (``$7$<iterations>$<salt>$<hash>``)."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        _, kind, iterations, salt_b64, hash_b64 = encoded.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    salt = base64.b64decode(salt_b64)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    return secrets.compare_digest(base64.b64encode(digest).decode(), hash_b64)


def new_password() -> str:
    """A fresh random device password (shown once at provisioning)."""
    return secrets.token_urlsafe(24)


def render_acl(service_accounts: Mapping[str, str]) -> str:
    """The ACL file. ``service_accounts`` maps a username to its role (``ingest``/``api``)."""
    ups = [k.value for k, s in TOPIC_SPECS.items() if s.upstream]
    downs = [k.value for k, s in TOPIC_SPECS.items() if not s.upstream]
    lines = ["# Salinmas broker ACL (generated; edit the code, not this file)", ""]
    for user, role in sorted(service_accounts.items()):
        if role not in SERVICE_ROLES:
            raise ValueError(f"unknown service role {role!r} for {user!r}")
        lines.append(f"user {user}")
        lines.append(f"topic read {PREFIX}/+/+")
        for kind in downs:
            lines.append(f"topic write {PREFIX}/+/{kind}")
        lines.append("")
    lines.append("# every device: its own topics only (%u is the MQTT username)")
    for kind in ups:
        lines.append(f"pattern write {PREFIX}/%u/{kind}")
    for kind in downs:
        lines.append(f"pattern read {PREFIX}/%u/{kind}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    password_hash: str


class AccountFiles:
    """The broker's password and ACL files on disk (owned by the cloud, read by Mosquitto)."""

    def __init__(self, password_file: Path, acl_file: Path) -> None:
        self.password_file = Path(password_file)
        self.acl_file = Path(acl_file)

    def read_accounts(self) -> dict[str, str]:
        if not self.password_file.exists():
            return {}
        out: dict[str, str] = {}
        for line in self.password_file.read_text().splitlines():
            if ":" in line:
                user, _, encoded = line.partition(":")
                out[user] = encoded
        return out

    def write(self, accounts: Mapping[str, str], service_accounts: Mapping[str, str]) -> None:
        """Atomically replace both files (``accounts``: username -> hash)."""
        body = "".join(f"{u}:{h}\n" for u, h in sorted(accounts.items()))
        _atomic_write(self.password_file, body)
        _atomic_write(self.acl_file, render_acl(service_accounts))

    def set_password(
        self, username: str, password: str, service_accounts: Mapping[str, str]
    ) -> None:
        if username not in service_accounts and not valid_device_id(username):
            raise ValueError(f"invalid device id {username!r}")
        accounts = self.read_accounts()
        accounts[username] = hash_password(password)
        self.write(accounts, service_accounts)

    def remove(self, usernames: Iterable[str], service_accounts: Mapping[str, str]) -> bool:
        accounts = self.read_accounts()
        removed = False
        for u in usernames:
            removed |= accounts.pop(u, None) is not None
        self.write(accounts, service_accounts)
        return removed


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def reload_broker(pid: int) -> None:
    """Tell Mosquitto to re-read its password and ACL files."""
    os.kill(pid, signal.SIGHUP)
