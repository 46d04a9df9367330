"""The bin registry (location, depth calibration, threshold, category) and its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud import pickups
from cloud.api.deps import Operator, SessionDep, SiteReader, own_site_code
from cloud.api.errors import ApiError, FieldError, error_responses
from cloud.api.schemas import BinCreate, BinOut, DeviceIdStr

router = APIRouter(prefix="/api/v1/bins", tags=["bins"])

BinId = Annotated[DeviceIdStr, Path(description="bin id")]


@router.get("", responses=error_responses(401, 403, 422), summary="Bins with their latest state")
def list_bins(
    _: SiteReader,
    session: SessionDep,
    site_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="one site's bins only")
    ] = None,
) -> list[BinOut]:
    return [BinOut.model_validate(b) for b in pickups.list_bins(session, site_id=site_id)]


@router.put(
    "",
    responses=error_responses(401, 403, 409, 422),
    summary="Register a bin or update its registry entry",
)
def upsert_bin(body: BinCreate, principal: Operator, session: SessionDep) -> BinOut:
    if body.hysteresis_pct >= body.threshold_pct:
        raise ApiError(
            422,
            "validation",
            "hysteresis_pct must be below threshold_pct",
            errors=[FieldError(field="body.hysteresis_pct", message="must be < threshold_pct")],
        )
    b = pickups.register_bin(
        session,
        bin_id=body.bin_id,
        site=body.site or own_site_code(session, principal),
        device_id=body.device_id,
        category=body.category,
        name=body.name,
        x=body.x,
        y=body.y,
        lat=body.lat,
        lon=body.lon,
        empty_depth_mm=body.empty_depth_mm,
        threshold_pct=body.threshold_pct,
        hysteresis_pct=body.hysteresis_pct,
        by=principal.label,
    )
    session.commit()
    return BinOut.model_validate(b)


@router.get("/{bin_id}", responses=error_responses(401, 403, 404))
def get_bin(_: SiteReader, bin_id: BinId, session: SessionDep) -> BinOut:
    return BinOut.model_validate(pickups.get_bin(session, bin_id=bin_id))
