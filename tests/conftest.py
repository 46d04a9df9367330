"""Shared fixtures: private real services, started once per test session.

``mosquitto``, ``influxdb`` and ``postgres`` are session-scoped servers; ``ledger_url``
is parametrised over SQLite and PostgreSQL so ledger tests run against both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import InfluxServer, MosquittoServer, PostgresServer

_db_counter = itertools.count(1)


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
    """A fresh, empty ledger database URL: SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"ledger_{next(_db_counter)}")
