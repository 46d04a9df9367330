"""Price changes: proposed by one person, approved by another (then in force at their time)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from cloud import price_changes
from cloud.api.deps import Admin, CurrentPrincipal, Operator, SessionDep, StateDep
from cloud.api.errors import error_responses
from cloud.api.paging import Page, PageQuery, paginate
from cloud.api.schemas import CategoryCode, DbId, Instant, Note, Reason, Rupiah
from cloud.models.admin import PriceChange

router = APIRouter(prefix="/api/v1/price-changes", tags=["prices"])


class PriceChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: CategoryCode
    rp_per_kg: Rupiah
    effective_from: Instant | None = None
    note: Note | None = None


class PriceChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    category_code: str
    rp_per_kg: int
    effective_from: datetime | None
    status: str
    proposed_by: str
    proposed_at: datetime
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    price_id: int | None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.get("", responses=error_responses(401, 422), summary="Price changes, newest first")
def list_changes(
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|cancelled)$")] = None,
    category: Annotated[CategoryCode | None, Query()] = None,
) -> Page[PriceChangeOut]:
    stmt = select(PriceChange).order_by(PriceChange.id.desc())
    if status is not None:
        stmt = stmt.where(PriceChange.status == status)
    if category is not None:
        stmt = stmt.where(PriceChange.category_code == category)
    rows, total = paginate(session, stmt, page)
    return Page(
        items=[PriceChangeOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "",
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
    summary="Propose a price version (in force only once another person approves it)",
)
def propose(
    body: PriceChangeCreate, principal: Operator, session: SessionDep, state: StateDep
) -> PriceChangeOut:
    c = price_changes.propose(
        session,
        category=body.category,
        rp_per_kg=body.rp_per_kg,
        effective_from=body.effective_from,
        by=principal.label,
        note=body.note,
        max_rp_per_kg=state.settings.max_price_rp_per_kg,
    )
    session.commit()
    return PriceChangeOut.model_validate(c)


@router.post(
    "/{change_id}/approve",
    responses=error_responses(401, 403, 404, 409),
    summary="Approve someone else's proposal: the price version is written",
)
def approve(
    change_id: DbId, principal: Admin, session: SessionDep, state: StateDep
) -> PriceChangeOut:
    c = price_changes.approve(
        session,
        change_id=change_id,
        by=principal.label,
        max_rp_per_kg=state.settings.max_price_rp_per_kg,
    )
    session.commit()
    return PriceChangeOut.model_validate(c)


@router.post(
    "/{change_id}/reject",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Reject a proposal (or withdraw one's own)",
)
def reject(
    change_id: DbId, body: ReasonIn, principal: Operator, session: SessionDep
) -> PriceChangeOut:
    c = price_changes.reject(session, change_id=change_id, by=principal.label, reason=body.reason)
    session.commit()
    return PriceChangeOut.model_validate(c)
