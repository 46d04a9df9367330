"""The hottest reads' own path (:mod:`cloud.api.fastread`) and the database threads' hop.

* a balance read through :class:`FastReads` equals the ledger's :func:`funds` for every
  household (SQLite's positional and PostgreSQL's named, prepared parameters);
* a connection the database dropped (a restart, here ``pg_terminate_backend``) is met as
  an error, invalidated and the read answered on a fresh connection;
* a request cancelled while its database work runs keeps waiting (and so keeps its gate
  slot) until the thread is done: the thread still holds a connection.

Mutants (each applied by hand, each fails here):
  mutant: no retry after a dropped connection (``for attempt in (1,)``) -> OperationalError
  mutant: the statement's constant binds left out of the arguments -> a missing parameter
  mutant: ``run_db`` awaits the executor's future unshielded -> the cancelled task ends
          while its thread still runs
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cloud import crediting, households
from cloud.api.fastread import FastReads
from cloud.api.gate import run_db, size_thread_pool
from cloud.db import make_engine, migrate, session_factory
from cloud.payouts import request_payout
from cloud.postings import FUNDS, funds, funds_from_row
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import weighin
from tests.support.services import PostgresServer

pytestmark = pytest.mark.integration


def _seed(url: str) -> list[int]:
    """Three households with 1, 2 and 3 credits; the third has a payout held."""
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            ids = [seed_programme(s)]  # card CARD-1
            for i in (1, 2):
                hh = households.register_household(s, member_no=f"F-{i}", name=f"HH {i}")
                households.link_card(s, card_id=f"F{i}", household_id=hh.id)
                ids.append(hh.id)
            for i, card in enumerate(("CARD-1", "F1", "F2")):
                for seq in range(i + 1):
                    crediting.credit_weighin(
                        s,
                        event=weighin(seq=10 * i + seq + 1, card_id=card),
                        received_at=datetime.now(UTC),
                    )
            request_payout(s, household_id=ids[2], amount_rp=1_000, by="test")
            s.commit()
            return ids
    finally:
        engine.dispose()


def test_a_balance_read_equals_the_ledgers_funds(ledger_url: str) -> None:
    ids = _seed(ledger_url)
    fast = FastReads(ledger_url, size=2, timeout_s=5)
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            for hid in [*ids, 999_999]:  # 999,999: no such household, nothing owed
                got = funds_from_row(fast.one(FUNDS, household_id=hid))
                assert got == funds(s, household_id=hid)
        assert funds_from_row(fast.one(FUNDS, household_id=ids[2])).held_rp == 1_000
    finally:
        fast.dispose()
        engine.dispose()


def test_a_dropped_connection_is_replaced_and_the_read_answered(postgres: PostgresServer) -> None:
    """(PostgreSQL: a SQLite file has no connection to drop.)"""
    ledger_url = postgres.create_database(f"fastread_{uuid.uuid4().hex[:8]}")
    ids = _seed(ledger_url)
    fast = FastReads(ledger_url, size=1, timeout_s=5)
    admin = make_engine(ledger_url)
    try:
        before = funds_from_row(fast.one(FUNDS, household_id=ids[1]))
        with admin.connect() as c:  # the pool's one connection is dropped by the server
            dropped = c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        assert dropped
        assert all(ok for (ok,) in dropped)
        assert funds_from_row(fast.one(FUNDS, household_id=ids[1])) == before
    finally:
        fast.dispose()
        admin.dispose()


def test_a_cancelled_request_waits_for_its_database_thread() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work() -> int:
        started.set()
        release.wait(10)
        finished.set()
        return 1

    async def scenario() -> None:
        size_thread_pool(2)
        task = asyncio.create_task(run_db(work))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.3)
        assert not done, "the request ended while its thread still held a connection"
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished.is_set()

    asyncio.run(scenario())
