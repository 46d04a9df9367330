"""Tables of the integrity checks: device keys, approved builds and configurations, holds,
boot clocks, the device configuration log and the ledger chain's head.

See :mod:`cloud.integrity` for what each check means; the ledger's own hash chain lives
in ``journal_entries`` (``chain_pos``, ``prev_hash``, ``entry_hash``) with its head here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow


class DeviceKey(Base):
    """A device's Ed25519 public key. ``status``: pending | approved | retired.

    A key is announced by the device itself (over its own MQTT account) and credited
    only once an operator approved it (``approved_by``); a public key belongs to one
    device for ever (unique), so a key copied to another device's SD card is refused.
    Approving a new key retires the device's previous one.
    """

    __tablename__ = "device_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(80))
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_by: Mapped[str | None] = mapped_column(String(80))


class Approval(Base):
    """An approved software build (``kind`` software) or metrological configuration
    (``kind`` config) of one station, by its hash. Withdrawn, never deleted."""

    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    digest: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    approved_by: Mapped[str] = mapped_column(String(80))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (UniqueConstraint("device_id", "kind", "digest"),)


class Hold(Base):
    """Why a weigh-in was held, and how it was resolved (the audit trail of both).

    ``kind``: what failed (:data:`cloud.integrity.HOLD_KINDS`). ``resolution``: released
    (credited through the normal path) | rejected; ``resolved_by`` is the operator, or
    ``system:<why>`` for a hold that resolved itself (a chain gap filled, a clock anchor).
    """

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weighin_id: Mapped[int] = mapped_column(ForeignKey("weighins.id"), unique=True)
    device_id: Mapped[str] = mapped_column(String(48), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(200))
    held_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_holds_open", "kind", "resolved_at"),)


class DeviceBoot(Base):
    """What dates a boot's unsynchronised events (:mod:`cloud.clock`).

    ``synced_*``: the earliest NTP-synchronised event of the boot (its device time and
    monotonic ms). ``prompt_*``: the message of the boot received most promptly — the one
    with the smallest ``received_at - mono_ms`` (e.g. the status an agent publishes when
    it connects), an upper bound of when the boot started by the cloud's own clock.
    """

    __tablename__ = "device_boots"
    device_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    boot_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    synced_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    synced_mono_ms: Mapped[int | None] = mapped_column(BigInteger)
    prompt_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prompt_mono_ms: Mapped[int | None] = mapped_column(BigInteger)


class ConfigLogEntry(Base):
    """An entry of a device's configuration log (``contract.DeviceConfig``), as received."""

    __tablename__ = "device_config_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    device_id: Mapped[str] = mapped_column(String(48), index=True)
    log_pos: Mapped[int] = mapped_column(BigInteger)
    change: Mapped[str] = mapped_column(String(200))
    sw_version: Mapped[str] = mapped_column(String(40))
    sw_hash: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str | None] = mapped_column(String(64))
    protocol: Mapped[str | None] = mapped_column(String(32))
    division_g: Mapped[int | None] = mapped_column(Integer)
    capacity_g: Mapped[int | None] = mapped_column(Integer)
    min_divisions: Mapped[int | None] = mapped_column(Integer)
    stable_window_ms: Mapped[int | None] = mapped_column(Integer)
    min_stable_samples: Mapped[int | None] = mapped_column(Integer)
    calibration: Mapped[str | None] = mapped_column(String(120))
    device_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerChainHead(Base):
    """The head of the journal's hash chain: one row (``id`` 1), locked by every writer
    of a journal entry (:mod:`cloud.ledger_chain`)."""

    __tablename__ = "ledger_chain"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
