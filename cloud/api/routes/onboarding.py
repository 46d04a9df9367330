"""Onboarding: household lists imported in bulk, member card sheets, the households
directory (paged) and self-registration requests (card enrolment at a station:
:mod:`cloud.api.routes.enrolments`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud import onboarding, registrations
from cloud.api.clientaddr import request_address
from cloud.api.deps import (
    CounterReader,
    Operator,
    SessionDep,
    SiteReader,
    StateDep,
    SystemSessionDep,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.household_search import SearchText, search_households
from cloud.api.paging import Page, PageQuery, paginate
from cloud.api.schemas import DbId, HouseholdOut, Pin, Reason, Text
from cloud.api.state import ApiState
from cloud.member_cards import MemberCardFace, card_sheet
from cloud.models import Household, Site
from cloud.models.admin import RegistrationRequest

router = APIRouter(prefix="/api/v1", tags=["onboarding"])

UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


async def upload(request: Request) -> bytes:
    """The raw request body (a CSV or XLSX file), refused beyond the import's size cap."""
    size = int(request.headers.get("content-length") or 0)
    if size > onboarding.MAX_BYTES:
        raise ApiError(413, "too-large", "the file is larger than 20 MB")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > onboarding.MAX_BYTES:
            raise ApiError(413, "too-large", "the file is larger than 20 MB")
    if not data:
        raise ApiError(422, "validation", "send the file as the request body")
    return bytes(data)


Upload = Annotated[bytes, Depends(upload)]
FileName = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")]


class ProblemOut(BaseModel):
    line: int
    column: str
    code: str
    message: str


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    bad_rows: int
    problems: list[ProblemOut]
    sites: dict[str, int]
    imported: int = 0
    first_member_no: str | None = None
    last_member_no: str | None = None


def _report(r: onboarding.Report, dry_run: bool) -> ImportReport:
    return ImportReport(
        dry_run=dry_run,
        rows=r.rows,
        bad_rows=len(r.bad_lines),
        problems=[
            ProblemOut(line=p.line, column=p.column, code=p.code, message=p.message)
            for p in r.problems
        ],
        sites={k: v for k, v in r.sites.items() if v > 0},
    )


@router.post(
    "/imports/households",
    responses={**error_responses(401, 403, 409, 422), 413: {"description": "Over 20 MB"}},
    openapi_extra=UPLOAD,
    summary="Import a household list (CSV or XLSX body). dry_run=true only checks; a file "
    "with any bad row imports nothing (409 with every problem)",
)
def import_households(
    principal: Operator,
    data: Upload,
    filename: FileName,
    session: SessionDep,
    dry_run: bool = True,
) -> Response:
    if dry_run:
        report = onboarding.check(session, data, filename)
        return Response(_report(report, True).model_dump_json(), media_type="application/json")
    try:
        done = onboarding.import_households(session, data, filename, by=principal.label)
    except onboarding.ImportRefused as refused:
        session.rollback()
        body = _report(refused.report, False).model_dump_json()
        return Response(body, status_code=409, media_type="application/json")
    session.commit()
    out = ImportReport(
        dry_run=False,
        rows=done.households,
        bad_rows=0,
        problems=[],
        sites={},
        imported=done.households,
        first_member_no=done.first_member_no,
        last_member_no=done.last_member_no,
    )
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")


@router.get(
    "/member-cards.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **error_responses(401, 403, 422)},
    summary="Member cards of households as a printable PDF sheet (10 per A4 page)",
)
def member_cards(
    _: SiteReader,
    session: SessionDep,
    household_id: Annotated[list[int] | None, Query(max_length=500)] = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    member_from: Annotated[str | None, Query(max_length=40)] = None,
    member_to: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> Response:
    q = (
        select(Household, Site.name)
        .outerjoin(Site, Site.id == Household.site_id)
        .where(Household.active)
        .order_by(Household.member_no)
        .limit(limit)
    )
    if household_id:
        # ids no row can have (out of the column's range) simply match nothing
        q = q.where(Household.id.in_([i for i in household_id if 0 < i < 2**63]))
    if site_id is not None:
        q = q.where(Household.site_id == site_id)
    if member_from:
        q = q.where(Household.member_no >= member_from)
    if member_to:
        q = q.where(Household.member_no <= member_to)
    faces = [MemberCardFace(h.member_no, h.name, s) for h, s in session.execute(q)]
    disposition = 'inline; filename="kartu-anggota.pdf"'
    return Response(
        card_sheet(faces),
        media_type="application/pdf",
        headers={"Content-Disposition": disposition},
    )


# --------------------------------------------------------------------------- directory


@router.get(
    "/directory/households",
    responses=error_responses(401, 403, 422),
    summary="Households, searched and paged on the server (with the total)",
)
def household_directory(
    _: CounterReader,
    session: SessionDep,
    page: PageQuery,
    q: SearchText = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    active: bool | None = None,
) -> Page[HouseholdOut]:
    return search_households(session, page, q=q, site_id=site_id, active=active)


# --------------------------------------------------------------------------- registrations


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    address: Annotated[str, Field(max_length=300)] | None = None
    phone: Annotated[str, Field(min_length=6, max_length=40)]
    site_id: DbId
    pin: Pin


class RegistrationReceipt(BaseModel):
    id: int
    reference: str = Field(description="keep it: it shows the request's status")
    status: str


class RegistrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    name: str
    address: str | None
    phone: str
    site_id: int
    status: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    household_id: int | None


class RegistrationStatus(BaseModel):
    status: str
    member_no: str | None
    reason: str | None


class PublicSite(BaseModel):
    id: int
    name: str


def _client(request: Request, state: ApiState) -> str:
    """The requester's address, by the rule logins use (forwarded only by trusted proxies)."""
    return request_address(request, state.trusted_proxies)


#: routes before any login (the public registration form): a session without a caller
PublicSession = SystemSessionDep


@router.get("/registrations/sites", summary="Sites a household can ask to join (public)")
def registration_sites(session: PublicSession) -> list[PublicSite]:
    return [
        PublicSite(id=s.id, name=s.name) for s in session.scalars(select(Site).order_by(Site.name))
    ]


@router.post(
    "/registrations",
    status_code=201,
    responses=error_responses(409, 422, 429),
    summary="A household asks to join (public: the household page's form)",
)
def request_registration(
    body: RegistrationCreate, request: Request, session: PublicSession, state: StateDep
) -> RegistrationReceipt:
    try:
        ref, row = registrations.request(
            session,
            name=body.name,
            address=body.address,
            phone=body.phone,
            site_id=body.site_id,
            pin=body.pin,
            client=_client(request, state),
        )
    except registrations.TooManyRequests as exc:
        raise ApiError(
            429, "too-many-requests", str(exc), headers={"Retry-After": "3600"}
        ) from None
    session.commit()
    return RegistrationReceipt(id=row.id, reference=ref, status=row.status)


@router.get(
    "/registrations/status",
    responses=error_responses(404, 422),
    summary="The status of one's own request, by its reference (public)",
)
def registration_status(
    session: PublicSession, ref: Annotated[str, Query(min_length=8, max_length=40)]
) -> RegistrationStatus:
    row, member_no = registrations.status_of(session, ref=ref)
    return RegistrationStatus(status=row.status, member_no=member_no, reason=row.reason)


@router.get(
    "/registrations",
    responses=error_responses(401, 403, 422),
    summary="Registration requests of the caller's reach (pending first)",
)
def list_registrations(
    _: SiteReader,
    session: SessionDep,
    page: PageQuery,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[RegistrationOut]:
    stmt = select(RegistrationRequest).order_by(RegistrationRequest.id.desc())
    if status is not None:
        stmt = stmt.where(RegistrationRequest.status == status)
    if site_id is not None:
        stmt = stmt.where(RegistrationRequest.site_id == site_id)
    rows, total = paginate(session, stmt, page)
    return Page(
        items=[RegistrationOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post(
    "/registrations/{request_id}/approve",
    responses=error_responses(401, 403, 404, 409),
    summary="Approve: the household is registered with a new member number and its PIN",
)
def approve_registration(
    request_id: DbId, principal: Operator, session: SessionDep
) -> HouseholdOut:
    hh = registrations.approve(session, request_id=request_id, by=principal.label)
    session.commit()
    return HouseholdOut.model_validate(hh)


@router.post(
    "/registrations/{request_id}/reject",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reject a registration request, saying why",
)
def reject_registration(
    request_id: DbId, body: ReasonIn, principal: Operator, session: SessionDep
) -> RegistrationOut:
    row = registrations.reject(
        session, request_id=request_id, by=principal.label, reason=body.reason
    )
    session.commit()
    return RegistrationOut.model_validate(row)
