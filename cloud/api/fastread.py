"""The API's hottest reads: one prebuilt statement on a raw DBAPI connection of its own pool.

A balance lookup is one aggregate statement (:data:`cloud.postings.FUNDS`) with no ORM
object in sight, yet through SQLAlchemy's execution layer on an engine that pings every
connection it checks out it cost ~510 us of client CPU per lookup on PostgreSQL; the same
statement, compiled once and run on a pooled DBAPI connection without a ping, costs
~170 us (psycopg alone: ~95 us; measured on the 2-core VM, ``docs/benchmarks.md``).

So :class:`FastReads` keeps a small pool of its own (autocommit: nothing to roll back when
a connection goes back), compiles each statement once per dialect (prepared on
PostgreSQL) and, without the ping, meets a broken connection (a database restart) as an
error: that connection is invalidated and the read tried once more on a fresh one.
On PostgreSQL the balance batches do not even take a database thread: they run on the
event loop on psycopg's asyncio connections (:meth:`FastReads.all_on_loop`, at most
:attr:`BalanceReads.in_flight` of them), with the same prepared statement and retry.

Only reads whose rule lives elsewhere come here, and only after the caller's reach has
been checked (:func:`cloud.api.deps.own_household_id`): nothing here knows about scope.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from cloud.api.gate import run_db
from cloud.db import make_engine
from cloud.postings import FUNDS, FUNDS_OF_MANY

R = TypeVar("R")


class DatabaseUnavailable(Exception):
    """A hot read found the database unreachable or failing even on a fresh connection
    (down, restarting, a lock or statement timeout): the API answers 503 with
    ``Retry-After``, as for the ORM's :class:`sqlalchemy.exc.OperationalError`
    (:mod:`cloud.api.errors`). The driver's own errors would otherwise be a 500."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: bind names in order (positional paramstyles such as SQLite's ``?``), else None
    order: tuple[str, ...] | None
    #: the statement's own constant binds
    constants: dict[str, Any]
    #: the binds' type conversions (e.g. ``UtcDateTime``'s: naive UTC on SQLite)
    processors: dict[str, Callable[[Any], Any]]

    def args(self, params: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.constants, **params}
        for name, process in self.processors.items():
            if name in params:
                merged[name] = process(merged[name])
        return tuple(merged[name] for name in self.order) if self.order else merged


class FastReads:
    """Single-row reads of prebuilt statements (see the module docstring)."""

    def __init__(self, url: str, *, size: int, timeout_s: float, loop_size: int = 4) -> None:
        self.engine: Engine = make_engine(
            url,
            write=False,
            pool_size=size,
            max_overflow=0,
            pool_timeout=timeout_s,
            pool_pre_ping=False,
            pool_reset_on_return=None,  # autocommit: nothing to roll back
        )
        self.postgres = self.engine.dialect.name == "postgresql"
        self.timeout_s = timeout_s
        if self.postgres:

            @event.listens_for(self.engine, "connect")
            def _autocommit(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.autocommit = True

        self._compiled: dict[int, _Compiled] = {}
        #: PostgreSQL connections of the event loop's own reads (:meth:`all_on_loop`), at
        #: most ``loop_size`` of them (a read waits for one when all are busy)
        self._loop_idle: list[Any] = []
        self._loop_slots = asyncio.Semaphore(loop_size)

    def _compile(self, statement: ClauseElement) -> _Compiled:
        done = self._compiled.get(id(statement))
        if done is None:
            c = statement.compile(
                dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            assert isinstance(c, SQLCompiler)
            order = tuple(c.positiontup) if c.positional and c.positiontup else None
            # SQLAlchemy keeps the binds' processors on the compiled form (a private
            # attribute; tests/api/test_fastread.py reads a typed bind through it)
            processors = dict(getattr(c, "_bind_processors", {}))
            done = _Compiled(str(c), order, dict(c.params), processors)
            self._compiled[id(statement)] = done
        return done

    def all(self, statement: ClauseElement, **params: Any) -> list[tuple[Any, ...]]:
        """Every row ``statement`` answers with ``params`` (a retry on a dead connection)."""
        compiled = self._compile(statement)
        args = compiled.args(params)
        return self._on_connection(lambda cur: self._rows(cur, compiled.sql, args))

    def each(self, statement: ClauseElement, name: str, values: Sequence[Any]) -> list[Any]:
        """The first row ``statement`` answers with its parameter ``name`` set to each of
        ``values`` in turn (None where it answers none), on one connection: a batch where
        the database has no array to send them in at once (SQLite; no round trip to save,
        but one thread hop and one checkout instead of one per value)."""
        compiled = self._compile(statement)
        arglists = [compiled.args({name: v}) for v in values]

        def run(cur: Any) -> list[Any]:
            out = []
            for args in arglists:
                rows = self._rows(cur, compiled.sql, args)
                out.append(rows[0] if rows else None)
            return out

        return self._on_connection(run)

    async def all_on_loop(self, statement: ClauseElement, **params: Any) -> list[tuple[Any, ...]]:
        """:meth:`all` on the event loop itself, PostgreSQL only: psycopg's asyncio
        connection, no thread hop (once more on a fresh connection if the database had
        dropped the first). Each read holds a connection of its own while it runs, at most
        ``loop_size`` at once."""
        async with self._loop_slots:
            return await self._all_on_loop(statement, params)

    async def _all_on_loop(
        self, statement: ClauseElement, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        import psycopg

        compiled = self._compile(statement)
        args = compiled.args(params)
        for attempt in (1, 2):
            conn = self._loop_idle.pop() if self._loop_idle else await self._connect_on_loop()
            try:
                cur = await conn.execute(compiled.sql, args, prepare=True)
                rows = await cur.fetchall()
            except BaseException as exc:
                await conn.close()  # broken, or left mid-statement by a cancellation
                if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
                    raise
                if attempt == 2:
                    raise DatabaseUnavailable(str(exc)) from exc
                continue
            self._loop_idle.append(conn)
            return [tuple(r) for r in rows]
        raise AssertionError("unreachable")

    async def _connect_on_loop(self) -> Any:
        import psycopg

        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await psycopg.AsyncConnection.connect(*cargs, **cparams, autocommit=True)
        except (psycopg.OperationalError, TimeoutError) as exc:
            raise DatabaseUnavailable(f"no connection: {exc}") from exc

    async def close_on_loop(self) -> None:
        idle, self._loop_idle = self._loop_idle, []
        for conn in idle:
            await conn.close()

    def _rows(self, cur: Any, sql: str, args: Any) -> list[tuple[Any, ...]]:
        if self.postgres:
            cur.execute(sql, args, prepare=True)
        else:
            cur.execute(sql, args)
        return [tuple(r) for r in cur.fetchall()]

    def _on_connection(self, work: Callable[[Any], R]) -> R:
        """``work(cursor)`` on a pooled connection; once more on a fresh connection if the
        database had dropped the first (a restart)."""
        dbapi = self.engine.dialect.loaded_dbapi
        for attempt in (1, 2):
            conn = self.engine.raw_connection()
            try:
                cur: Any = conn.cursor()  # the driver's own (psycopg's takes ``prepare``)
                result = work(cur)
                cur.close()
                return result
            except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
                if attempt == 2 or not self.engine.dialect.is_disconnect(exc, conn, None):
                    raise DatabaseUnavailable(str(exc)) from exc
                conn.invalidate(exc)
            finally:
                conn.close()
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


class BalanceReads:
    """A household's :data:`~cloud.postings.FUNDS` row, for the balance route.

    On PostgreSQL the lookups that arrive while one is on its way to the database wait
    for it and then go together, as one :data:`~cloud.postings.FUNDS_OF_MANY` statement
    (the way a database groups commits): under load a worker sends one statement per
    batch instead of one per request, and its CPU per lookup falls with the batch. Each
    lookup still reads the database after it arrived (no cache). Up to ``in_flight``
    batches are on their way at once (a new one leaves while the previous waits for its
    answer), each on its own connection of the event loop (:meth:`FastReads.all_on_loop`):
    no database thread, so no hand-over to a thread and back, which with the GIL passed
    to and fro cost ~12 % of a worker's CPU at ~2,000 lookups/s (py-spy, ``docs/
    benchmarks.md``). On SQLite a batch is :data:`~cloud.postings.FUNDS`
    once per household on one connection (:meth:`FastReads.each`): no round trip to
    save, but one thread hop per batch instead of one per lookup.
    """

    def __init__(self, fast: FastReads, *, max_batch: int = 500, in_flight: int = 2) -> None:
        self.fast = fast
        self.max_batch = max_batch
        self.in_flight = in_flight
        self._waiting: dict[int, list[asyncio.Future[tuple[Any, ...]]]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        #: batches sent and lookups answered (the batching's effect, for the bench)
        self.batches = 0
        self.lookups = 0

    async def funds_row(self, household_id: int) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        self._waiting.setdefault(household_id, []).append(waiter)
        if len(self._drains) < self.in_flight:
            drain = loop.create_task(self._send_batches())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await waiter

    async def _send_batches(self) -> None:
        """Send what waits, one batch at a time, until nothing does."""
        while self._waiting:
            ids = list(itertools.islice(self._waiting, self.max_batch))
            batch = {hid: self._waiting.pop(hid) for hid in ids}
            try:
                by_id = (
                    await self._read_on_loop(ids)
                    if self.fast.postgres
                    else await run_db(self._read, ids)
                )
            except Exception as exc:  # every waiter of the batch gets the error
                for waiters in batch.values():
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                continue
            self.batches += 1
            for hid, waiters in batch.items():
                self.lookups += len(waiters)
                row = by_id.get(hid)
                for w in waiters:
                    if w.done():  # a request may have been cancelled meanwhile
                        continue
                    if row is None:
                        w.set_exception(LookupError(f"no funds row for {hid}"))
                    else:
                        w.set_result(row)

    async def _read_on_loop(self, ids: list[int]) -> dict[int, tuple[Any, ...]]:
        rows = await self.fast.all_on_loop(FUNDS_OF_MANY, household_ids=ids)
        return {row[0]: row[1:] for row in rows}

    def _read(self, ids: list[int]) -> dict[int, tuple[Any, ...]]:
        """The funds rows of ``ids`` (a database thread): one statement on PostgreSQL."""
        if self.fast.postgres:
            return {row[0]: row[1:] for row in self.fast.all(FUNDS_OF_MANY, household_ids=ids)}
        rows = self.fast.each(FUNDS, "household_id", ids)
        return {hid: row for hid, row in zip(ids, rows, strict=True) if row is not None}
