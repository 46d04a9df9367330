"""Ledgers made once and copied into fresh test databases (the ``migrate_ledger`` and
``seeded`` fixtures)."""

from __future__ import annotations

import copy
import itertools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import make_url

from cloud.db import is_sqlite
from tests.support.services import PostgresServer

_T = TypeVar("_T")


class LedgerTemplates:
    """Ledgers made once and copied into fresh databases, per database kind.

    Making a ledger costs ~0.25 s (SQLite) and ~0.5-1 s (PostgreSQL, loaded host) of
    migrations, and the API tests' seeded programme another ~0.7 s (five argon2 hashes); a
    copy costs ~1 ms (a file) and ~0.1 s (``createdb -T``). A copy holds exactly what making
    the ledger left: the schema, triggers, extensions, Alembic's version, rows with their ids.

    A PostgreSQL database is best created as the copy (:meth:`create_postgres`): replacing
    one already created (:meth:`fill`) drops it, and ``DROP DATABASE`` waits for a
    checkpoint (0.3-1.3 s measured on the loaded 2-core host).
    """

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._made: dict[tuple[str, str], tuple[str, object, float, int]] = {}
        self._count = itertools.count(1)
        #: PostgreSQL URL -> the ledger it was created as a copy of
        self._created: dict[str, str] = {}

    def fill(
        self,
        url: str,
        name: str,
        make: Callable[[str], _T],
        postgres: Callable[[], PostgresServer],
        *,
        fresh_for_s: float | None = None,
    ) -> _T:
        """Copy the ledger ``make(url)`` would leave into the fresh database at ``url``
        (nothing may have used it) and return what ``make`` returned (a deep copy).

        ``postgres()`` is the server of a PostgreSQL ``url``. With ``fresh_for_s`` the
        ledger is made again once it is older than that or the hour has changed (rows
        stamped with the time of making: a test sees them as new as it would have).
        """
        sqlite = is_sqlite(url)
        database = str(make_url(url).database)
        if sqlite and Path(database).exists():  # already opened by someone: make it in place
            return make(url)
        if self._created.get(url) == name:  # created as this copy (create_postgres)
            return copy.deepcopy(self._made[name, "postgresql"][1])  # type: ignore[return-value]
        template, value = self._template(name, sqlite, make, postgres, fresh_for_s)
        if sqlite:
            shutil.copyfile(template, database)
        else:
            server = postgres()
            server.drop_database(database)
            server.create_database(database, template=template)
        return copy.deepcopy(value)  # type: ignore[return-value]

    def create_postgres(
        self, server: PostgresServer, database: str, name: str, make: Callable[[str], _T]
    ) -> tuple[str, _T]:
        """Create ``database`` as a copy of the ledger ``make`` leaves; its URL and what
        ``make`` returned (a deep copy). A later :meth:`fill` of that URL with the same
        ``name`` finds it done."""
        template, value = self._template(name, False, make, lambda: server, None)
        url = server.create_database(database, template=template)
        self._created[url] = name
        return url, copy.deepcopy(value)  # type: ignore[return-value]

    def _template(
        self,
        name: str,
        sqlite: bool,
        make: Callable[[str], object],
        postgres: Callable[[], PostgresServer],
        fresh_for_s: float | None,
    ) -> tuple[str, object]:
        """The template of ledger ``name`` (made now if there is none or it is stale) and
        what making it returned."""
        key = (name, "sqlite" if sqlite else "postgresql")
        made = self._made.get(key)
        now = time.time()
        if (
            made is not None
            and fresh_for_s is not None
            and (now - made[2] > fresh_for_s or int(now // 3600) != made[3])
        ):
            made = None
        if made is None:
            template = f"template_{name}_{next(self._count)}"
            if sqlite:
                path = self._workdir / f"{template}.db"
                value = make(f"sqlite:///{path}")
                # every engine on it was disposed: nothing left in a WAL file a copy would miss
                assert not Path(f"{path}-wal").exists(), f"{name}: an engine on it is still open"
                template = str(path)
            else:
                value = make(postgres().create_database(template))
            made = self._made[key] = (template, value, now, int(now // 3600))
        return made[0], made[1]
