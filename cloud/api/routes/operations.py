"""Operator views: alerts (acknowledge), dead letters (list, counts by reason), health."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cloud import deadletters
from cloud.api.deps import Limit, Operator, SessionDep, SiteReader, StateDep
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import AlertOut, DbId, DeadLetterCounts, DeadLetterOut, Instant
from cloud.models import DeadLetter
from cloud.pickups import acknowledge_alert, list_alerts

router = APIRouter(prefix="/api/v1", tags=["operations"])

PREVIEW_BYTES = 2048


class HealthOut(BaseModel):
    status: str
    broker_connected: bool | None
    stream_subscribers: int
    db_threads: int = Field(description="worker threads for database work (= admission slots)")
    requests_in_flight: int = Field(description="admitted requests not finished yet")
    requests_waiting: int
    requests_refused: int = Field(description="503s for overload since the worker started")


@router.get("/health", summary="Liveness of the API (no authentication, no database)")
async def health(state: StateDep) -> HealthOut:
    gate = state.gate
    return HealthOut(
        status="ok",
        broker_connected=state.mqtt.connected if state.mqtt is not None else None,
        stream_subscribers=state.hub.subscribers,
        db_threads=int(anyio.to_thread.current_default_thread_limiter().total_tokens),
        requests_in_flight=gate.in_use,
        requests_waiting=gate.waiting,
        requests_refused=gate.refused,
    )


@router.get("/alerts", responses=error_responses(401, 403), summary="Alerts, newest first")
def alerts(
    _: SiteReader, session: SessionDep, active_only: bool = True, limit: Limit = 200
) -> list[AlertOut]:
    return [
        AlertOut.model_validate(a)
        for a in list_alerts(session, active_only=active_only, limit=limit)
    ]


@router.post("/alerts/{alert_id}/acknowledge", responses=error_responses(401, 403, 404))
def acknowledge(principal: Operator, alert_id: DbId, session: SessionDep) -> AlertOut:
    a = acknowledge_alert(session, alert_id=alert_id, by=principal.label)
    session.commit()
    return AlertOut.model_validate(a)


def _dl_out(d: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=d.id,
        received_at=d.received_at,
        topic=d.topic,
        client_hint=d.client_hint,
        reason=d.reason,
        detail=d.detail,
        payload_preview=d.payload[:PREVIEW_BYTES].decode("utf-8", "backslashreplace"),
        payload_size=d.payload_size,
        truncated=d.truncated,
    )


@router.get("/dead-letters", responses=error_responses(401, 403, 422), summary="Refused messages")
def dead_letter_list(
    _: SiteReader,
    session: SessionDep,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="page: ids below this")
    ] = None,
    limit: Limit = 100,
) -> list[DeadLetterOut]:
    rows = deadletters.list_dead_letters(session, reason=reason, limit=limit, before_id=before_id)
    return [_dl_out(d) for d in rows]


@router.get(
    "/dead-letters/counts",
    responses=error_responses(401, 403, 422),
    summary="Dead letters counted by reason",
)
def dead_letter_counts(
    _: SiteReader, session: SessionDep, since: Annotated[Instant | None, Query()] = None
) -> DeadLetterCounts:
    if since is not None and since.tzinfo is None:
        raise ApiError(422, "validation", "since needs a time zone (e.g. Z)")
    counts = deadletters.counts_by_reason(session, since=since)
    return DeadLetterCounts(total=sum(counts.values()), by_reason=counts)
