"""Admission control: a worker serves at most N requests at once, the rest wait briefly.

The API never runs database work on its event loop: routes and dependencies that touch
the database are sync functions (FastAPI runs them on anyio's worker threads) or hand
their work to :func:`run_db`. The worker thread pool is sized with the connection pool
(``ApiSettings.threads``), and so is the :class:`Gate` every request that may touch the
database passes first (:class:`AdmissionMiddleware`). Each admitted request holds at
most one connection at a time, so the pool never runs dry and no thread waits for a
connection; a request that finds no free slot within ``queue_wait_s`` (or finds
``max_queue`` others already waiting) answers ``503`` with ``Retry-After`` at once
instead of hanging. Routes that never touch the database (``/health``, the live
stream, the dashboard's files, the OpenAPI document) bypass the gate, so they answer
however busy the database is.

Measured alternative (``bench/api_driver.py``): SQLAlchemy's asyncio engine on psycopg 3
served fewer balance queries per second than the sync engine on threads and cost more
client CPU per query, and the domain (shared with ingest) is sync; hence threads.
:func:`run_db` hands its work to a plain :class:`~concurrent.futures.ThreadPoolExecutor`
of the same size as anyio's pool (FastAPI's own sync routes stay on anyio's): under
uvloop a hop costs ~45 us of CPU there against ~140 us through ``anyio.to_thread``
(8 at once, measured on the 2-core VM). PostgreSQL's balance batches skip the hop: they
run on the loop (:meth:`cloud.api.fastread.FastReads.all_on_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

P = ParamSpec("P")
T = TypeVar("T")

#: paths that never wait for the gate (no database on the request path)
UNGATED = frozenset({"/api/v1/health", "/api/v1/stream", "/api/v1/openapi.json"})


class Gate:
    """At most ``slots`` holders; a waiter gives up after ``wait_s`` (FIFO, no starvation)."""

    def __init__(self, slots: int, *, wait_s: float, max_queue: int) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self.max_queue = max_queue
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()
        #: requests refused because no slot came free in time (for /health and tests)
        self.refused = 0

    @property
    def in_use(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> bool:
        """Take a slot; False if none came free within ``wait_s`` (or the queue is full)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        if len(self._waiters) >= self.max_queue or self.wait_s <= 0:
            self.refused += 1
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(self.wait_s):
                await fut  # release() hands its slot over by resolving the future
            return True
        except BaseException as exc:
            if fut.done() and not fut.cancelled():
                self.release()  # handed a slot in the instant the wait ended: pass it on
            else:
                fut.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            if isinstance(exc, TimeoutError):
                self.refused += 1
                return False
            raise

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes straight to the next waiter
                return
        self._free += 1


class AdmissionMiddleware:
    """Pure ASGI: admit ``/api/`` requests through the :class:`Gate`, else 503."""

    def __init__(self, app: ASGIApp, gate: Gate, *, retry_after_s: int) -> None:
        self.app = app
        self.gate = gate
        self.retry_after = str(retry_after_s).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in UNGATED:
            await self.app(scope, receive, send)
            return
        if not await self.gate.acquire():
            await self._overloaded(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.release()

    async def _overloaded(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://salinmas.org/problems/overloaded",
                "title": "Overloaded",
                "status": 503,
                "detail": "the API is busy; retry after the given seconds",
                "errors": [],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", self.retry_after),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_executor: ThreadPoolExecutor | None = None


def size_thread_pool(threads: int) -> None:
    """Give anyio's default worker-thread limiter ``threads`` tokens (call on the loop), and
    :func:`run_db` a pool of ``threads`` threads.

    FastAPI runs sync routes and dependencies on anyio's pool; :func:`run_db` on its own.
    Either way a request holds at most one connection at a time and the gate admits at
    most ``threads`` requests, so neither pool waits for a connection.
    """
    global _executor
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    old, _executor = _executor, ThreadPoolExecutor(threads, thread_name_prefix="db")
    if old is not None:
        old.shutdown(wait=False)


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` (which uses the database) on a worker thread, never on the loop."""
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    if _executor is None:  # an app used without its lifespan (never in service)
        return await anyio.to_thread.run_sync(call)
    job = asyncio.get_running_loop().run_in_executor(_executor, call)
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        # the request was cancelled (client gone): its thread still holds a connection,
        # so the request keeps its gate slot until the thread is done (as anyio would)
        await asyncio.wait([job])
        raise
