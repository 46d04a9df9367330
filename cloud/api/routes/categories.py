"""Waste categories and their price list (versioned by effective time, with history)."""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from cloud import price_changes, pricing
from cloud.api.deps import CurrentPrincipal, Operator, SessionDep, StateDep
from cloud.api.errors import ApiError, error_responses
from cloud.api.routes.price_changes import PriceChangeOut
from cloud.api.schemas import CategoryCode, CategoryCreate, CategoryOut, PriceCreate, PriceOut
from cloud.models import Price, WasteCategory, utcnow

router = APIRouter(prefix="/api/v1/categories", tags=["prices"])

Code = Annotated[CategoryCode, Path(description="category code")]


#: colour-blind-safe (Okabe-Ito, darkened for contrast on white): the defaults by code
KNOWN_COLOURS = {
    "organic": "#009e73",
    "paper": "#b8860b",
    "plastic-pet": "#0072b2",
    "plastic-mixed": "#56b4e9",
    "metal": "#555555",
    "glass": "#6a3d9a",
}
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b8860b", "#56b4e9", "#6a3d9a", "#555555")


def default_colour(code: str) -> str:
    """A category's colour when its record has none: fixed by its code, never by the
    order categories happen to appear in (a chart of one week matches the next)."""
    if code in KNOWN_COLOURS:
        return KNOWN_COLOURS[code]
    return PALETTE[zlib.crc32(code.encode()) % len(PALETTE)]


def _out(session: SessionDep, cat: WasteCategory) -> CategoryOut:
    price = pricing.price_at(session, category=cat.code, at=utcnow())
    return CategoryOut(
        code=cat.code,
        name_id=cat.name_id,
        name_en=cat.name_en,
        active=cat.active,
        colour=cat.colour or default_colour(cat.code),
        rp_per_kg=price.rp_per_kg if price else None,
        price_since=price.effective_from if price else None,
    )


@router.get("", responses=error_responses(401), summary="Categories with today's price")
def list_categories(_: CurrentPrincipal, session: SessionDep) -> list[CategoryOut]:
    cats = session.scalars(select(WasteCategory).order_by(WasteCategory.code))
    return [_out(session, c) for c in cats]


@router.post("", status_code=201, responses=error_responses(401, 403, 409, 422))
def create_category(
    body: CategoryCreate, principal: Operator, session: SessionDep, state: StateDep
) -> CategoryOut:
    cat = price_changes.create_category(
        session,
        code=body.code,
        name_id=body.name_id,
        name_en=body.name_en,
        colour=body.colour,
        by=principal.label,
    )
    if body.rp_per_kg is not None:  # a first price is a price change like any other
        price_changes.propose(
            session,
            category=cat.code,
            rp_per_kg=body.rp_per_kg,
            effective_from=None,
            by=principal.label,
            max_rp_per_kg=state.settings.max_price_rp_per_kg,
        )
    session.commit()
    return _out(session, cat)


@router.get(
    "/{code}/prices",
    responses=error_responses(401, 404, 422),
    summary="Price history of a category, newest first (future versions included)",
)
def price_history(code: Code, _: CurrentPrincipal, session: SessionDep) -> list[PriceOut]:
    if session.get(WasteCategory, code) is None:
        raise ApiError(404, "not-found", f"no category {code!r}")
    rows = session.scalars(
        select(Price)
        .where(Price.category_code == code)
        .order_by(Price.effective_from.desc(), Price.id.desc())
    )
    return [PriceOut.model_validate(p) for p in rows]


@router.post(
    "/{code}/prices",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Propose a price version: in force once another person approves it "
    "(POST /api/v1/price-changes/{id}/approve)",
)
def add_price(
    code: Code, body: PriceCreate, principal: Operator, session: SessionDep, state: StateDep
) -> PriceChangeOut:
    change = price_changes.propose(
        session,
        category=code,
        rp_per_kg=body.rp_per_kg,
        effective_from=body.effective_from,
        by=principal.label,
        max_rp_per_kg=state.settings.max_price_rp_per_kg,
    )
    session.commit()
    return PriceChangeOut.model_validate(change)
