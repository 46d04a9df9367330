"""Pickups: the board, assignment to collectors, completion; household requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import doorstep, pickups
from cloud.api.deps import (
    Limit,
    Operator,
    OwnHousehold,
    OwnPickup,
    Principal,
    SessionDep,
    SiteReader,
    StateDep,
    require_role,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.live import pickup_event, pickup_reach
from cloud.api.paging import ListQuery, Page, listed
from cloud.api.schemas import (
    HouseholdPickupRequest,
    Instant,
    PickupAssign,
    PickupCancel,
    PickupComplete,
    PickupCreate,
    PickupOut,
)
from cloud.api.state import ApiState
from cloud.models import Bin, Household, Pickup
from cloud.models.auth import User

router = APIRouter(prefix="/api/v1", tags=["pickups"])

#: reads one pickup: its site's staff, its collector, its household
PickupReader = Annotated[
    Principal, Depends(require_role("operator", "auditor", "collector", "household"))
]
#: marks a pickup done: its site's operator or its collector
PickupWorker = Annotated[Principal, Depends(require_role("operator", "collector"))]
#: asks for (or cancels) a pickup at a household's door: its site's operator or itself
PickupRequester = Annotated[Principal, Depends(require_role("operator", "household"))]
PickupRequesterReader = Annotated[
    Principal, Depends(require_role("operator", "auditor", "household"))
]
STATUS = "^(open|assigned|done|cancelled)$"


def pickups_out(session: Session, rows: Sequence[Pickup]) -> list[PickupOut]:
    """Pickups with the details of where to go (two queries, whatever the number)."""
    hh_ids = {p.household_id for p in rows if p.household_id is not None}
    bin_ids = {p.bin_id for p in rows if p.bin_id is not None}
    households = (
        {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(hh_ids)))}
        if hh_ids
        else {}
    )
    bins = (
        {b.bin_id: b for b in session.scalars(select(Bin).where(Bin.bin_id.in_(bin_ids)))}
        if bin_ids
        else {}
    )
    collector_ids = {p.collector_id for p in rows if p.collector_id is not None}
    names: dict[int, str] = {}
    if collector_ids:
        q = select(User.id, User.display_name).where(User.id.in_(collector_ids))
        names = {uid: name for uid, name in session.execute(q)}
    out = []
    for p in rows:
        extra: dict[str, object] = {"collector_name": names.get(p.collector_id or -1)}
        if (h := households.get(p.household_id or -1)) is not None:
            extra |= {
                "member_no": h.member_no,
                "household_name": h.name,
                "address": p.address or h.address,
                "phone": h.phone,
            }
        if (b := bins.get(p.bin_id or "")) is not None:
            extra |= {"bin_name": b.name, "lat": b.lat, "lon": b.lon}
        out.append(PickupOut.model_validate(p).model_copy(update=extra))
    return out


def pickup_out(session: Session, p: Pickup) -> PickupOut:
    return pickups_out(session, [p])[0]


def _changed(state: ApiState, session: Session, p: Pickup) -> PickupOut:
    state.hub.publish("pickup", pickup_event(p), **pickup_reach(session, p))
    return pickup_out(session, p)


#: a pickup page's total is counted this far ("more than" beyond)
PICKUP_COUNT_CAP = 10_000


@router.get(
    "/pickups",
    responses=error_responses(401, 403, 422),
    summary="The pickup board: a page with `offset`, else the bare list",
    response_model=Page[PickupOut] | list[PickupOut],
)
def list_pickups(
    _: SiteReader,
    session: SessionDep,
    listing: ListQuery,
    status: Annotated[list[str] | None, Query(description="open|assigned|done|cancelled")] = None,
    collector_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    household_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    completed_since: Annotated[
        Instant | None, Query(description="done at or after (UTC): the board's today")
    ] = None,
) -> Page[PickupOut] | list[PickupOut]:
    allowed = {"open", "assigned", "done", "cancelled"}
    if status and not set(status) <= allowed:
        raise ApiError(422, "validation", f"status must be among {sorted(allowed)}")
    q = pickups.pickups_query(
        status=status or None,
        collector_id=collector_id,
        site_id=site_id,
        household_id=household_id,
        completed_since=completed_since,
    )
    return listed(
        session,
        q,
        listing,
        lambda rows: pickups_out(session, rows),
        cap=PICKUP_COUNT_CAP,
        default_limit=200,
    )


@router.post(
    "/pickups",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Open a pickup by hand (for a bin or a household)",
)
def create_pickup(
    principal: Operator, body: PickupCreate, session: SessionDep, state: StateDep
) -> PickupOut:
    p = pickups.open_pickup(
        session,
        kind="manual",
        bin_id=body.bin_id,
        household_id=body.household_id,
        due_at=body.due_at,
        priority=body.priority,
        note=body.note,
        requested_by=principal.label,
    )
    session.commit()
    return _changed(state, session, p)


@router.get("/pickups/{pickup_id}", responses=error_responses(401, 403, 404))
def get_pickup(_: PickupReader, pickup: OwnPickup, session: SessionDep) -> PickupOut:
    return pickup_out(session, pickup)


@router.post(
    "/pickups/{pickup_id}/assign",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Assign (or re-assign) a pickup to a collector",
)
def assign_pickup(
    body: PickupAssign,
    principal: Operator,
    pickup: OwnPickup,
    session: SessionDep,
    state: StateDep,
) -> PickupOut:
    collector = session.get(User, body.collector_id)  # a collector of the caller's site
    if collector is None or collector.role != "collector" or not collector.active:
        raise ApiError(422, "validation", f"user {body.collector_id} is not an active collector")
    p = pickups.assign_pickup(
        session, pickup_id=pickup.id, collector_id=collector.id, by=principal.label
    )
    session.commit()
    return _changed(state, session, p)


@router.post(
    "/pickups/{pickup_id}/complete",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Mark done with the collected weight (its collector, or an operator)",
)
def complete_pickup(
    principal: PickupWorker,
    body: PickupComplete,
    pickup: OwnPickup,
    session: SessionDep,
    state: StateDep,
) -> PickupOut:
    p = pickups.complete_pickup(
        session,
        pickup_id=pickup.id,
        collected_g=body.collected_g,
        note=body.note,
        by=principal.label,
    )
    session.commit()
    return _changed(state, session, p)


@router.post(
    "/pickups/{pickup_id}/cancel",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Cancel an open pickup (operators; a household its own request)",
)
def cancel_pickup(
    principal: PickupRequester,
    body: PickupCancel,
    pickup: OwnPickup,
    session: SessionDep,
    state: StateDep,
) -> PickupOut:
    p = pickups.cancel_pickup(session, pickup_id=pickup.id, reason=body.reason, by=principal.label)
    session.commit()
    return _changed(state, session, p)


@router.get(
    "/households/{household_id}/pickups",
    responses=error_responses(401, 403, 404),
    summary="A household's pickup requests",
)
def household_pickups(
    _: PickupRequesterReader, household: OwnHousehold, session: SessionDep, limit: Limit = 50
) -> list[PickupOut]:
    rows = pickups.list_pickups(session, household_id=household.id, limit=limit)
    return pickups_out(session, rows)


@router.post(
    "/households/{household_id}/pickups",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="A household asks for a pickup at its door",
)
def request_pickup(
    principal: PickupRequester,
    body: HouseholdPickupRequest,
    household: OwnHousehold,
    session: SessionDep,
    state: StateDep,
) -> PickupOut:
    if (body.window_start is None) != (body.window_end is None):
        raise ApiError(422, "validation", "give both window_start and window_end, or neither")
    p = doorstep.request_pickup(
        session,
        household_id=household.id,
        settings=state.settings.doorstep,
        categories=[*body.categories, *([body.category] if body.category else [])],
        window=(body.window_start, body.window_end)
        if body.window_start and body.window_end
        else None,
        estimated_g=round(body.estimated_kg * 1000) if body.estimated_kg else None,
        lat=body.lat,
        lon=body.lon,
        address=body.address,
        note=body.note,
        requested_by=principal.label,
    )
    session.commit()
    if p.site_id is not None and state.dispatcher is not None:
        state.dispatcher.refresh_soon(p.site_id, "changed")  # a stop was added
    return _changed(state, session, p)
