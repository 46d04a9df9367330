"""The device registry: scale stations and bin sensors, with their last known state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

#: a station's scale capacity (Max) when its registration does not say: 300 kg
DEFAULT_CAPACITY_G = 300_000


class Device(Base):
    """One device (its id is also its MQTT username). ``kind``: station | bin.

    ``capacity_g`` is the capacity (Max) of a station's scale: ingest refuses a weigh-in
    heavier than that (net + tare) as ``over_capacity``.
    """

    __tablename__ = "devices"
    device_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    #: where the device stands (WGS 84), for the operator's map; bins keep their own
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    capacity_g: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_CAPACITY_G, server_default=str(DEFAULT_CAPACITY_G)
    )
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sw_version: Mapped[str | None] = mapped_column(String(40))
    boot_id: Mapped[str | None] = mapped_column(String(36))
    uptime_s: Mapped[int | None] = mapped_column(Integer)
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    outbox_capacity: Mapped[int | None] = mapped_column(Integer)
    health_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the software and configuration hashes it last reported (health or config log)
    sw_hash: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))

    #: a site's devices in the list's order (by id)
    __table_args__ = (Index("ix_devices_site_device", "site_id", "device_id"),)
