"""Telemetry: writers for the ingest, a reader for the API; InfluxDB or embedded SQLite.

>>> writer = open_writer(TelemetrySettings(backend="sqlite", sqlite_path="t.db"))  # doctest: +SKIP
>>> writer.start(); writer.write([...]); writer.flush(); writer.close()        # doctest: +SKIP
>>> reader = open_reader(settings); reader.count("fill"); reader.close()       # doctest: +SKIP

Backends are imported when a writer or reader is opened, never at import time: the
domain and the contract of points (:mod:`cloud.telemetry.base`) stay cheap to import.
The ingest writes to a list of sinks (the settings' own backend, then each of ``also``)
through :class:`~cloud.telemetry.fanout.Fanout`; the API reads from the settings' own
backend only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, SecretStr

from cloud.telemetry.base import (
    MEASUREMENTS,
    CategoryDay,
    FillSample,
    HealthSample,
    TelemetryPoint,
    TelemetryReader,
    TelemetryWriter,
    fill_point,
    health_point,
    timestamp_ns,
    weighin_point,
)

if TYPE_CHECKING:
    from cloud.telemetry.influx import InfluxConnection


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
    #: more sinks the ingest writes every point to as well (each with its own buffer)
    also: list[TelemetrySettings] = []


def _influx_connection(settings: TelemetrySettings) -> InfluxConnection:
    from cloud.telemetry.influx import InfluxConnection

    return InfluxConnection(
        url=settings.influx_url,
        database=settings.influx_database,
        token=settings.influx_token.get_secret_value() if settings.influx_token else None,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
    )


def _writer(settings: TelemetrySettings) -> TelemetryWriter:
    if settings.backend == "sqlite":
        from cloud.telemetry.sqlite import SqliteWriter

        return SqliteWriter(path=settings.sqlite_path, timezone=settings.timezone)
    from cloud.telemetry.influx_writer import InfluxWriter

    return InfluxWriter(
        _influx_connection(settings),
        buffer_path=settings.buffer_path,
        batch_size=settings.batch_size,
        flush_interval_s=settings.flush_interval_s,
        retention=settings.influx_retention,
        create_database=settings.influx_create_database,
        timezone=settings.timezone,
        max_backoff_s=settings.max_backoff_s,
    )


def open_writer(settings: TelemetrySettings) -> TelemetryWriter:
    """Build (not start) the configured writer: one sink, or a fan-out to several."""
    writers = [_writer(s) for s in (settings, *settings.also)]
    if len(writers) == 1:
        return writers[0]
    from cloud.telemetry.fanout import Fanout

    return Fanout(writers)


def backfill_rollups(
    settings: TelemetrySettings,
    since: datetime,
    progress: Callable[[str, datetime], None] | None = None,
) -> list[dict[str, datetime]]:
    """Roll up each InfluxDB sink's raw history from ``since``
    (:func:`cloud.telemetry.rollups.backfill`); the coverage of each, in order."""
    from zoneinfo import ZoneInfo

    from cloud.telemetry.rollups import backfill

    out = []
    for s in (settings, *settings.also):
        if s.backend == "influx":
            conn = _influx_connection(s)
            try:
                out.append(backfill(conn, tz=ZoneInfo(s.timezone), since=since, progress=progress))
            finally:
                conn.close()
    return out


def open_reader(settings: TelemetrySettings) -> TelemetryReader:
    """The reader of the configured backend (opens its connection on first use)."""
    if settings.backend == "sqlite":
        from cloud.telemetry.sqlite import SqliteReader

        return SqliteReader(path=settings.sqlite_path, timezone=settings.timezone)
    from cloud.telemetry.influx_reader import InfluxReader

    return InfluxReader(_influx_connection(settings), timezone=settings.timezone)


__all__ = [
    "MEASUREMENTS",
    "CategoryDay",
    "FillSample",
    "HealthSample",
    "TelemetryPoint",
    "TelemetryReader",
    "TelemetrySettings",
    "TelemetryWriter",
    "backfill_rollups",
    "fill_point",
    "health_point",
    "open_reader",
    "open_writer",
    "timestamp_ns",
    "weighin_point",
]
