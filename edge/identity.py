"""The station's identity: its Ed25519 key, the hash of its code and of its configuration.

**The key** is made on the device the first time the agent (or ``salinmas edge
identity``) runs — that is provisioning — and never leaves it: a PKCS#8 PEM file, mode
0600, created with ``O_EXCL`` (never overwritten), next to the outbox unless
``key_file`` says otherwise. A key file readable by group or others is refused, as ssh
refuses one. The public key travels in every signed weigh-in, health heartbeat and
configuration entry; the cloud credits nothing signed by it until an operator approved
it for this device (docs/operations.md, "Device keys").

**The software hash** (``sw_hash``) identifies the installed code, in the spirit of
WELMEC 7.2's software identification: SHA-256 over a manifest of every ``.py`` file of
the packages the agent runs (:data:`AGENT_PACKAGES`), one line
``<sha256 of the file>  <package>/<path>`` per file, sorted by path — so an operator can
recompute it from a release with ``sha256sum`` (``salinmas edge identity`` prints it).

**The configuration hash** (``config_hash``) is :func:`contract.signing.config_hash` of
the station's metrological settings (protocol, division, capacity, stability window,
verification mark): what a weigh-in was made under.

:class:`Signer` seals a weigh-in: it fills in the signing fields, signs
:func:`contract.signing.signed_bytes` and returns the payload with the new chain head;
the outbox stores both in one transaction (:meth:`edge.outbox.Outbox.append_chained`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.models import GENESIS_HASH, Weighin, to_json
from contract.signing import config_hash, record_hash, signed_bytes
from edge.config import StationSettings
from edge.outbox import ChainHead

#: the packages an edge agent process runs (what its software hash covers)
AGENT_PACKAGES = ("contract", "protocols", "edge", "salinmas")
KEY_FILE_MODE = 0o600


class KeyFileError(ValueError):
    """The key file is unusable (unreadable, not an Ed25519 key, or open to others)."""


def key_id(public_hex: str) -> str:
    """A short name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


class DeviceKey:
    """The device's Ed25519 signing key (the private half never leaves this object)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        #: the public key, 64 lower-case hex digits (as on the wire)
        self.public_hex = raw.hex()
        self.key_id = key_id(self.public_hex)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[DeviceKey, bool]:
        """The key in ``path``, made there first if there is none; ``(key, created)``."""
        try:
            return cls.load(path), False
        except FileNotFoundError:
            pass
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        except FileExistsError:  # another process made it meanwhile: use that one
            return cls.load(path), False
        try:
            os.fchmod(fd, KEY_FILE_MODE)  # whatever the umask said
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)
        return cls(private), True

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        """Read the key; :class:`KeyFileError` if others may read it or it is not a key."""
        st = path.stat()  # FileNotFoundError passes through
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"{path} is readable by others (mode {st.st_mode & 0o777:o}); "
                f"chmod 600 it, or provision a new key if it may have been copied"
            )
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} is not a usable private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 key")
        return cls(private)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- software


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def software_manifest(packages: Iterable[str] = AGENT_PACKAGES) -> list[tuple[str, str]]:
    """``(path, sha256)`` of every ``.py`` file of ``packages``, sorted by path."""
    out = []
    for name in packages:
        root = _package_dir(name)
        for path in root.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            rel = f"{name}/{path.relative_to(root).as_posix()}"
            out.append((rel, hashlib.sha256(path.read_bytes()).hexdigest()))
    return sorted(out)


def software_hash(packages: Iterable[str] = AGENT_PACKAGES) -> str:
    """SHA-256 of the manifest, ``"<sha256>  <path>\\n"`` per file (``sha256sum`` style)."""
    manifest = "".join(f"{digest}  {rel}\n" for rel, digest in software_manifest(packages))
    return hashlib.sha256(manifest.encode()).hexdigest()


# --------------------------------------------------------------------------- configuration


def station_config(station: StationSettings | None) -> dict[str, Any]:
    """The metrological configuration (:data:`contract.signing.CONFIG_FIELDS`) of a station;
    all null for a device without a scale."""
    if station is None:
        return dict.fromkeys(
            (
                "protocol",
                "division_g",
                "capacity_g",
                "min_divisions",
                "stable_window_ms",
                "min_stable_samples",
                "calibration",
            )
        )
    return {
        "protocol": station.protocol,
        "division_g": station.division_g,
        "capacity_g": station.capacity_g,
        "min_divisions": station.min_divisions,
        "stable_window_ms": round(station.stable_window_s * 1000),
        "min_stable_samples": station.min_stable_samples,
        "calibration": station.calibration,
    }


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True, slots=True)
class Signer:
    """Seals weigh-ins with the device's key, its software hash and configuration hash."""

    key: DeviceKey
    sw_hash: str
    config_hash: str

    @classmethod
    def for_station(cls, key: DeviceKey, station: StationSettings | None) -> Signer:
        return cls(key, software_hash(), config_hash(station_config(station)))

    @property
    def chain(self) -> str:
        """The name of this key's chain in the outbox (a new key starts a new chain)."""
        return f"weighin:{self.key.key_id}"

    def seal(self, weighin: Weighin, head: ChainHead) -> tuple[bytes, ChainHead]:
        """The signed payload of ``weighin`` as the record after ``head``, and the new head."""
        position = head.position + 1
        unsigned = weighin.model_copy(
            update={
                "public_key": self.key.public_hex,
                "chain_pos": position,
                "prev_hash": head.digest if head.position else GENESIS_HASH,
                "sw_hash": self.sw_hash,
                "config_hash": self.config_hash,
                "signature": None,
            }
        )
        data = signed_bytes(unsigned)
        signed = unsigned.model_copy(update={"signature": self.key.sign(data).hex()})
        return to_json(signed), ChainHead(position, record_hash(data))


# --------------------------------------------------------------------------- the CLI


def describe_identity(settings: Any) -> dict[str, Any]:
    """What an operator compares before approving the device (``salinmas edge identity``).

    Makes the key if there is none yet (provisioning). ``settings``: ``EdgeSettings``.
    """
    key, created = DeviceKey.load_or_create(settings.key_path)
    config = station_config(settings.station)
    return {
        "device_id": settings.device_id,
        "key_file": str(settings.key_path),
        "key_created": created,
        "key_id": key.key_id,
        "public_key": key.public_hex,
        "sw_hash": software_hash(),
        "config_hash": config_hash(config),
        **config,
    }
