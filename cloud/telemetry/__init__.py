"""The telemetry store: one interface, an InfluxDB backend and an embedded SQLite one.

>>> store = open_store(TelemetrySettings(backend="sqlite", sqlite_path="t.db"))  # doctest: +SKIP
>>> store.start(); store.write([...]); store.flush()                          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr

from cloud.telemetry.base import (
    MEASUREMENTS,
    CategoryDay,
    FillSample,
    HealthSample,
    TelemetryPoint,
    TelemetryStore,
    event_time,
    fill_point,
    health_point,
    timestamp_ns,
    weighin_point,
)
from cloud.telemetry.influx import InfluxTelemetry
from cloud.telemetry.sqlite import SqliteTelemetry


class TelemetrySettings(BaseModel):
    """Where telemetry goes (a section of a process's settings)."""

    backend: Literal["influx", "sqlite"] = "sqlite"
    timezone: str = "Asia/Jakarta"
    # sqlite
    sqlite_path: Path = Path("var/telemetry.db")
    # influx
    influx_url: str = "http://127.0.0.1:8086"
    influx_database: str = "salinmas"
    influx_token: SecretStr | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_create_database: bool = True
    influx_retention: str = "90d"
    buffer_path: Path = Path("var/telemetry-buffer.db")
    batch_size: int = 5000
    flush_interval_s: float = 0.25
    max_backoff_s: float = 30.0


def open_store(settings: TelemetrySettings) -> TelemetryStore:
    """Build (not start) the configured backend."""
    if settings.backend == "sqlite":
        return SqliteTelemetry(path=settings.sqlite_path, timezone=settings.timezone)
    return InfluxTelemetry(
        url=settings.influx_url,
        database=settings.influx_database,
        buffer_path=settings.buffer_path,
        token=settings.influx_token.get_secret_value() if settings.influx_token else None,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
        batch_size=settings.batch_size,
        flush_interval_s=settings.flush_interval_s,
        retention=settings.influx_retention,
        create_database=settings.influx_create_database,
        timezone=settings.timezone,
        max_backoff_s=settings.max_backoff_s,
    )


__all__ = [
    "MEASUREMENTS",
    "CategoryDay",
    "FillSample",
    "HealthSample",
    "InfluxTelemetry",
    "SqliteTelemetry",
    "TelemetryPoint",
    "TelemetrySettings",
    "TelemetryStore",
    "event_time",
    "fill_point",
    "health_point",
    "open_store",
    "timestamp_ns",
    "weighin_point",
]
