"""Telemetry for charts: fill history per bin, kg and rupiah per category per day, health.

Read from the telemetry store (InfluxQL on InfluxDB, or the embedded SQLite store);
days are the programme's local days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cloud import pickups
from cloud.api.deps import SessionDep, SiteReader, StateDep, own_site_code
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import DeviceIdStr, FillPoint, Instant
from cloud.devices import get_device
from cloud.models import utcnow
from cloud.telemetry import TelemetryReader

router = APIRouter(prefix="/api/v1/telemetry", tags=["telemetry"])

MAX_RANGE = timedelta(days=366)
Start = Annotated[Instant | None, Query(description="UTC; default depends on the series")]
End = Annotated[Instant | None, Query(description="UTC; default now")]


class CategoryDayOut(BaseModel):
    day: str
    category: str
    net_g: int
    amount_rp: int
    weighins: int
    site: str | None
    device: str | None


class HealthPointOut(BaseModel):
    at: datetime
    values: dict[str, int | float | bool | str]


def _range(
    start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    end = end or utcnow()
    start = start or end - default
    if not start < end or end - start > MAX_RANGE:
        raise ApiError(422, "validation", "need start < end, at most 366 days apart")
    return start, end


def _store(state: StateDep) -> TelemetryReader:
    if state.telemetry is None:
        raise ApiError(503, "telemetry-unavailable", "no telemetry store is configured")
    return state.telemetry


@router.get(
    "/bins/{bin_id}/fill",
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Fill level history of a bin (default: the last 7 days)",
)
def fill_history(
    _: SiteReader,
    bin_id: DeviceIdStr,
    session: SessionDep,
    state: StateDep,
    start: Start = None,
    end: End = None,
) -> list[FillPoint]:
    pickups.get_bin(session, bin_id=bin_id)  # 404 unless within the caller's reach
    s, e = _range(start, end, timedelta(days=7))
    rows = _store(state).fill_history(bin_id=bin_id, start=s, end=e)
    return [FillPoint(at=r.time, fill_pct=r.fill_pct) for r in rows]


@router.get(
    "/category-days",
    responses=error_responses(401, 403, 422, 503),
    summary="kg and rupiah per category per local day (optionally per station or site)",
)
def category_days(
    principal: SiteReader,
    session: SessionDep,
    state: StateDep,
    start: Start = None,
    end: End = None,
    by: Literal["device", "site"] | None = None,
    device: Annotated[DeviceIdStr | None, Query(description="one station")] = None,
) -> list[CategoryDayOut]:
    s, e = _range(start, end, timedelta(days=30))
    # a site's staff see their site's figures only (the store tags points by site code)
    site = own_site_code(session, principal) if principal.site_id is not None else None
    if principal.site_id is not None and site is None:
        return []
    rows = _store(state).category_days(start=s, end=e, by=by, site=site, device=device)
    return [
        CategoryDayOut(
            day=r.day.isoformat(),
            category=r.category,
            net_g=r.net_g,
            amount_rp=r.amount_rp,
            weighins=r.weighins,
            site=r.site,
            device=r.device,
        )
        for r in rows
    ]


@router.get(
    "/devices/{device_id}/health",
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Heartbeat history of a device (default: the last 24 hours)",
)
def device_health(
    _: SiteReader,
    device_id: DeviceIdStr,
    session: SessionDep,
    state: StateDep,
    start: Start = None,
    end: End = None,
) -> list[HealthPointOut]:
    if get_device(session, device_id=device_id) is None:  # None out of the caller's reach
        raise ApiError(404, "not-found", f"no device {device_id!r}")
    s, e = _range(start, end, timedelta(days=1))
    rows = _store(state).device_health(device_id=device_id, start=s, end=e)
    return [HealthPointOut(at=r.time, values=dict(r.values)) for r in rows]
