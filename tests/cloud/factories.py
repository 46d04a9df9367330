"""Builders of valid contract payloads for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contract import Fill, Health, Weighin

BOOT = uuid.UUID("00000000-0000-4000-8000-000000000001")
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def weighin(device_id: str = "st-bank01", seq: int = 1, **kw: Any) -> Weighin:
    fields: dict[str, Any] = {
        "device_id": device_id,
        "seq": seq,
        "event_id": f"{device_id}:{seq}",
        "device_time": T0 + timedelta(seconds=seq),
        "clock_synced": True,
        "boot_id": BOOT,
        "mono_ms": 1000 * seq,
        "card_id": "CARD-1",
        "category": "plastic-pet",
        "net_g": 1250,
        "division_g": 5,
        "protocol": "mtsics",
        "frames": ["53205320202020312e323530206b670d0a"],
    }
    fields.update(kw)
    return Weighin(**fields)


def fill(device_id: str = "bn-bin01", seq: int = 1, **kw: Any) -> Fill:
    fields: dict[str, Any] = {
        "device_id": device_id,
        "seq": seq,
        "event_id": f"{device_id}:{seq}",
        "device_time": T0 + timedelta(minutes=10 * seq),
        "clock_synced": True,
        "boot_id": BOOT,
        "mono_ms": 1000 * seq,
        "bin_id": device_id,
        "fill_pct": 10.0,
        "distance_mm": 900,
    }
    fields.update(kw)
    return Fill(**fields)


def health(device_id: str = "st-bank01", seq: int = 1, **kw: Any) -> Health:
    fields: dict[str, Any] = {
        "device_id": device_id,
        "seq": seq,
        "event_id": f"{device_id}:{seq}",
        "device_time": T0 + timedelta(seconds=seq),
        "clock_synced": True,
        "boot_id": BOOT,
        "mono_ms": 1000 * seq,
        "sw_version": "0.1.0",
        "uptime_s": seq,
        "outbox_depth": 3,
        "outbox_capacity": 10000,
    }
    fields.update(kw)
    return Health(**fields)
