"""Mass balance, the programme's margin per category and month, and CSV exports of
stock movements, sales and the mass balance (the same reach rule as the stock routes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cloud import massbalance, sales
from cloud.api.deps import SessionDep, Staff, StateDep
from cloud.api.routes.reports import CSV, _csv
from cloud.api.routes.stock import READ, FromQ, SiteQ, ToQ, list_sales, period, site_in_reach
from cloud.api.stock_schemas import BalanceRowOut, MarginOut
from cloud.models import Site
from cloud.models.stock import StockMovement

router = APIRouter(prefix="/api/v1", tags=["stock"])


@router.get("/mass-balance", responses=READ, summary="Mass balance per site and category")
def get_mass_balance(
    principal: Staff,
    session: SessionDep,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> list[BalanceRowOut]:
    start, end = period(state, first, last)
    rows = massbalance.mass_balance(
        session, start=start, end=end, site_id=site_in_reach(principal, site_id)
    )
    return [BalanceRowOut(**b.as_dict()) for b in rows]


@router.get("/stock/margins", responses=READ, summary="Margin per category per month (ledger)")
def get_margins(
    principal: Staff,
    session: SessionDep,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> list[MarginOut]:
    start, end = period(state, first, last)
    tz = state.settings.zone
    months, m = [], start.astimezone(tz).date().replace(day=1)
    while datetime.combine(m, time(), tz) < end:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    rows = sales.margins(session, months=months, tz=tz, site_id=site_in_reach(principal, site_id))
    return [
        MarginOut(
            month=r.month,
            category=r.category,
            bought_g=r.bought_g,
            purchases_rp=r.purchases_rp,
            sold_g=r.sold_g,
            revenue_rp=r.revenue_rp,
            margin_rp=r.margin_rp,
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- CSV


def _g(v: int) -> str:
    return f"{v / 1000:.3f}"


@router.get(
    "/reports/stock-movements.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Stock movements of a period as CSV",
)
def movements_csv(
    principal: Staff,
    session: SessionDep,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> StreamingResponse:
    M = StockMovement
    start, end = period(state, first, last)
    q = (
        select(M, Site.code)
        .join(Site, Site.id == M.site_id)
        .where(M.effective_at >= start, M.effective_at < end)
    )
    site = site_in_reach(principal, site_id)
    if site is not None:
        q = q.where(M.site_id == site)
    rows = session.execute(q.order_by(M.effective_at, M.id)).all()
    tz = state.settings.zone

    def gen() -> Iterator[list[object]]:
        for m, code in rows:
            yield [
                m.id,
                m.effective_at.isoformat(),
                m.effective_at.astimezone(tz).date().isoformat(),
                code,
                m.category_code,
                m.kind,
                m.qty_g,
                _g(m.qty_g),
                m.reason or "",
                m.weighin_id or "",
                m.sale_id or "",
                m.delivery_id or "",
                m.created_by or "",
                m.note or "",
            ]

    header = [
        "id",
        "effective_at_utc",
        "local_day",
        "site",
        "category",
        "kind",
        "qty_g",
        "qty_kg",
        "reason",
        "weighin_id",
        "sale_id",
        "delivery_id",
        "by",
        "note",
    ]
    return _csv(header, gen(), f"stock-movements_{start.astimezone(tz):%Y-%m-%d}.csv")


@router.get(
    "/reports/sales.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Sales of a period as CSV",
)
def sales_csv(
    principal: Staff,
    session: SessionDep,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> StreamingResponse:
    rows = list_sales(principal, session, state, site_id, first, last, limit=1000)
    tz = state.settings.zone

    def gen() -> Iterator[list[object]]:
        for s in reversed(rows):
            yield [
                s.id,
                s.sold_at.isoformat(),
                s.sold_at.astimezone(tz).date().isoformat(),
                s.site_id,
                s.category_code,
                s.buyer,
                s.qty_g,
                _g(s.qty_g),
                s.scale_device_id or "",
                s.ticket_no or "",
                s.rp_per_kg,
                s.amount_rp,
                s.created_by,
                s.entry_id or "",
            ]

    header = [
        "id",
        "sold_at_utc",
        "local_day",
        "site_id",
        "category",
        "buyer",
        "qty_g",
        "qty_kg",
        "scale",
        "weighbridge_ticket",
        "rp_per_kg",
        "amount_rp",
        "by",
        "entry_id",
    ]
    return _csv(header, gen(), "sales.csv")


@router.get(
    "/reports/mass-balance.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Mass balance of a period as CSV",
)
def mass_balance_csv(
    principal: Staff,
    session: SessionDep,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> StreamingResponse:
    rows = get_mass_balance(principal, session, state, site_id, first, last)
    fields = [f for f in BalanceRowOut.model_fields if f not in ("start", "end", "flags")]

    def gen() -> Iterator[list[object]]:
        for r in rows:
            d = r.model_dump()
            yield [
                d["start"].isoformat(),
                d["end"].isoformat(),
                *(d[f] for f in fields),
                " ".join(r.flags),
            ]

    return _csv(["start_utc", "end_utc", *fields, "flags"], gen(), "mass-balance.csv")
