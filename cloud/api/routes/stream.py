"""The live stream: Server-Sent Events, each caller getting what it reaches.

``POST /api/v1/auth/stream-ticket`` (with the access token) returns a single-use ticket
that lives seconds; ``GET /api/v1/stream?ticket=<ticket>`` opens the stream with it
(``EventSource`` cannot set headers, and an access token never travels in a URL; API
clients may send ``Authorization`` instead). Event types: ``weighin``, ``fill``,
``device``, ``alert``, ``dead_letter``, ``pickup``, ``payout``; each ``data`` is one
JSON object; only events within the caller's reach are sent
(:mod:`cloud.api.scope`). A comment line (``: keep-alive``) is sent every
``stream_keepalive_s`` seconds. Every ``stream_recheck_s`` the stream checks its
caller again; once logged out, deactivated, or its role, site or password changed, it
sends ``event: end`` and closes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from cloud.api.deps import StateDep, StreamPrincipal, claims_of, principal_from_claims
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
    recheck = state.settings.stream_recheck_s
    claims = claims_of(principal)

    async def still_valid() -> str | None:
        try:
            await principal_from_claims(state, claims, fresh=True)
        except Exception as exc:  # AuthError, or a database that cannot tell: fail closed
            return str(exc) or type(exc).__name__
        return None

    async def gen() -> AsyncIterator[str]:
        sent = 0
        checked = last_keepalive = time.monotonic()
        try:
            yield "retry: 3000\n: connected\n\n"
            while max_events is None or sent < max_events:
                if time.monotonic() - checked >= recheck:
                    checked = time.monotonic()
                    if (why := await still_valid()) is not None:
                        yield f"event: end\ndata: {json.dumps({'reason': why})}\n\n"
                        return
                try:
                    wait = min(keepalive - (time.monotonic() - last_keepalive), recheck)
                    ev = await asyncio.wait_for(queue.get(), timeout=max(0.01, wait))
                except TimeoutError:
                    if time.monotonic() - last_keepalive < keepalive:
                        continue
                    last_keepalive = time.monotonic()
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if ev.type in wanted and scope.admits(
                    site_ids=ev.site_ids,
                    household_id=ev.household_id,
                    collector_id=ev.collector_id,
                ):
                    sent += 1
                    yield ev.encode()
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        gen(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
