"""CSV exports per period: weigh-ins and payouts (days in the programme's time zone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cloud.api.csvfile import CSV, csv_response
from cloud.api.deps import CounterReader, SessionDep, SiteReader, StateDep
from cloud.api.errors import ApiError, error_responses
from cloud.models import Household, WeighinRecord
from cloud.models.money import Payout

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

From = Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")]
To = Annotated[date, Query(alias="to", description="last local day (inclusive)")]


def _bounds(state: StateDep, first: date, last: date) -> tuple[datetime, datetime]:
    if last < first or (last - first).days > 366:
        raise ApiError(422, "validation", "need from <= to, at most 366 days apart")
    tz = state.settings.zone
    return (
        datetime.combine(first, time(), tz),
        datetime.combine(last + timedelta(days=1), time(), tz),
    )


@router.get(
    "/weighins.csv",
    response_class=StreamingResponse,
    responses={**CSV, **error_responses(401, 403, 422)},
    summary="Weigh-ins of a period as CSV",
)
def weighins_csv(
    _: SiteReader, session: SessionDep, state: StateDep, first: From, last: To
) -> StreamingResponse:
    start, end = _bounds(state, first, last)
    tz = state.settings.zone
    rows = session.execute(
        select(WeighinRecord, Household.member_no)
        .outerjoin(Household, Household.id == WeighinRecord.household_id)
        .where(WeighinRecord.effective_at >= start, WeighinRecord.effective_at < end)
        .order_by(WeighinRecord.effective_at, WeighinRecord.id)
    ).all()

    def gen() -> Iterator[list[object]]:
        for w, member_no in rows:
            yield [
                w.id,
                w.effective_at.isoformat(),
                w.effective_at.astimezone(tz).date().isoformat(),
                w.device_id,
                w.site_id or "",
                w.category_code,
                w.net_g,
                w.price_rp_per_kg or "",
                w.amount_rp,
                w.status,
                w.household_id or "",
                member_no or "",
                "yes" if w.reversal_entry_id else "no",
                w.event_id,
            ]

    header = [
        "id",
        "effective_at_utc",
        "local_day",
        "station",
        "site_id",
        "category",
        "net_g",
        "price_rp_per_kg",
        "amount_rp",
        "status",
        "household_id",
        "member_no",
        "reversed",
        "event_id",
    ]
    return csv_response(header, gen(), f"weighins_{first}_{last}.csv")


@router.get(
    "/payouts.csv",
    response_class=StreamingResponse,
    responses={**CSV, **error_responses(401, 403, 422)},
    summary="Payouts requested in a period as CSV",
)
def payouts_csv(
    _: CounterReader, session: SessionDep, state: StateDep, first: From, last: To
) -> StreamingResponse:
    start, end = _bounds(state, first, last)
    rows = session.execute(
        select(Payout, Household.member_no)
        .join(Household, Household.id == Payout.household_id)
        .where(Payout.requested_at >= start, Payout.requested_at < end)
        .order_by(Payout.requested_at, Payout.id)
    ).all()

    def gen() -> Iterator[list[object]]:
        for p, member_no in rows:
            yield [
                p.id,
                p.household_id,
                member_no,
                p.amount_rp,
                p.status,
                p.requested_at.isoformat(),
                p.requested_by,
                p.paid_at.isoformat() if p.paid_at else "",
                p.paid_by or "",
                p.reason or "",
            ]

    header = [
        "id",
        "household_id",
        "member_no",
        "amount_rp",
        "status",
        "requested_at_utc",
        "requested_by",
        "paid_at_utc",
        "paid_by",
        "reason",
    ]
    return csv_response(header, gen(), f"payouts_{first}_{last}.csv")
