"""JEKNYONG at the door: a collector completes a household's pickup with its weigh-ins;
collectors' settings, cash floats and the return to the depot.

``POST /pickups/{id}/doorstep`` is what the collector's phone sends, possibly long after
the weighing and more than once (a queue on the phone, resent until answered): it is
idempotent on the phone's event ids (:mod:`cloud.doorstep`), so a replay answers 200
with ``replay: true`` and the first answer's amounts, and moves no money.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from cloud import cash_float, deliveries, doorstep
from cloud.api.deps import (
    Counter,
    Operator,
    OwnCollector,
    OwnPickup,
    Principal,
    SessionDep,
    SiteReader,
    StateDep,
    require_role,
)
from cloud.api.doorstep_schemas import (
    CollectorProfileIn,
    CollectorProfileOut,
    DepotIn,
    DepotOut,
    DoorstepIn,
    DoorstepLineOut,
    DoorstepOut,
    FloatIssue,
    FloatOut,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.live import pickup_event
from cloud.api.routes.pickups import PickupReader, PickupWorker
from cloud.api.routes.users import CollectorReader
from cloud.api.schemas import DbId
from cloud.models import Site, WeighinRecord, utcnow
from cloud.models.doorstep import CollectorProfile, DoorstepPhoto

#: weighing at the door: the pickup's collector, or an operator of its site
DoorWeigher = PickupWorker
#: a collector's cash float: the collector, its site's counter staff, the auditor
FloatReader = Annotated[
    Principal, Depends(require_role("operator", "cashier", "auditor", "collector"))
]

router = APIRouter(prefix="/api/v1", tags=["doorstep"])


def _out(result: doorstep.DoorstepResult) -> DoorstepOut:
    return DoorstepOut(
        completion_id=result.completion_id,
        event_id=result.event_id,
        pickup_id=result.pickup_id,
        household_id=result.household_id,
        payment=result.payment,
        total_g=result.total_g,
        total_rp=result.total_rp,
        cash_rp=result.cash_rp,
        balance_rp=result.balance_rp,
        replay=result.replay,
        lines=[DoorstepLineOut(**asdict(line)) for line in result.lines],
    )


def _photo(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "validation", "photo is not base64") from None


def completion_in(body: DoorstepIn) -> doorstep.CompletionIn:
    return doorstep.CompletionIn(
        phone_id=body.phone_id,
        seq=body.seq,
        completed_at=body.completed_at,
        clock_synced=body.clock_synced,
        boot_id=body.boot_id,
        mono_ms=body.mono_ms,
        payment=body.payment,
        note=body.note,
        lat=body.lat,
        lon=body.lon,
        user_agent=body.user_agent,
        lines=tuple(
            doorstep.LineIn(
                seq=line.seq,
                category=line.category,
                net_g=line.net_g,
                weighed_at=line.weighed_at,
                entry=line.entry,
                scale=line.scale,
                division_g=line.division_g,
                frames=tuple(line.frames),
                note=line.note,
                photo=_photo(line.photo),
                photo_type=line.photo_type,
            )
            for line in body.lines
        ),
    )


@router.post(
    "/pickups/{pickup_id}/doorstep",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Complete a household's pickup with its weigh-ins (credits the household)",
)
def complete_at_door(
    body: DoorstepIn,
    principal: DoorWeigher,
    pickup: OwnPickup,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> DoorstepOut:
    result = doorstep.complete_at_door(
        session,
        pickup_id=pickup.id,
        completion=completion_in(body),
        user_id=principal.id,
        by=principal.label,
    )
    session.commit()
    if not result.replay:
        state.hub.publish("pickup", pickup_event(pickup))
    response.status_code = 200 if result.replay else 201
    return _out(result)


@router.get(
    "/pickups/{pickup_id}/doorstep",
    responses=error_responses(401, 404),
    summary="How a household's pickup was completed: its weigh-ins and amounts (null: not yet)",
)
def get_completion(_: PickupReader, pickup: OwnPickup, session: SessionDep) -> DoorstepOut | None:
    row = doorstep.completion_of(session, pickup_id=pickup.id)
    return _out(doorstep.stored_result(session, row, replay=True)) if row is not None else None


@router.get(
    "/weighins/{weighin_id}/photo",
    responses=error_responses(401, 403, 404),
    summary="The photo a collector took of a weighed bag",
    response_class=Response,
)
def weighin_photo(weighin_id: DbId, _: SiteReader, session: SessionDep) -> Response:
    if session.get(WeighinRecord, weighin_id) is None:  # out of the caller's reach: none
        raise ApiError(404, "not-found", "no photo for this weigh-in")
    photo = session.get(DoorstepPhoto, weighin_id)
    if photo is None:
        raise ApiError(404, "not-found", "no photo for this weigh-in")
    return Response(content=photo.data, media_type=photo.media_type)


# --------------------------------------------------------------------------- collectors


def _profile_out(user_id: int, prof: CollectorProfile | None) -> CollectorProfileOut:
    if prof is None:
        return CollectorProfileOut(
            user_id=user_id,
            site_id=None,
            capacity_kg=60,
            box_l=None,
            shift_start="08:00",
            shift_hours=8,
            empties_bins=False,
            on_duty=False,
            unloaded_at=None,
        )
    return CollectorProfileOut(
        user_id=user_id,
        site_id=prof.site_id,
        capacity_kg=prof.capacity_g / 1000,
        box_l=prof.capacity_ml / 1000 if prof.capacity_ml else None,
        shift_start=prof.shift_start,
        shift_hours=prof.shift_hours,
        empties_bins=prof.empties_bins,
        on_duty=prof.on_duty,
        unloaded_at=prof.unloaded_at,
    )


@router.get(
    "/collectors/{user_id}/profile",
    responses=error_responses(401, 404),
    summary="A collector's motorbike box and shift",
)
def get_profile(
    _: CollectorReader, collector: OwnCollector, session: SessionDep
) -> CollectorProfileOut:
    return _profile_out(collector.id, session.get(CollectorProfile, collector.id))


@router.put(
    "/collectors/{user_id}/profile",
    responses=error_responses(401, 403, 404, 422),
    summary="Set a collector's site, box (kg, litres), shift and whether it empties bins",
)
def set_profile(
    body: CollectorProfileIn, principal: Operator, collector: OwnCollector, session: SessionDep
) -> CollectorProfileOut:
    site_id = body.site_id if body.site_id is not None else collector.site_id
    if site_id is not None and session.get(Site, site_id) is None:
        raise ApiError(422, "validation", f"unknown site {site_id}")
    prof = session.get(CollectorProfile, collector.id)
    if prof is None:
        prof = CollectorProfile(user_id=collector.id)
        session.add(prof)
    prof.site_id, prof.capacity_g = site_id, round(body.capacity_kg * 1000)
    prof.capacity_ml = round(body.box_l * 1000) if body.box_l else None
    prof.shift_start, prof.shift_hours = body.shift_start, body.shift_hours
    prof.empties_bins, prof.on_duty = body.empties_bins, body.on_duty
    prof.updated_at, prof.updated_by = utcnow(), principal.label
    session.commit()
    return _profile_out(collector.id, prof)


def _float(session: Session, collector_id: int) -> FloatOut:
    return FloatOut(
        collector_id=collector_id, float_rp=cash_float.float_rp(session, collector_id=collector_id)
    )


@router.get(
    "/collectors/{user_id}/float",
    responses=error_responses(401, 404),
    summary="The cash a collector should be carrying",
)
def get_float(_: FloatReader, collector: OwnCollector, session: SessionDep) -> FloatOut:
    return _float(session, collector.id)


@router.post(
    "/collectors/{user_id}/float",
    responses=error_responses(401, 403, 404, 409, 422),
    response_model=FloatOut,
    summary="Hand a collector cash for the day (from the till)",
)
def issue_float(
    body: FloatIssue,
    principal: Counter,
    collector: OwnCollector,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    def act() -> FloatOut:
        cash_float.issue_float(
            session, collector_id=collector.id, amount_rp=body.amount_rp, by=principal.label
        )
        return _float(session, collector.id)

    return idempotent(session, request, principal, key, body, act)


@router.post(
    "/collectors/{user_id}/depot",
    responses=error_responses(401, 403, 404, 409, 422),
    response_model=DepotOut,
    summary="The collector is back at the depot: the box is unloaded and weighed into "
    "stock, the cash counted",
)
def back_at_depot(
    body: DepotIn,
    principal: Counter,
    collector: OwnCollector,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    prof = session.get(CollectorProfile, collector.id)
    if prof is None:
        raise ApiError(409, "conflict", "this collector has no settings yet")

    def act() -> DepotOut:
        assert prof is not None
        prof.unloaded_at = utcnow()  # the next plan counts the box from empty, at the depot
        delivery_id, carried = None, 0
        if body.delivered_g:  # the box weighed at the depot enters the site's stock
            if prof.site_id is None:
                raise ApiError(409, "conflict", "this collector belongs to no site")
            carried_ids = deliveries.undelivered_doorstep(session, collector_id=collector.id)
            delivery = deliveries.deliver_to_depot(
                session,
                site_id=prof.site_id,
                collector_id=collector.id,
                delivered_g=body.delivered_g,
                weighin_ids=carried_ids,
                by=principal.label,
            )
            delivery_id, carried = delivery.id, len(carried_ids)
        if body.counted_cash_rp is not None:
            cash_float.settle_float(
                session,
                collector_id=collector.id,
                counted_rp=body.counted_cash_rp,
                by=principal.label,
            )
        f = _float(session, collector.id)
        return DepotOut(
            collector_id=f.collector_id,
            float_rp=f.float_rp,
            delivery_id=delivery_id,
            delivered_weighins=carried,
        )

    resp = idempotent(session, request, principal, key, body, act)
    if prof.site_id is not None and state.dispatcher is not None:
        state.dispatcher.refresh_soon(prof.site_id, "changed")
    return resp
