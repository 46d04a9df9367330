"""Fixtures: a migrated, seeded ledger and the API serving it over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloud.db import make_engine, migrate, session_factory
from tests.api.support import ApiServer, World, seed, serve, settings_for
from tests.support.ledgers import LedgerTemplates
from tests.support.services import MosquittoServer, PostgresServer


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _seed(url: str) -> World:
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return seed(s)
    finally:
        engine.dispose()


#: how long one seeded ledger is copied into the tests before it is seeded again: the seed
#: stamps its weigh-ins, pickups, payouts and alerts with the time of seeding, and a copy
#: may be this much older than a ledger seeded for the test (which, on a loaded 2-core host,
#: is itself seconds old when the test starts); a new hour seeds again too
SEEDED_FRESH_FOR_S = 60.0


@pytest.fixture
def seeded(
    ledger_templates: LedgerTemplates, postgres_when_needed: Callable[[], PostgresServer]
) -> Callable[[str], World]:
    """``seeded(url)``: the fresh ledger at ``url`` migrated and seeded (:func:`seed`), and
    its :class:`World` (a copy of a ledger seeded at most a minute ago)."""

    def seeded_copy(url: str) -> World:
        return ledger_templates.fill(
            url, "seeded", _seed, postgres_when_needed, fresh_for_s=SEEDED_FRESH_FOR_S
        )

    return seeded_copy


@pytest.fixture
def world_sqlite(sqlite_url: str, seeded: Callable[[str], World]) -> World:
    return seeded(sqlite_url)


@pytest.fixture
def api(sqlite_url: str, world_sqlite: World, tmp_path: Path) -> Iterator[ApiServer]:
    """The API on a seeded SQLite ledger."""
    with serve(settings_for(sqlite_url, tmp_path)) as server:
        yield server


@pytest.fixture
def world(world_sqlite: World) -> World:
    return world_sqlite


@pytest.fixture
def seeded_ledger_url(ledger_url: str, seeded: Callable[[str], World]) -> tuple[str, World]:
    """A seeded ledger on SQLite and on PostgreSQL (parametrised by ``ledger_url``)."""
    return ledger_url, seeded(ledger_url)


@pytest.fixture
def api_with_broker(
    mosquitto: MosquittoServer, sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> Iterator[ApiServer]:
    user, password = mosquitto.service("api")
    admin, admin_pw = mosquitto.service("admin")
    settings = settings_for(
        sqlite_url,
        tmp_path,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "username": user,
            "password": password,
        },
        broker={"backend": "mosquitto", "username": admin, "password": admin_pw},
    )
    with serve(settings) as server:
        link = server.app.state.api.mqtt
        assert link is not None
        assert link.wait_connected(10)
        yield server
