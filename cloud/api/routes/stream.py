"""The live stream for operators: Server-Sent Events.

``GET /api/v1/stream?access_token=<token>`` (``EventSource`` cannot set headers; the
``Authorization`` header works too). Event types: ``weighin``, ``fill``, ``device``,
``alert``, ``dead_letter``, ``pickup``, ``payout``; each ``data`` is one JSON object.
A comment line (``: keep-alive``) is sent every ``stream_keepalive_s`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from cloud.api.deps import StateDep, StreamPrincipal
from cloud.api.errors import error_responses
from cloud.api.live import EVENT_TYPES

router = APIRouter(prefix="/api/v1", tags=["live"])
SSE_DESCRIPTION = "Server-Sent Events of types: " + ", ".join(EVENT_TYPES)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "events: " + ", ".join(EVENT_TYPES),
        },
        **error_responses(401, 403),
    },
    summary="Live events for the operator dashboard (Server-Sent Events)",
)
async def stream(
    request: Request,
    principal: StreamPrincipal,
    state: StateDep,
    types: Annotated[
        list[str] | None, Query(description="only these event types (default all)")
    ] = None,
    max_events: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="end after this many events")
    ] = None,
) -> StreamingResponse:
    wanted = set(types or EVENT_TYPES)
    scope = principal.scope
    hub = state.hub
    queue = await hub.subscribe()
    keepalive = state.settings.stream_keepalive_s

    async def gen() -> AsyncIterator[str]:
        sent = 0
        try:
            yield "retry: 3000\n: connected\n\n"
            while max_events is None or sent < max_events:
                try:
                    ev = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if ev.type in wanted and scope.admits(
                    site_ids=ev.site_ids, household_id=ev.household_id,
                    collector_id=ev.collector_id,
                ):  # fmt: skip
                    sent += 1
                    yield ev.encode()
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        gen(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip
