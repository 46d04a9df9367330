"""Shared fixtures: private real services, started once per test session.

``mosquitto``, ``influxdb`` and ``postgres`` are session-scoped servers; ``ledger_url``
is parametrised over SQLite and PostgreSQL so ledger tests run against both;
``migrate_ledger`` brings a fresh ledger to the newest schema by copying one migrated once
per session (:class:`tests.support.ledgers.LedgerTemplates`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloud.db import migrate
from tests.support.ledgers import LedgerTemplates
from tests.support.services import InfluxServer, MosquittoServer, PostgresServer

_db_counter = itertools.count(1)
#: the ledger :func:`cloud.db.migrate` leaves, by its name in :class:`LedgerTemplates`
MIGRATED = "migrated"


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoServer]:
    with MosquittoServer().start() as server:
        yield server


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxServer]:
    with InfluxServer().start() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer().start() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger database URL: SQLite file or a new PostgreSQL database (created
    at the newest schema already when the test migrates it with ``migrate_ledger``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"ledger_{next(_db_counter)}"
    if "migrate_ledger" in request.fixturenames:  # the test will migrate it (``engine``)
        templates: LedgerTemplates = request.getfixturevalue("ledger_templates")
        return templates.create_postgres(server, name, MIGRATED, migrate)[0]
    return server.create_database(name)


@pytest.fixture(scope="session")
def ledger_templates(tmp_path_factory: pytest.TempPathFactory) -> LedgerTemplates:
    return LedgerTemplates(tmp_path_factory.mktemp("ledgers"))


@pytest.fixture
def postgres_when_needed(request: pytest.FixtureRequest) -> Callable[[], PostgresServer]:
    """The session's PostgreSQL server, started only if a test asks for it."""
    return lambda: request.getfixturevalue("postgres")  # type: ignore[no-any-return]


@pytest.fixture
def migrate_ledger(
    ledger_templates: LedgerTemplates, postgres_when_needed: Callable[[], PostgresServer]
) -> Callable[[str], None]:
    """``migrate_ledger(url)``: the fresh ledger at ``url`` at the newest schema, as
    :func:`cloud.db.migrate` leaves it (a copy of one migrated once per session)."""

    def migrated(url: str) -> None:
        ledger_templates.fill(url, MIGRATED, migrate, postgres_when_needed)

    return migrated
