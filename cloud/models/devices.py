"""The device registry: scale stations and bin sensors, with their last known state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow


class Device(Base):
    """One device (its id is also its MQTT username). ``kind``: station | bin."""

    __tablename__ = "devices"
    device_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    #: where the device stands (WGS 84), for the operator's map; bins keep their own
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
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
