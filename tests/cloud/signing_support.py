"""A signing station for the cloud tests: the edge's own key and sealing code, in memory.

:class:`SigningStation` makes weigh-ins exactly as an agent does (``edge.identity.Signer``
sealing each into the key's chain), with frames a real indicator would send for the
weight, and registers/approves itself in the ledger like an operator would.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from cloud import devicekeys
from cloud.ingest import Message
from contract import Kind, Weighin, device_topic
from contract.models import DeviceConfig, DeviceStatus, to_json
from contract.signing import config_hash
from edge.identity import DeviceKey, Signer
from edge.outbox import ChainHead

CONFIG: dict[str, Any] = {
    "protocol": "and_indicator",
    "division_g": 10,
    "capacity_g": 300_000,
    "min_divisions": 20,
    "stable_window_ms": 1000,
    "min_stable_samples": 3,
    "calibration": "UPTD Metrologi Banyumas 2026-03 #0412",
}
SW_HASH = "5" * 64
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def and_frames(grams: int, n: int = 3) -> list[str]:
    """``ST,GS,+0001.25kg`` frames (A&D indicator) for ``grams``, hex, as an agent keeps them."""
    return [f"ST,GS,{grams / 1000:+08.3f}kg".encode().hex()] * n


class SigningStation:
    """One station's key, chain and clock; builds the messages it would publish."""

    def __init__(self, device_id: str, *, sw_hash: str = SW_HASH, synced: bool = True) -> None:
        self.device_id = device_id
        self.key = DeviceKey(Ed25519PrivateKey.generate())
        self.signer = Signer(self.key, sw_hash, config_hash(CONFIG))
        self.head = ChainHead(0, "")
        self.seq = 0
        self.boot = uuid.uuid4()
        self.synced = synced

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def weighin(
        self,
        net_g: int,
        *,
        at: datetime | None = None,
        mono_ms: int | None = None,
        frames: list[str] | None = None,
        card_id: str | None = "CARD-1",
        category: str = "plastic-pet",
        signer: Signer | None = None,
    ) -> bytes:
        """The next signed weigh-in's payload (advances the chain)."""
        seq = self.next_seq()
        w = Weighin(
            device_id=self.device_id,
            seq=seq,
            event_id=f"{self.device_id}:{seq}",
            device_time=at or T0 + timedelta(seconds=seq),
            clock_synced=self.synced,
            boot_id=self.boot,
            mono_ms=mono_ms if mono_ms is not None else 1000 * seq,
            card_id=card_id,
            category=category,
            net_g=net_g,
            division_g=10,
            protocol="and_indicator",
            frames=frames if frames is not None else and_frames(net_g),
            stable_ms=1200,
        )
        payload, self.head = (signer or self.signer).seal(w, self.head)
        return payload

    def config(self) -> bytes:
        seq = self.next_seq()
        return to_json(
            DeviceConfig(
                device_id=self.device_id,
                seq=seq,
                event_id=f"{self.device_id}:{seq}",
                device_time=T0,
                clock_synced=self.synced,
                boot_id=self.boot,
                mono_ms=10,
                log_pos=1,
                change="installed",
                sw_version="0.1.0",
                sw_hash=self.signer.sw_hash,
                config_hash=self.signer.config_hash,
                public_key=self.key.public_hex,
                **CONFIG,
            )
        )

    def status(self, mono_ms: int) -> bytes:
        return to_json(
            DeviceStatus(
                device_id=self.device_id,
                state="online",
                boot_id=self.boot,
                at=T0,
                mono_ms=mono_ms,
            )
        )

    def approve(self, session: Session, by: str = "user:operator") -> None:
        """What an operator does: approve this station's key, build and configuration."""
        devicekeys.announce_key(
            session,
            device_id=self.device_id,
            public_key=self.key.public_hex,
            trust_first_use=False,
        )
        devicekeys.approve_key(session, device_id=self.device_id, key=self.key.key_id, by=by)
        for kind, digest in (
            ("software", self.signer.sw_hash),
            ("config", self.signer.config_hash),
        ):
            devicekeys.approve(session, device_id=self.device_id, kind=kind, digest=digest, by=by)  # type: ignore[arg-type]
        session.commit()


def message(
    payload: bytes, kind: Kind | str = Kind.WEIGHIN, *, at: datetime | None = None
) -> Message:
    """A received MQTT message of the device named in ``payload``."""
    device_id = json.loads(payload)["device_id"]
    return Message(device_topic(device_id, kind), payload, at or T0 + timedelta(minutes=1))


def tamper(payload: bytes, **changes: Any) -> bytes:
    """The payload with some fields changed after signing (as a man in the middle would)."""
    data = json.loads(payload)
    data.update(changes)
    return json.dumps(data, separators=(",", ":")).encode()
