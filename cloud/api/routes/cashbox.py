"""End of day: each site's cash box opened, counted, closed; reopened only by the admin."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud import cashbox
from cloud.api.deps import Admin, Counter, CounterReader, SessionDep
from cloud.api.errors import error_responses
from cloud.api.paging import Page, PageQuery
from cloud.api.schemas import Note, Reason, Rupiah

router = APIRouter(prefix="/api/v1/cashbox", tags=["cash box"])

SiteId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Day = Annotated[date, Path(description="the site's local day, YYYY-MM-DD")]


class TallyOut(BaseModel):
    site_id: int
    day: date
    status: str | None = Field(description="open | closed | null (not opened)")
    opening_float_rp: int
    cash_in_rp: int
    cash_out_rp: int
    payouts_rp: int
    payouts: int
    repaid_rp: int = Field(0, description="cash repaid by households that owed (receivables)")
    expected_rp: int
    counted_rp: int | None = None
    difference_rp: int | None = None
    reason: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None


class CashDayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    site_id: int
    day: date
    status: str
    opening_float_rp: int
    opened_by: str
    expected_rp: int | None
    counted_rp: int | None
    difference_rp: int | None
    reason: str | None
    closed_by: str | None
    closed_at: datetime | None


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opening_float_rp: Rupiah


class MovementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["sale", "top_up", "bank_deposit", "other"]
    amount_rp: Annotated[int, Field(ge=-(10**10), le=10**10, strict=True)]
    note: Note | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    counted_rp: Rupiah
    reason: Annotated[str, Field(max_length=300)] | None = None


class ReopenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


def _tally(session: SessionDep, site_id: int, day: date) -> TallyOut:
    t = cashbox.tally(session, site_id=site_id, day=day)
    out = TallyOut(
        site_id=site_id,
        day=day,
        status=t.status,
        opening_float_rp=t.opening_float_rp,
        cash_in_rp=t.cash_in_rp,
        cash_out_rp=t.cash_out_rp,
        payouts_rp=t.payouts_rp,
        payouts=t.payouts,
        repaid_rp=t.repaid_rp,
        expected_rp=t.expected_rp,
    )
    row = cashbox._day(session, site_id, day)
    if row is not None and row.status == "closed":
        out.expected_rp = row.expected_rp if row.expected_rp is not None else out.expected_rp
        out.counted_rp, out.difference_rp, out.reason = (
            row.counted_rp,
            row.difference_rp,
            row.reason,
        )
        out.closed_by, out.closed_at = row.closed_by, row.closed_at
    return out


@router.get("", responses=error_responses(401, 403, 422), summary="Cash days, newest first")
def list_days(
    _: CounterReader,
    session: SessionDep,
    page: PageQuery,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[CashDayOut]:
    rows, total = cashbox.days(session, site_id=site_id, limit=page.limit, offset=page.offset)
    return Page(
        items=[CashDayOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{site_id}/{day}",
    responses=error_responses(401, 403, 404),
    summary="The day's tally: float + cash in - cash out - cash payouts = expected",
)
def get_day(site_id: SiteId, day: Day, _: CounterReader, session: SessionDep) -> TallyOut:
    return _tally(session, site_id, day)


@router.post(
    "/{site_id}/{day}/open", status_code=201, responses=error_responses(401, 403, 404, 409, 422)
)
def open_day(
    site_id: SiteId, day: Day, body: OpenIn, principal: Counter, session: SessionDep
) -> TallyOut:
    cashbox.open_day(
        session, site_id=site_id, day=day, float_rp=body.opening_float_rp, by=principal.label
    )
    session.commit()
    return _tally(session, site_id, day)


@router.post(
    "/{site_id}/{day}/movements",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Cash in (sale, top_up) or out (bank_deposit; other is signed)",
)
def add_movement(
    site_id: SiteId, day: Day, body: MovementIn, principal: Counter, session: SessionDep
) -> TallyOut:
    cashbox.add_movement(
        session,
        site_id=site_id,
        day=day,
        kind=body.kind,
        amount_rp=body.amount_rp,
        note=body.note,
        by=principal.label,
    )
    session.commit()
    return _tally(session, site_id, day)


@router.post(
    "/{site_id}/{day}/close",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Close with the counted cash (a difference needs a reason)",
)
def close_day(
    site_id: SiteId, day: Day, body: CloseIn, principal: Counter, session: SessionDep
) -> TallyOut:
    cashbox.close_day(
        session,
        site_id=site_id,
        day=day,
        counted_rp=body.counted_rp,
        reason=body.reason,
        by=principal.label,
    )
    session.commit()
    return _tally(session, site_id, day)


@router.post(
    "/{site_id}/{day}/reopen",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reopen a closed day (administrator only, with a reason)",
)
def reopen_day(
    site_id: SiteId, day: Day, body: ReopenIn, principal: Admin, session: SessionDep
) -> TallyOut:
    cashbox.reopen_day(
        session,
        site_id=site_id,
        day=day,
        reason=body.reason,
        by=principal.label,
        by_role=principal.role,
    )
    session.commit()
    return _tally(session, site_id, day)
