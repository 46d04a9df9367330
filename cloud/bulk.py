"""Statements about a batch whose text does not depend on how many rows or keys.

:func:`insert_rows` is the one way the domain writes a batch of rows (a batch's
weigh-ins, their journal entries and postings, notifications): one statement per batch
on both databases, optional ``RETURNING`` and ``ON CONFLICT (...) DO NOTHING``.
:func:`among` is a batch's ``column IN (keys)`` (with :func:`cloud.db.chunks`), sent to
PostgreSQL as ``column = ANY(%s)``: one parameter, an array, instead of one per key.

Why a helper: on PostgreSQL, SQLAlchemy renders a batch with ``RETURNING`` as one
``INSERT ... VALUES (...), (...), ...`` with a placeholder per value (and sends one
without ``RETURNING`` as psycopg ``executemany``, a round of Python per row). Each batch
size is a new statement text, longer than psycopg's parse cache takes (4,096 bytes, 50
parameters): psycopg splits every such statement with a regular expression again, and the
server parses and plans it again. A py-spy profile of the ingest showed a quarter to a
third of the worker in psycopg's ``_split_query`` (``docs/benchmarks.md``). Here
PostgreSQL gets one array per column instead::

    INSERT INTO t (a, b) SELECT a, b
    FROM unnest(%b::INTEGER[], %b::VARCHAR(20)[]) WITH ORDINALITY AS u(a, b, ord_)
    ORDER BY ord_ [ON CONFLICT (a) DO NOTHING] RETURNING ...

the same text for every batch (psycopg's caches hit, the server prepares it once per
connection), arrays sent in binary (~1 us a value). ``ORDER BY`` the ordinality inserts
the rows in the order given, as the multi-row ``VALUES`` did: the caller's lock order
(unique index entries, generated ids). The values go through each column's SQLAlchemy
bind processing (:class:`cloud.models.base.UtcDateTime`, ``JSON``) and Python-side column
defaults (``default=utcnow``) as SQLAlchemy's ``insert()`` would apply them.

SQLite (the standard ``sqlite3`` driver) gets the same column processing, and then the
rows as plain tuples: one prepared ``INSERT ... VALUES (?, ...)`` run by the driver's
``executemany`` (its loop is in C), or, when ``RETURNING`` is asked for (``executemany``
drops returned rows), one multi-row ``VALUES (...), (...)`` per chunk of at most the
dialect's ``insertmanyvalues_max_parameters``. SQLAlchemy's ``insert()`` did the same
statements but processed every parameter of every row in Python in its own way: with the
weigh-in row's 35 columns that was a third of crediting a batch on SQLite
(``docs/benchmarks.md``, issue 15). Any other driver keeps SQLAlchemy's ``insert()``.

The rows ``RETURNING`` gives back are in no promised order on either database (SQLite does
not promise insert order): callers key them by a unique column they sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Executable, Table, any_, bindparam, insert, literal
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

S = TypeVar("S", bound=Executable)

#: the ordinality column of the PostgreSQL statement (no table has a column of that name)
_ORD = "ord_"


@dataclass(frozen=True, slots=True)
class _Shape:
    """The statement of one (database, table, columns, conflict, returning) shape."""

    #: PostgreSQL: the ``unnest`` statement; SQLite: ``INSERT ... VALUES (?, ...) ...``
    sql: str
    #: each column's SQLAlchemy bind processing (None: values go as they are)
    processors: tuple[Callable[[Any], Any] | None, ...]
    #: (column, default) for columns the rows leave out that have a Python-side default
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    #: SQLite with ``RETURNING``: the statement around its one ``(?, ...)`` row, to repeat
    head: str = ""
    row: str = ""
    tail: str = ""


_statements: dict[tuple[Any, ...], _Shape] = {}


def _arrays(dialect: Dialect) -> bool:
    """Whether batches go to this database as arrays (PostgreSQL through psycopg 3)."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _tuples(dialect: Dialect) -> bool:
    """Whether batches go to this database as plain tuples (SQLite through ``sqlite3``)."""
    return dialect.name == "sqlite" and dialect.driver == "pysqlite"


def among(session: Session, column: Any, keys: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (keys)``; on PostgreSQL ``column = ANY(array)``, the same statement
    text for any number of keys (keep ``keys`` to a :func:`cloud.db.chunks` chunk, as
    SQLite needs)."""
    if _arrays(session.get_bind().dialect):
        return column == any_(literal(list(keys), ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(keys)  # type: ignore[no-any-return]


class Prepared(Generic[S]):
    """A statement about a batch's keys, built once per kind of database.

    ``build`` gets the condition to use for ``column IN (keys)``: :func:`among` with the
    keys as one bind parameter, ``keys`` (an expanding ``IN`` on SQLite, ``= ANY`` of an
    array on PostgreSQL). Run it as ``session.execute(STMT(session), {"keys": chunk})``.
    Built once, the statement's SQLAlchemy cache key is computed once too: a statement
    built again for every batch cost 50-150 us of Python (building it, coercing each key,
    its cache key) before it reached the database, where a trivial statement costs ~12 us
    on SQLite (issue 15: most of a small batch's fixed cost). Other binds of the
    statement are named by the caller's ``bindparam``.
    """

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[Callable[[Any], ColumnElement[bool]]], S]) -> None:
        self._build = build
        self._built: dict[bool, S] = {}

    def __call__(self, session: Session) -> S:
        arrays = _arrays(session.get_bind().dialect)
        stmt = self._built.get(arrays)
        if stmt is None:  # a race builds it twice, the same statement
            stmt = self._built[arrays] = self._build(partial(_among_keys, arrays=arrays))
        return stmt


def _among_keys(column: Any, *, arrays: bool) -> ColumnElement[bool]:
    if arrays:
        return column == any_(bindparam("keys", type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(bindparam("keys", expanding=True))  # type: ignore[no-any-return]


def insert_rows(
    session: Session,
    into: Table | type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[str] = (),
    skip_conflicts_on: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (each naming the same columns) into ``into`` (a table or a mapped
    class); one statement.

    ``returning`` names columns to read back (plain values: ids and keys); the rows come
    back in no particular order. ``skip_conflicts_on`` names a unique key: rows that
    conflict on it are skipped (``ON CONFLICT (...) DO NOTHING``) and return nothing.
    Writes in the caller's transaction.
    """
    if not rows:
        return []
    table: Table = into if isinstance(into, Table) else into.__table__
    names = tuple(rows[0])
    if any(len(r) != len(names) for r in rows):
        raise ValueError(f"rows for {table.name} name different columns")
    if session.autoflush:  # as an ORM insert() would: pending rows first (foreign keys)
        session.flush()
    dialect = session.get_bind().dialect
    arrays = _arrays(dialect)
    if not arrays and not _tuples(dialect):
        return _insert_sqlalchemy(session, table, rows, returning, skip_conflicts_on, dialect)
    key = (type(dialect), table, names, tuple(returning), tuple(skip_conflicts_on))
    stmt = _statements.get(key)
    if stmt is None:
        stmt = _statements[key] = _shape(table, names, returning, skip_conflicts_on, dialect)
    columns = [[r[name] for r in rows] for name in names]
    columns += [[make() for _ in rows] for _name, make in stmt.defaults]
    processed = [
        _processed(values, process) if process is not None else values
        for values, process in zip(columns, stmt.processors, strict=True)
    ]
    conn = session.connection()
    if arrays:
        result = conn.exec_driver_sql(stmt.sql, tuple(processed))
        return [tuple(r) for r in result] if returning else []
    params = list(zip(*processed, strict=True))
    if not returning:
        conn.exec_driver_sql(stmt.sql, params)  # executemany: one prepared statement
        return []
    per = max(1, dialect.insertmanyvalues_max_parameters // len(processed))
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(params), per):
        chunk = params[start : start + per]
        sql = stmt.head + ", ".join([stmt.row] * len(chunk)) + stmt.tail
        flat = tuple(v for p in chunk for v in p)
        out += [tuple(r) for r in conn.exec_driver_sql(sql, flat)]
    return out


def _processed(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``values`` through a column's bind processing, a value repeated in a row after row
    (the batch's one ``created_at``, a delivery's ``sent_at``) processed once."""
    out: list[Any] = []
    last: Any = out  # no value is this list
    done: Any = None
    for v in values:
        if v is not last:
            last, done = v, process(v)
        out.append(done)
    return out


def _shape(
    table: Table,
    names: Sequence[str],
    returning: Sequence[str],
    skip_conflicts_on: Sequence[str],
    dialect: Dialect,
) -> _Shape:
    """The statement of one shape: PostgreSQL's ``unnest`` of arrays, or SQLite's
    ``VALUES`` row (repeated per row with ``RETURNING``)."""
    q = dialect.identifier_preparer.quote
    defaults: list[tuple[str, Callable[[], Any]]] = []
    for col in table.columns:
        default = col.default
        if col.name in names or default is None:
            continue
        if default.is_scalar:
            defaults.append((col.name, _constant(default.arg)))  # type: ignore[attr-defined]
        elif default.is_callable:
            defaults.append((col.name, _call(default.arg)))  # type: ignore[attr-defined]
        else:
            raise NotImplementedError(f"{table.name}.{col.name}: a SQL default; pass a value")
    cols = [table.c[n] for n in (*names, *(n for n, _ in defaults))]
    listed = ", ".join(q(c.name) for c in cols)
    # names and types from the table's metadata, quoted; the values go as parameters
    into = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({listed}) "
    tail = ""
    if skip_conflicts_on:
        tail += f" ON CONFLICT ({', '.join(q(n) for n in skip_conflicts_on)}) DO NOTHING"
    if returning:
        tail += f" RETURNING {', '.join(q(table.c[n].name) for n in returning)}"
    processors = tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols)
    if _arrays(dialect):
        arrays = ", ".join(f"%b::{c.type.compile(dialect=dialect)}[]" for c in cols)
        sql = (
            f"{into}SELECT {listed} FROM unnest({arrays}) "  # noqa: S608
            f"WITH ORDINALITY AS u({listed}, {_ORD}) ORDER BY {_ORD}{tail}"
        )
        return _Shape(sql, processors, tuple(defaults))
    row = f"({', '.join('?' for _ in cols)})"
    head = f"{into}VALUES "
    return _Shape(head + row + tail, processors, tuple(defaults), head, row, tail)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _call(fn: Callable[[Any], Any]) -> Callable[[], Any]:
    # SQLAlchemy wraps a default such as ``utcnow`` to take the execution context
    return lambda: fn(None)


def _insert_sqlalchemy(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    skip_conflicts_on: Sequence[str],
    dialect: Dialect,
) -> list[tuple[Any, ...]]:
    stmt: Any = insert(table)
    if skip_conflicts_on:
        if dialect.name != "sqlite":
            raise NotImplementedError(f"no ON CONFLICT insert for {dialect.name}")
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    if not returning:
        session.execute(stmt, list(rows))
        return []
    stmt = stmt.returning(*(table.c[n] for n in returning))
    return [tuple(r) for r in session.execute(stmt, list(rows))]
