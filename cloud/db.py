"""Database engines, sessions and schema migrations for the ledger database.

>>> engine = make_engine("sqlite:///ledger.db")      # doctest: +SKIP
>>> migrate("sqlite:///ledger.db")                   # doctest: +SKIP
>>> Session = session_factory(engine)                # doctest: +SKIP

SQLite (the embedded profile) runs in WAL mode with ``foreign_keys=ON`` and a busy
timeout; write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the
lock instead of failing with a stale snapshot (``write=False`` gives a read-mostly engine
with plain deferred transactions). PostgreSQL is spoken through psycopg 3
(``postgresql+psycopg://...``; a bare ``postgresql://`` URL is mapped to it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: milliseconds a SQLite writer waits for the lock before failing
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: most keys in one ``IN (...)`` list: keeps every statement far below the drivers'
#: bind-parameter limits (SQLite 32,766, PostgreSQL 65,535) and the plans small
IN_LIST_MAX = 500

#: a transaction that loses a race (see :func:`is_race`) is tried this many times in all
RACE_ATTEMPTS = 5
#: PostgreSQL SQLSTATEs of a lost race worth retrying: deadlock, serialization failure
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})

_Key = TypeVar("_Key", str, int)
_T = TypeVar("_T")


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, write: bool = True, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine for the ledger database at ``url`` (SQLite file or PostgreSQL)."""
    url = normalise_url(url)
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, echo=echo, **kwargs)

    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, echo=echo, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def chunks(keys: Iterable[_Key]) -> Iterator[list[_Key]]:
    """``keys`` without repeats, sorted, in lists of at most :data:`IN_LIST_MAX`.

    Sorted, so that rows read ``FOR UPDATE`` (or written) chunk by chunk are locked in
    one order by every worker.
    """
    unique = sorted(set(keys))
    for start in range(0, len(unique), IN_LIST_MAX):
        yield unique[start : start + IN_LIST_MAX]


# --------------------------------------------------------------------------- races


def is_race(exc: BaseException) -> bool:
    """Whether a database error means "another transaction won; retry" (any backend).

    A unique violation (the same event credited, the same pickup opened by another
    worker), a PostgreSQL deadlock or serialization failure, SQLite's busy lock.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if isinstance(exc, IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def commit_retrying(
    session: Session, work: Callable[[], _T], *, attempts: int = RACE_ATTEMPTS
) -> _T:
    """Run ``work`` and commit; after a lost race roll back and run it again.

    The one race-retry rule of the domain: at most ``attempts`` runs in all, each in its
    own transaction; any other error (and the last race) is raised after the rollback.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if not is_race(exc) or attempt == attempts:
                raise
    raise ValueError("attempts must be >= 1")


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = normalise_url(url)
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest)."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url, write=False)
    try:
        with engine.connect() as conn:
            rev: str | None = MigrationContext.configure(conn).get_current_revision()
            return rev
    finally:
        engine.dispose()
