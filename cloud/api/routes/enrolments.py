"""Card enrolment at a station: the next unknown card weighed there is linked to the
household an operator named (part of onboarding; the rules are :mod:`cloud.enrolment`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cloud import enrolment
from cloud.api.deps import Operator, SessionDep, SiteReader
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import DbId, DeviceIdStr
from cloud.models.admin import CardEnrolment

router = APIRouter(prefix="/api/v1", tags=["onboarding"])


class EnrolmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: DeviceIdStr
    household_id: DbId


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    device_id: str
    household_id: int
    status: str
    started_by: str
    started_at: datetime
    expires_at: datetime
    card_id: str | None
    weighin_id: int | None


@router.post(
    "/enrolments",
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
    summary="Put a station in enrol mode for a household (the next unknown card weighed "
    "there is linked to it and that bag credited)",
)
def start_enrolment(
    body: EnrolmentCreate, principal: Operator, session: SessionDep
) -> EnrolmentOut:
    row = enrolment.start(
        session, device_id=body.device_id, household_id=body.household_id, by=principal.label
    )
    session.commit()
    return EnrolmentOut.model_validate(row)


@router.post(
    "/enrolments/{enrolment_id}/check",
    responses=error_responses(401, 403, 404),
    summary="Look for the card at the station now (the screen calls this while it waits)",
)
def check_enrolment(enrolment_id: DbId, principal: Operator, session: SessionDep) -> EnrolmentOut:
    row = enrolment.resolve(session, enrolment_id=enrolment_id, by=principal.label)
    session.commit()
    return EnrolmentOut.model_validate(row)


@router.post(
    "/enrolments/{enrolment_id}/cancel",
    responses=error_responses(401, 403, 404, 409),
    summary="Leave enrol mode",
)
def cancel_enrolment(enrolment_id: DbId, principal: Operator, session: SessionDep) -> EnrolmentOut:
    row = enrolment.cancel(session, enrolment_id=enrolment_id, by=principal.label)
    session.commit()
    return EnrolmentOut.model_validate(row)


@router.get("/enrolments/{enrolment_id}", responses=error_responses(401, 403, 404))
def get_enrolment(enrolment_id: DbId, _: SiteReader, session: SessionDep) -> EnrolmentOut:
    row = session.get(CardEnrolment, enrolment_id)
    if row is None:
        raise ApiError(404, "not-found", "no such enrolment")
    return EnrolmentOut.model_validate(row)
