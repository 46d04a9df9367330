"""Reports per household, site, collector, category or month: JSON (paged) and CSV."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from cloud import reporting
from cloud.api.csvfile import CSV, csv_response
from cloud.api.deps import CounterReader, SessionDep, StateDep
from cloud.api.errors import ApiError, error_responses
from cloud.api.paging import Page, PageQuery

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

By = Annotated[Literal["household", "site", "collector", "category", "month"], Query()]
First = Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")]
Last = Annotated[date, Query(alias="to", description="last local day (inclusive)")]
SiteQ = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


class SummaryOut(BaseModel):
    key: str
    label: str
    weighins: int
    net_g: int
    amount_rp: int
    payouts_rp: int
    pickups: int


def _rows(
    state: StateDep, session: SessionDep, by: str, first: date, last: date, site_id: int | None
) -> list[reporting.SummaryRow]:
    if last < first or (last - first).days > 731:
        raise ApiError(422, "validation", "need from <= to, at most two years apart")
    return reporting.summary(
        session, by=by, first=first, last=last, zone=state.settings.zone, site_id=site_id
    )


@router.get(
    "/summary",
    responses=error_responses(401, 403, 422),
    summary="Kg, rupiah credited, paid out and pickups per household/site/collector/category/month",
)
def summary(
    _: CounterReader,
    session: SessionDep,
    state: StateDep,
    by: By,
    first: First,
    last: Last,
    page: PageQuery,
    site_id: SiteQ = None,
) -> Page[SummaryOut]:
    rows = _rows(state, session, by, first, last, site_id)
    items = [SummaryOut(**asdict(r)) for r in rows[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(rows), limit=page.limit, offset=page.offset)


@router.get(
    "/summary.csv",
    response_class=StreamingResponse,
    responses={**CSV, **error_responses(401, 403, 422)},
    summary="The same report as CSV (every row)",
)
def summary_csv(
    _: CounterReader,
    session: SessionDep,
    state: StateDep,
    by: By,
    first: First,
    last: Last,
    site_id: SiteQ = None,
) -> StreamingResponse:
    rows = _rows(state, session, by, first, last, site_id)
    header = ["key", "label", "weighins", "net_g", "amount_rp", "payouts_rp", "pickups"]
    cells = (asdict(r).values() for r in rows)
    return csv_response(header, cells, f"report_{by}_{first}_{last}.csv")
