"""The monthly programme report (kg by category, households, rupiah, sales, mass
balance, open cases): as JSON, and as a print-ready HTML page (print to PDF)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from cloud.api.deps import SessionDep, SiteReader, StateDep
from cloud.api.errors import error_responses
from cloud.api.routes.cases import _explained
from cloud.api.routes.stock import SiteQ, site_in_reach
from cloud.api.stock_schemas import BalanceRowOut, CaseOut
from cloud.programme_report import ProgrammeReport, monthly_report
from cloud.report_html import render

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MonthQ = Annotated[
    str | None,
    Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$", description="YYYY-MM (default: this month)"),
]


class CategoryLineOut(BaseModel):
    category: str
    name_id: str
    name_en: str
    credited_g: int
    purchases_rp: int
    sold_g: int
    revenue_rp: int
    margin_rp: int
    closing_g: int


class ProgrammeReportOut(BaseModel):
    month: date
    site_code: str | None
    generated_at: datetime
    households_registered: int
    households_active: int
    weighins: int
    credited_g: int
    purchases_rp: int
    paid_out_rp: int
    payouts: int
    sold_g: int
    revenue_rp: int
    margin_rp: int
    categories: list[CategoryLineOut]
    mass_balance: list[BalanceRowOut]
    open_cases: list[CaseOut]
    cases_raised: int
    cases_confirmed: int
    holds_active: int


def _report(
    principal: SiteReader,
    session: SessionDep,
    state: StateDep,
    month: str | None,
    site_id: int | None,
) -> ProgrammeReport:
    tz = state.settings.zone
    first = date.fromisoformat(f"{month}-01") if month else datetime.now(tz).date().replace(day=1)
    return monthly_report(session, month=first, tz=tz, site_id=site_in_reach(principal, site_id))


@router.get(
    "/programme",
    responses=error_responses(401, 403, 404, 422),
    summary="The monthly programme report (figures)",
)
def programme(
    principal: SiteReader,
    session: SessionDep,
    state: StateDep,
    month: MonthQ = None,
    site_id: SiteQ = None,
) -> ProgrammeReportOut:
    r = _report(principal, session, state, month, site_id)
    return ProgrammeReportOut(
        month=r.month,
        site_code=r.site_code,
        generated_at=r.generated_at,
        households_registered=r.households_registered,
        households_active=r.households_active,
        weighins=r.weighins,
        credited_g=r.credited_g,
        purchases_rp=r.purchases_rp,
        paid_out_rp=r.paid_out_rp,
        payouts=r.payouts,
        sold_g=r.sold_g,
        revenue_rp=r.revenue_rp,
        margin_rp=r.margin_rp,
        categories=[
            CategoryLineOut(
                category=c.category,
                name_id=c.name_id,
                name_en=c.name_en,
                credited_g=c.credited_g,
                purchases_rp=c.purchases_rp,
                sold_g=c.sold_g,
                revenue_rp=c.revenue_rp,
                margin_rp=c.margin_rp,
                closing_g=c.closing_g,
            )
            for c in r.categories
        ],
        mass_balance=[BalanceRowOut(**b.as_dict()) for b in r.balances],
        open_cases=_explained(session, r.open_cases),
        cases_raised=r.cases_raised,
        cases_confirmed=r.cases_confirmed,
        holds_active=r.holds_active,
    )


@router.get(
    "/programme.html",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "a print-ready page"},
        **error_responses(401, 403, 404, 422),
    },
    summary="The monthly programme report as a print-ready page (print it to PDF)",
)
def programme_html(
    principal: SiteReader,
    session: SessionDep,
    state: StateDep,
    month: MonthQ = None,
    site_id: SiteQ = None,
    lang: Literal["id", "en"] = "id",
) -> HTMLResponse:
    return HTMLResponse(render(_report(principal, session, state, month, site_id), lang))
