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

Only reads whose rule lives elsewhere come here, and only after the caller's reach has
been checked (:func:`cloud.api.deps.own_household_id`): nothing here knows about scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from cloud.db import make_engine


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: bind names in order (positional paramstyles such as SQLite's ``?``), else None
    order: tuple[str, ...] | None
    #: the statement's own constant binds
    constants: dict[str, Any]

    def args(self, params: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.constants, **params}
        return tuple(merged[name] for name in self.order) if self.order else merged


class FastReads:
    """Single-row reads of prebuilt statements (see the module docstring)."""

    def __init__(self, url: str, *, size: int, timeout_s: float) -> None:
        self.engine: Engine = make_engine(
            url,
            write=False,
            pool_size=size,
            max_overflow=0,
            pool_timeout=timeout_s,
            pool_pre_ping=False,
            pool_reset_on_return=None,  # autocommit: nothing to roll back
        )
        self._postgres = self.engine.dialect.name == "postgresql"
        if self._postgres:

            @event.listens_for(self.engine, "connect")
            def _autocommit(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.autocommit = True

        self._compiled: dict[int, _Compiled] = {}

    def _compile(self, statement: ClauseElement) -> _Compiled:
        done = self._compiled.get(id(statement))
        if done is None:
            c = statement.compile(
                dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            assert isinstance(c, SQLCompiler)
            order = tuple(c.positiontup) if c.positional and c.positiontup else None
            done = _Compiled(str(c), order, dict(c.params))
            self._compiled[id(statement)] = done
        return done

    def one(self, statement: ClauseElement, **params: Any) -> tuple[Any, ...]:
        """The one row ``statement`` answers with ``params`` (a retry on a dead connection)."""
        compiled = self._compile(statement)
        args = compiled.args(params)
        dbapi = self.engine.dialect.loaded_dbapi
        for attempt in (1, 2):
            conn = self.engine.raw_connection()
            try:
                cur: Any = conn.cursor()  # the driver's own (psycopg's takes ``prepare``)
                if self._postgres:
                    cur.execute(compiled.sql, args, prepare=True)
                else:
                    cur.execute(compiled.sql, args)
                row = cur.fetchone()
                cur.close()
                if row is None:
                    raise LookupError("the statement answered no row")
                return tuple(row)
            except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
                if attempt == 2 or not self.engine.dialect.is_disconnect(exc, conn, None):
                    raise
                conn.invalidate(exc)
            finally:
                conn.close()
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
