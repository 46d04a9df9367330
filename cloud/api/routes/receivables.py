"""Receivables: what households owe after a reversal of spent money (cloud.receivables).

The list is the operator's and cashier's view of their site (the scope of the session:
:mod:`cloud.api.scope`), the household reads its own; the cashier records cash repaid
at the counter, the administrator writes off (with a reason).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, Strict
from sqlalchemy.orm import Session

from cloud import receivables
from cloud.api.deps import (
    AccountReader,
    Admin,
    Counter,
    CounterReader,
    Limit,
    OwnHousehold,
    SessionDep,
)
from cloud.api.errors import error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.schemas import Note, Reason

router = APIRouter(prefix="/api/v1", tags=["receivables"])

MONEY = error_responses(401, 403, 404, 409, 422)
Amount = Annotated[int, Strict(), Field(ge=1, le=receivables.MAX_RP)]


class OwedReversalOut(BaseModel):
    weighin_id: int
    owed_rp: int = Field(description="what is still owed of this reversal (oldest settled first)")


class ReceivableOut(BaseModel):
    household_id: int
    member_no: str
    name: str
    site_id: int | None
    owed_rp: int
    since: datetime
    reversals: list[OwedReversalOut]


class HouseholdOwesOut(BaseModel):
    household_id: int
    owed_rp: int
    reversals: list[OwedReversalOut]


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_rp: Amount
    note: Note | None = None


class WriteOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_rp: Amount
    reason: Reason


class ReceivableEntryOut(BaseModel):
    household_id: int
    entry_id: int
    amount_rp: int
    owed_rp: int


def _out(o: receivables.Owed) -> ReceivableOut:
    return ReceivableOut(
        household_id=o.household_id,
        member_no=o.member_no,
        name=o.name,
        site_id=o.site_id,
        owed_rp=o.owed_rp,
        since=o.since,
        reversals=[OwedReversalOut(weighin_id=w, owed_rp=r) for w, r in o.reversals],
    )


def _entry_out(
    session: Session, household_id: int, entry_id: int, amount_rp: int
) -> ReceivableEntryOut:
    owed = receivables.owed_rp(session, [household_id])[household_id]
    return ReceivableEntryOut(
        household_id=household_id, entry_id=entry_id, amount_rp=amount_rp, owed_rp=owed
    )


@router.get(
    "/receivables",
    responses=error_responses(401, 403, 422),
    summary="Households that owe the programme (reversals of spent money), largest first",
)
def list_receivables(
    _: CounterReader, session: SessionDep, limit: Limit = 100
) -> list[ReceivableOut]:
    return [_out(o) for o in receivables.open_receivables(session, limit=limit)]


@router.get(
    "/households/{household_id}/receivable",
    responses=error_responses(401, 403, 404),
    summary="What the household owes the programme, and for which reversals",
)
def household_owes(
    _: AccountReader, household: OwnHousehold, session: SessionDep
) -> HouseholdOwesOut:
    rows = receivables.open_receivables(session, limit=1, household_id=household.id)
    if not rows:
        return HouseholdOwesOut(household_id=household.id, owed_rp=0, reversals=[])
    o = _out(rows[0])
    return HouseholdOwesOut(household_id=o.household_id, owed_rp=o.owed_rp, reversals=o.reversals)


@router.post(
    "/households/{household_id}/receivable/repayments",
    status_code=201,
    responses=MONEY,
    response_model=ReceivableEntryOut,
    summary="Cash repaid at the counter against what the household owes (into the cash box)",
)
def repay(
    who: Counter,
    body: RepaymentIn,
    household: OwnHousehold,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    def act() -> ReceivableEntryOut:
        entry = receivables.repay(
            session,
            household_id=household.id,
            amount_rp=body.amount_rp,
            by=who.label,
            note=body.note,
        )
        return _entry_out(session, household.id, entry.id, body.amount_rp)

    return idempotent(session, request, who, key, body, act, status_code=201)


@router.post(
    "/households/{household_id}/receivable/write-off",
    status_code=201,
    responses=MONEY,
    response_model=ReceivableEntryOut,
    summary="Write off (part of) what the household owes (administrator, with a reason)",
)
def write_off(
    who: Admin,
    body: WriteOffIn,
    household: OwnHousehold,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    def act() -> ReceivableEntryOut:
        entry = receivables.write_off(
            session,
            household_id=household.id,
            amount_rp=body.amount_rp,
            reason=body.reason,
            by=who.label,
        )
        return _entry_out(session, household.id, entry.id, body.amount_rp)

    return idempotent(session, request, who, key, body, act, status_code=201)
