"""Stock per site and category, its movements, sales, mass balance, margins; CSV exports.

The site's operator writes, its staff and the auditor read (loss allowances: the
administrator); a user tied to a site reaches that site only (:func:`site_in_reach`).

Every write carries an ``Idempotency-Key`` (a retried sale never sells twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from cloud import massbalance, sales, stock
from cloud.api.deps import (
    Admin,
    BeforeId,
    Limit,
    Operator,
    Principal,
    SessionDep,
    SiteReader,
    StateDep,
    _staff_sees,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.stock_schemas import (
    CountCreate,
    CountOut,
    LossAllowanceOut,
    LossAllowanceSet,
    LossCreate,
    MovementOut,
    SaleCreate,
    SaleOut,
    StockLevelOut,
    TransferCreate,
    TransferOut,
)
from cloud.models import Site
from cloud.models.stock import MOVEMENT_KINDS, Sale, StockMovement

router = APIRouter(prefix="/api/v1", tags=["stock"])

READ = error_responses(401, 403, 404, 422)
WRITE = error_responses(401, 403, 404, 409, 422)
SiteQ = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="one site (default: yours)")]
FromQ = Annotated[
    date | None, Query(alias="from", description="first local day (default: 1st of this month)")
]
ToQ = Annotated[
    date | None, Query(alias="to", description="last local day, inclusive (default: today)")
]


def site_in_reach(principal: Principal, site_id: int | None) -> int | None:
    """The site a request is about: a staff user tied to a site reaches only that one
    (another answers 404); a programme-wide one reaches any (None: every site)."""
    if site_id is not None and not _staff_sees(principal, site_id):
        raise ApiError(404, "not-found", "no such site", title="Not found")
    return site_id if site_id is not None else principal.site_id


def period(state: StateDep, first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """UTC bounds of local days ``first..last`` (defaults: this month so far)."""
    tz = state.settings.zone
    today = datetime.now(tz).date()
    last = last or today
    first = first or last.replace(day=1)
    if last < first or (last - first).days > 366:
        raise ApiError(422, "validation", "need from <= to, at most 366 days apart")
    return datetime.combine(first, time(), tz), datetime.combine(
        last + timedelta(days=1), time(), tz
    )


@dataclass(frozen=True, slots=True)
class Reach:
    """What a read of these routes is about: a site (None: every site) and a period."""

    site_id: int | None
    start: datetime
    end: datetime
    tz: ZoneInfo


def reach(
    principal: SiteReader,
    state: StateDep,
    site_id: SiteQ = None,
    first: FromQ = None,
    last: ToQ = None,
) -> Reach:
    """SiteReader only; the site after :func:`site_in_reach`, the local days as UTC bounds."""
    start, end = period(state, first, last)
    return Reach(site_in_reach(principal, site_id), start, end, state.settings.zone)


#: the site and period of a read, within the caller's reach (staff only)
InReach = Annotated[Reach, Depends(reach)]


# --------------------------------------------------------------------------- stock


@router.get("/stock", responses=READ, summary="Stock per site and category now")
def get_stock(
    principal: SiteReader, session: SessionDep, site_id: SiteQ = None
) -> list[StockLevelOut]:
    site = site_in_reach(principal, site_id)
    waiting = stock.unassigned_waiting(session, site_id=site)
    out = [
        StockLevelOut(
            site_id=lv.site_id,
            site_code=lv.site_code,
            category=lv.category,
            qty_g=lv.qty_g,
            unassigned_g=waiting.pop((lv.site_id, lv.category), 0),
        )
        for lv in stock.levels(session, site_id=site)
    ]
    codes = dict(session.execute(select(Site.id, Site.code)).all())
    out += [
        StockLevelOut(
            site_id=s, site_code=codes.get(s, str(s)), category=c, qty_g=0, unassigned_g=g
        )
        for (s, c), g in sorted(waiting.items())
    ]
    return out


@router.get("/stock/movements", responses=READ, summary="Stock movements, newest first")
def list_movements(
    where: InReach,
    session: SessionDep,
    category: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(pattern="^(" + "|".join(MOVEMENT_KINDS) + ")$")] = None,
    before_id: BeforeId = None,
    limit: Limit = 200,
) -> list[MovementOut]:
    M = StockMovement
    q = select(M).where(M.effective_at >= where.start, M.effective_at < where.end)
    for col, value in ((M.site_id, where.site_id), (M.category_code, category), (M.kind, kind)):
        if value is not None:
            q = q.where(col == value)
    if before_id is not None:
        q = q.where(M.id < before_id)
    return [
        MovementOut.model_validate(m) for m in session.scalars(q.order_by(M.id.desc()).limit(limit))
    ]


@router.post(
    "/stock/losses",
    status_code=201,
    responses=WRITE,
    response_model=MovementOut,
    summary="Record waste lost from stock (drying, sorting rejects, ...)",
)
def record_loss(
    body: LossCreate,
    principal: Operator,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    site_in_reach(principal, body.site_id)

    def act() -> MovementOut:
        mv = stock.record_loss(
            session,
            site_id=body.site_id,
            category=body.category,
            qty_g=body.qty_g,
            reason=body.reason,
            at=body.at,
            note=body.note,
            by=principal.label,
        )
        return MovementOut.model_validate(mv)

    return idempotent(session, request, principal, key, body, act, status_code=201)


@router.post(
    "/stock/transfers",
    status_code=201,
    responses=WRITE,
    response_model=TransferOut,
    summary="Move waste from one site to another",
)
def transfer(
    body: TransferCreate,
    principal: Operator,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    site_in_reach(principal, body.from_site_id)

    def act() -> TransferOut:
        out, into = stock.transfer(
            session,
            from_site_id=body.from_site_id,
            to_site_id=body.to_site_id,
            category=body.category,
            qty_g=body.qty_g,
            at=body.at,
            note=body.note,
            by=principal.label,
        )
        return TransferOut(
            out=MovementOut.model_validate(out), into=MovementOut.model_validate(into)
        )

    return idempotent(session, request, principal, key, body, act, status_code=201)


@router.post(
    "/stock/counts",
    status_code=201,
    responses=WRITE,
    response_model=CountOut,
    summary="Record a physical count; the difference to the stock is a movement",
)
def record_count(
    body: CountCreate,
    principal: Operator,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    site_in_reach(principal, body.site_id)

    def act() -> CountOut:
        mv = stock.record_count(
            session,
            site_id=body.site_id,
            category=body.category,
            counted_g=body.counted_g,
            at=body.at,
            note=body.note,
            by=principal.label,
        )
        level = stock.level(session, site_id=body.site_id, category=body.category)
        return CountOut(movement=MovementOut.model_validate(mv) if mv else None, level_g=level)

    return idempotent(session, request, principal, key, body, act, status_code=201)


# --------------------------------------------------------------------------- sales


@router.get("/sales", responses=READ, summary="Sales to offtakers, newest first")
def list_sales(where: InReach, session: SessionDep, limit: Limit = 200) -> list[SaleOut]:
    q = select(Sale).where(Sale.sold_at >= where.start, Sale.sold_at < where.end)
    if where.site_id is not None:
        q = q.where(Sale.site_id == where.site_id)
    return [
        SaleOut.model_validate(x) for x in session.scalars(q.order_by(Sale.id.desc()).limit(limit))
    ]


@router.post(
    "/sales",
    status_code=201,
    responses=WRITE,
    response_model=SaleOut,
    summary="Sell waste to an offtaker: out of stock, revenue into the ledger",
)
def create_sale(
    body: SaleCreate,
    principal: Operator,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    site_in_reach(principal, body.site_id)

    def act() -> SaleOut:
        sale = sales.record_sale(
            session,
            site_id=body.site_id,
            category=body.category,
            buyer=body.buyer,
            qty_g=body.qty_g,
            rp_per_kg=body.rp_per_kg,
            amount_rp=body.amount_rp,
            scale_device_id=body.scale_device_id,
            ticket_no=body.ticket_no,
            sold_at=body.sold_at,
            note=body.note,
            by=principal.label,
        )
        return SaleOut.model_validate(sale)

    return idempotent(session, request, principal, key, body, act, status_code=201)


@router.get("/stock/loss-allowances", responses=READ, summary="Allowed loss per category")
def get_allowances(_: SiteReader, session: SessionDep) -> list[LossAllowanceOut]:
    from cloud.models import WasteCategory

    set_ = massbalance.allowed_losses(session)
    cats = session.scalars(select(WasteCategory.code).order_by(WasteCategory.code))
    return [
        LossAllowanceOut(
            category=c, allowed_loss_bp=set_.get(c, massbalance.DEFAULT_ALLOWED_LOSS_BP)
        )
        for c in cats
    ]


@router.put("/stock/loss-allowances", responses=WRITE, summary="Set a category's allowed loss")
def put_allowance(
    body: LossAllowanceSet, principal: Admin, session: SessionDep
) -> LossAllowanceOut:
    rule = massbalance.set_allowed_loss(
        session, category=body.category, bp=body.allowed_loss_bp, by=principal.label
    )
    session.commit()
    return LossAllowanceOut(category=rule.category_code, allowed_loss_bp=rule.allowed_loss_bp)
