"""Weigh-ins: list and filter; assign an unassigned one; reverse a wrong one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from cloud import corrections
from cloud.api.deps import Operator, SessionDep, SiteReader, StateDep, require_role
from cloud.api.errors import ApiError, error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.paging import ListQuery, Page, listed
from cloud.api.principals import Principal
from cloud.api.schemas import (
    AssignRequest,
    DbId,
    DeviceIdStr,
    Instant,
    ReversalOut,
    ReverseRequest,
    WeighinOut,
)
from cloud.api.weighin_view import weighin_out
from cloud.models import Household, WeighinRecord
from cloud.postings import funds
from cloud.receivables import owed_rp

router = APIRouter(prefix="/api/v1/weighins", tags=["weigh-ins"])

MONEY = error_responses(401, 403, 404, 409, 422)


def aware(name: str, t: datetime | None) -> datetime | None:
    if t is not None and t.tzinfo is None:
        raise ApiError(422, "validation", f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return t


#: a weigh-in page's total is counted this far ("more than" beyond): millions of rows
WEIGHIN_COUNT_CAP = 10_000


@router.get(
    "",
    responses=error_responses(401, 403, 422),
    summary="List and filter weigh-ins, newest first: a page with `offset`, else the bare list",
    response_model=Page[WeighinOut] | list[WeighinOut],
)
def list_weighins(
    _: SiteReader,
    session: SessionDep,
    listing: ListQuery,
    device_id: Annotated[DeviceIdStr | None, Query(description="the station")] = None,
    household_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    member_no: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=40,
            description="the household by its member number (as typed, or upper-cased)",
        ),
    ] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(pattern="^(credited|unassigned|rejected|held)$")] = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[Instant | None, Query(description="UTC, inclusive")] = None,
    until: Annotated[Instant | None, Query(description="UTC, exclusive")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="page: ids below this")
    ] = None,
) -> Page[WeighinOut] | list[WeighinOut]:
    """Newest first (by id; indexes ``ix_weighins_<filter>_id`` behind each filter)."""
    q = select(WeighinRecord).order_by(WeighinRecord.id.desc())
    W = WeighinRecord
    for col, value in (
        (W.device_id, device_id),
        (W.household_id, household_id),
        (W.category_code, category),
        (W.status, status),
        (W.site_id, site_id),
    ):
        if value is not None:
            q = q.where(col == value)
    if (t := aware("since", since)) is not None:
        q = q.where(W.effective_at >= t)
    if (t := aware("until", until)) is not None:
        q = q.where(W.effective_at < t)
    if before_id is not None:
        q = q.where(W.id < before_id)
    if member_no is not None:
        # the household's id (unique member number), then ix_weighins_household_id_id;
        # a household out of reach is not found (scope.py), so neither are its weigh-ins
        typed = member_no.strip()
        q = q.where(
            W.household_id.in_(
                select(Household.id).where(Household.member_no.in_(sorted({typed, typed.upper()})))
            )
        )
    return listed(
        session,
        q,
        listing,
        lambda rows: [weighin_out(w) for w in rows],
        cap=WEIGHIN_COUNT_CAP,
        default_limit=100,
    )


#: one weigh-in with its raw frames: its site's staff, or the household it was credited to
WeighinReader = Annotated[Principal, Depends(require_role("operator", "auditor", "household"))]


@router.get(
    "/{weighin_id}",
    responses=error_responses(401, 403, 404),
    summary="One weigh-in with its raw frames (staff, or the household it was credited to)",
)
def get_weighin(_: WeighinReader, weighin_id: DbId, session: SessionDep) -> WeighinOut:
    return weighin_out(corrections.get_weighin(session, weighin_id=weighin_id))


@router.post(
    "/{weighin_id}/assign",
    responses=MONEY,
    response_model=WeighinOut,
    summary="Credit an unassigned weigh-in to a household (at its stored price)",
)
def assign(
    principal: Operator,
    weighin_id: DbId,
    body: AssignRequest,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    def act() -> WeighinOut:
        rec = corrections.assign_weighin(
            session, weighin_id=weighin_id, household_id=body.household_id, by=principal.label
        )
        return weighin_out(rec)

    return idempotent(session, request, principal, key, body, act)


@router.post(
    "/{weighin_id}/reverse",
    responses=MONEY,
    response_model=ReversalOut,
    summary=(
        "Reverse a credited weigh-in with reversing postings (operator, with a reason);"
        " what the household spent or holds becomes a receivable"
    ),
)
def reverse(
    principal: Operator,
    weighin_id: DbId,
    body: ReverseRequest,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    def act() -> ReversalOut:
        entry = corrections.reverse_weighin(
            session, weighin_id=weighin_id, reason=body.reason, by=principal.label
        )
        rec = corrections.get_weighin(session, weighin_id=weighin_id)
        hh = rec.household_id
        return ReversalOut(
            weighin_id=rec.id,
            reversal_entry_id=entry.id,
            amount_rp=rec.amount_rp,
            household_id=hh,
            balance_rp=funds(session, household_id=hh).balance_rp if hh is not None else None,
            owed_rp=owed_rp(session, [hh])[hh] if hh is not None else None,
        )

    return idempotent(session, request, principal, key, body, act)
