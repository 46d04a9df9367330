"""Bins, their fill samples, pickups and alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

#: pickup states in which a bin counts as "has an open pickup"
OPEN_PICKUP_STATES = ("open", "assigned")


class Bin(Base):
    """A bin with its calibration, pickup policy and latest reported state."""

    __tablename__ = "bins"
    bin_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.device_id"), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("waste_categories.code"))
    name: Mapped[str | None] = mapped_column(String(200))
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    empty_depth_mm: Mapped[int | None] = mapped_column(Integer)
    threshold_pct: Mapped[float] = mapped_column(Float, default=80.0)
    hysteresis_pct: Mapped[float] = mapped_column(Float, default=10.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # latest state
    fill_pct: Mapped[float | None] = mapped_column(Float)
    distance_mm: Mapped[int | None] = mapped_column(Integer)
    fault: Mapped[str | None] = mapped_column(String(20))
    lid_open: Mapped[bool | None] = mapped_column(Boolean)
    tilted: Mapped[bool | None] = mapped_column(Boolean)
    state_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    #: armed = a crossing of the threshold opens a pickup; disarmed after one until the
    #: level drops below threshold - hysteresis (an emptied bin)
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    forecast_full_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fill_rate_pct_per_h: Mapped[float | None] = mapped_column(Float)

    #: a site's bins in the list's order (by id)
    __table_args__ = (Index("ix_bins_site_bin", "site_id", "bin_id"),)


class FillSample(Base):
    """Recent fill levels of a bin (for the forecast); old rows are pruned."""

    __tablename__ = "bin_fill_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.bin_id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    fill_pct: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_bin_fill_samples_bin_at", "bin_id", "at"),)


class Pickup(Base):
    """A pickup request. ``kind``: bin_full | household | manual.

    ``status``: open -> assigned -> done, or cancelled. At most one open/assigned pickup
    per bin (partial unique index).
    """

    __tablename__ = "pickups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    bin_id: Mapped[str | None] = mapped_column(ForeignKey("bins.bin_id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    category_code: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    fill_pct_at_open: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str | None] = mapped_column(String(80))
    #: the collector (a user id of the API's users table; no FK here on purpose)
    collector_id: Mapped[int | None] = mapped_column(Integer, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    collected_g: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # a household's request at the door (cloud.doorstep) and its place on a route
    #: when the household asked the collector to come (service may start in it)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the categories the household has (codes), and its estimate of the weight
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    estimated_g: Mapped[int | None] = mapped_column(BigInteger)
    #: where to go for this request (the household's pin or address when it asked)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    #: the planned start of service and the stop's place on its route (cloud.dispatch)
    eta_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    route_seq: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index(
            "uq_pickups_open_bin",
            "bin_id",
            unique=True,
            sqlite_where=text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
            postgresql_where=text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
        ),
        # a site's board by status, in the board's order (due time first)
        Index("ix_pickups_site_status_due", "site_id", "status", "due_at"),
    )


class Alert(Base):
    """An operator alert. ``kind``: sensor_fault | lid_open | tilt | bin_full | device_offline.

    ``subject`` is the bin or device id. At most one uncleared alert per (kind, subject).
    """

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(48))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    message: Mapped[str] = mapped_column(String(300))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        Index(
            "uq_alerts_active",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
    )
