"""A household's money: balance, statement, payouts (request, approve, pay, reject)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from cloud import payouts as pay
from cloud.api.deps import (
    BEARER,
    AccountReader,
    Counter,
    CounterReader,
    Limit,
    OwnHousehold,
    Principal,
    ReadableAccount,
    SessionDep,
    StateDep,
    require_role,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.schemas import (
    BalanceOut,
    DbId,
    Instant,
    PayoutCreate,
    PayoutOut,
    PayoutReject,
    StatementLineOut,
    StatementOut,
)
from cloud.api.state import ApiState
from cloud.api.weighin_view import weighin_out
from cloud.models import Household, WeighinRecord
from cloud.models.money import PAYOUT_STATES, Payout
from cloud.postings import funds_from_row, statement

router = APIRouter(prefix="/api/v1", tags=["accounts"])

MONEY = error_responses(401, 403, 404, 409, 422)
#: who may ask for a household's payout: its site's counter, or the household itself
PayoutRequester = Annotated[Principal, Depends(require_role("operator", "cashier", "household"))]


@router.get(
    "/households/{household_id}/balance",
    responses=error_responses(401, 403, 404),
    response_model=BalanceOut,
    summary="Balance, held payouts and what is available",
    openapi_extra=BEARER,
)
async def get_balance(request: Request, household_id: ReadableAccount) -> Response:
    # the hottest read of the API: one dependency for the caller's rules, one aggregate
    # query (batched with its neighbours on PostgreSQL); the model is built here, so the
    # response skips FastAPI's second validation pass
    body = await balance_json(request.app.state.api, household_id)
    return Response(content=body, media_type="application/json")


async def balance_json(state: ApiState, household_id: int) -> bytes:
    """The balance route's body (:mod:`cloud.api.hotpath` answers with it too)."""
    f = funds_from_row(await state.balances.funds_row(household_id))
    return (
        BalanceOut(
            household_id=household_id,
            balance_rp=f.balance_rp,
            held_rp=f.held_rp,
            available_rp=f.available_rp,
        )
        .model_dump_json()
        .encode()
    )


@router.get(
    "/households/{household_id}/statement",
    responses=error_responses(401, 403, 404, 422),
    summary="Every posting of the account with the weigh-in behind each credit",
)
def get_statement(
    _: AccountReader,
    household: OwnHousehold,
    session: SessionDep,
    since: Annotated[Instant | None, Query(description="UTC, inclusive")] = None,
    until: Annotated[Instant | None, Query(description="UTC, exclusive")] = None,
) -> StatementOut:
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise ApiError(422, "validation", f"{name} needs a time zone (e.g. Z)")
    stmt = statement(session, household_id=household.id, since=since, until=until)
    lines = stmt.lines
    ids = {ln.weighin_id for ln in lines if ln.weighin_id is not None}
    recs = (
        {
            w.id: weighin_out(w)
            for w in session.scalars(select(WeighinRecord).where(WeighinRecord.id.in_(ids)))
        }
        if ids
        else {}
    )
    out = [
        StatementLineOut(
            entry_id=ln.entry_id,
            at=ln.at,
            kind=ln.kind,
            description=ln.description,
            amount_rp=ln.amount_rp,
            balance_rp=ln.balance_rp,
            weighin=recs.get(ln.weighin_id) if ln.weighin_id is not None else None,
        )
        for ln in lines
    ]
    return StatementOut(
        household_id=household.id,
        opening_balance_rp=stmt.opening_rp,
        closing_balance_rp=stmt.closing_rp,
        lines=out,
    )


@router.get(
    "/households/{household_id}/payouts",
    responses=error_responses(401, 403, 404),
    summary="A household's payouts, newest first",
)
def household_payouts(
    _: AccountReader, household: OwnHousehold, session: SessionDep, limit: Limit = 100
) -> list[PayoutOut]:
    rows = session.scalars(
        select(Payout)
        .where(Payout.household_id == household.id)
        .order_by(Payout.id.desc())
        .limit(limit)
    )
    return [PayoutOut.model_validate(p) for p in rows]


@router.post(
    "/households/{household_id}/payouts",
    status_code=201,
    responses=MONEY,
    response_model=PayoutOut,
    summary="Request a cash payout (held until paid; never beyond the available balance)",
)
def request_payout(
    who: PayoutRequester,
    body: PayoutCreate,
    household: OwnHousehold,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    def act() -> PayoutOut:
        p = pay.request_payout(
            session,
            household_id=household.id,
            amount_rp=body.amount_rp,
            by=who.label,
            note=body.note,
        )
        return PayoutOut.model_validate(p)

    resp = idempotent(session, request, who, key, body, act, status_code=201)
    state.hub.publish(
        "payout",
        {"household_id": household.id, "status": "requested"},
        site_id=household.site_id,
        household_id=household.id,
    )
    return resp


@router.get("/payouts", responses=error_responses(401, 403, 422), summary="Payouts to decide")
def list_payouts(
    _: CounterReader,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(PAYOUT_STATES) + ")$")] = None,
    household_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Limit = 100,
) -> list[PayoutOut]:
    q = select(Payout).order_by(Payout.id.desc()).limit(limit)
    if status is not None:
        q = q.where(Payout.status == status)
    if household_id is not None:
        q = q.where(Payout.household_id == household_id)
    return [PayoutOut.model_validate(p) for p in session.scalars(q)]


def _decide(
    payout_id: int,
    action: str,
    principal: Principal,
    key: str,
    request: Request,
    session: SessionDep,
    state: StateDep,
    body: PayoutReject | None = None,
) -> Response:
    two_person = state.settings.two_person_payout_rp

    def act() -> PayoutOut:
        if action == "approve":
            p = pay.approve_payout(
                session, payout_id=payout_id, by=principal.label, two_person_from_rp=two_person
            )
        elif action == "pay":
            p = pay.pay_payout(
                session, payout_id=payout_id, by=principal.label, two_person_from_rp=two_person
            )
        else:
            assert body is not None
            p = pay.reject_payout(
                session, payout_id=payout_id, by=principal.label, reason=body.reason
            )
        return PayoutOut.model_validate(p)

    resp = idempotent(session, request, principal, key, body, act)
    p = session.get(Payout, payout_id)  # within reach: it was just decided (or replayed)
    hh = session.get(Household, p.household_id) if p is not None else None
    if hh is not None:
        state.hub.publish(
            "payout", {"id": payout_id, "status": action}, site_id=hh.site_id, household_id=hh.id
        )
    return resp


@router.post(
    "/payouts/{payout_id}/approve",
    responses=MONEY,
    response_model=PayoutOut,
    summary="Approve a requested payout (re-checks the balance)",
)
def approve(
    principal: Counter,
    payout_id: DbId,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    return _decide(payout_id, "approve", principal, key, request, session, state)


@router.post(
    "/payouts/{payout_id}/pay",
    responses=MONEY,
    response_model=PayoutOut,
    summary="Hand out the cash: posts the payout to the ledger",
)
def pay_out(
    principal: Counter,
    payout_id: DbId,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    return _decide(payout_id, "pay", principal, key, request, session, state)


@router.post(
    "/payouts/{payout_id}/reject",
    responses=MONEY,
    response_model=PayoutOut,
    summary="Reject a requested or approved payout (releases the hold)",
)
def reject(
    principal: Counter,
    payout_id: DbId,
    body: PayoutReject,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    return _decide(payout_id, "reject", principal, key, request, session, state, body)
