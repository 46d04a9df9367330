"""The bin registry (location, depth calibration, threshold, category) and its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud import pickups
from cloud.api.deps import Operator, SessionDep, SiteReader, own_site_code
from cloud.api.errors import ApiError, FieldError, error_responses
from cloud.api.paging import AreaQuery, ListQuery, Page, listed
from cloud.api.schemas import BinCreate, BinOut, DeviceIdStr
from cloud.models import Bin

router = APIRouter(prefix="/api/v1/bins", tags=["bins"])

BinId = Annotated[DeviceIdStr, Path(description="bin id")]


#: a bin page's total is counted this far ("more than" beyond)
BIN_COUNT_CAP = 50_000


@router.get(
    "",
    responses=error_responses(401, 403, 422),
    summary="Bins with their latest state: a page with `offset`, else the bare list",
    response_model=Page[BinOut] | list[BinOut],
)
def list_bins(
    _: SiteReader,
    session: SessionDep,
    listing: ListQuery,
    area: AreaQuery,
    site_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="one site's bins only")
    ] = None,
    full: Annotated[bool | None, Query(description="at or above the threshold")] = None,
    fault: Annotated[bool | None, Query(description="a sensor fault reported")] = None,
) -> Page[BinOut] | list[BinOut]:
    q = pickups.bins_query(site_id=site_id, full=full, fault=fault)
    if area is not None:
        q = q.where(area.where(Bin.lat, Bin.lon))
    return listed(
        session,
        q,
        listing,
        lambda rows: [BinOut.model_validate(b) for b in rows],
        cap=BIN_COUNT_CAP,
        default_limit=None,
    )


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
