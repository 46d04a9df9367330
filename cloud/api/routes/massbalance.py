"""Mass balance, the programme's margin per category and month, and CSV exports of
stock movements, sales and the mass balance (the same reach rule as the stock routes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cloud import massbalance, sales
from cloud.api.csvfile import CSV, csv_response
from cloud.api.deps import SessionDep
from cloud.api.routes.stock import READ, InReach, Reach, list_sales
from cloud.api.stock_schemas import BalanceRowOut, MarginOut
from cloud.models import Site
from cloud.models.stock import StockMovement

router = APIRouter(prefix="/api/v1", tags=["stock"])


@router.get("/mass-balance", responses=READ, summary="Mass balance per site and category")
def get_mass_balance(where: InReach, session: SessionDep) -> list[BalanceRowOut]:
    rows = massbalance.mass_balance(
        session, start=where.start, end=where.end, site_id=where.site_id
    )
    return [BalanceRowOut(**b.as_dict()) for b in rows]


@router.get("/stock/margins", responses=READ, summary="Margin per category per month (ledger)")
def get_margins(where: InReach, session: SessionDep) -> list[MarginOut]:
    months, m = [], where.start.astimezone(where.tz).date().replace(day=1)
    while datetime.combine(m, time(), where.tz) < where.end:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    rows = sales.margins(session, months=months, tz=where.tz, site_id=where.site_id)
    return [
        MarginOut(margin_rp=r.margin_rp, **{f: getattr(r, f) for f in MARGIN_FIELDS}) for r in rows
    ]


MARGIN_FIELDS = ("month", "category", "bought_g", "purchases_rp", "sold_g", "revenue_rp")

# --------------------------------------------------------------------------- CSV


def _kg(v: int) -> str:
    return f"{v / 1000:.3f}"


def _day(t: datetime, where: Reach) -> str:
    return t.astimezone(where.tz).date().isoformat()


@router.get(
    "/reports/stock-movements.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Stock movements of a period as CSV",
)
def movements_csv(where: InReach, session: SessionDep) -> StreamingResponse:
    M = StockMovement
    q = select(M, Site.code).join(Site, Site.id == M.site_id)
    q = q.where(M.effective_at >= where.start, M.effective_at < where.end)
    if where.site_id is not None:
        q = q.where(M.site_id == where.site_id)
    rows = session.execute(q.order_by(M.effective_at, M.id)).all()

    def gen() -> Iterator[list[object]]:
        for m, code in rows:
            yield [
                m.id,
                m.effective_at.isoformat(),
                _day(m.effective_at, where),
                code,
                m.category_code,
                m.kind,
                m.qty_g,
                _kg(m.qty_g),
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
    return csv_response(header, gen(), "stock-movements.csv")


@router.get(
    "/reports/sales.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Sales of a period as CSV",
)
def sales_csv(where: InReach, session: SessionDep) -> StreamingResponse:
    rows = list_sales(where, session, limit=1000)

    def gen() -> Iterator[list[object]]:
        for x in reversed(rows):
            yield [
                x.id,
                x.sold_at.isoformat(),
                _day(x.sold_at, where),
                x.site_id,
                x.category_code,
                x.buyer,
                x.qty_g,
                _kg(x.qty_g),
                x.scale_device_id or "",
                x.ticket_no or "",
                x.rp_per_kg,
                x.amount_rp,
                x.created_by,
                x.entry_id or "",
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
    return csv_response(header, gen(), "sales.csv")


@router.get(
    "/reports/mass-balance.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Mass balance of a period as CSV",
)
def mass_balance_csv(where: InReach, session: SessionDep) -> StreamingResponse:
    rows = get_mass_balance(where, session)
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

    return csv_response(["start_utc", "end_utc", *fields, "flags"], gen(), "mass-balance.csv")
