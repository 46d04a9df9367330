"""The hottest reads' own path (:mod:`cloud.api.fastread`) and the database threads' hop.

* a balance read through :class:`FastReads` equals the ledger's :func:`funds` for every
  household (SQLite's positional and PostgreSQL's named, prepared parameters);
* a connection the database dropped (a restart, here ``pg_terminate_backend``) is met as
  an error, invalidated and the read answered on a fresh connection;
* a request cancelled while its database work runs keeps waiting (and so keeps its gate
  slot) until the thread is done: the thread still holds a connection;
* concurrent balance lookups (:class:`BalanceReads`) go in batches (PostgreSQL: one
  statement; SQLite: one connection and thread hop), each
  answered with its own household's funds (ids shuffled, repeated, unknown); a failed
  batch fails each of its lookups and the next ones are answered; a lookup cancelled
  while it waits does not disturb the others;
* on PostgreSQL the batches are read on the event loop (no database thread), and a
  connection the server dropped is replaced there too;
* a typed bind (``UtcDateTime``) is converted as SQLAlchemy would (naive UTC on SQLite).

Mutants (each applied by hand, each fails here):
  mutant: no retry after a dropped connection (``for attempt in (1,)``) -> OperationalError
  mutant: the statement's constant binds left out of the arguments -> a missing parameter
  mutant: ``run_db`` awaits the executor's future unshielded -> the cancelled task ends
          while its thread still runs
  mutant: SQLite's batch reads every household with the first one's id -> households
          get each other's funds
  mutant: every lookup of a batch handed the batch's first row -> households get each
          other's funds (handing rows out by position is no mutant: PostgreSQL's unnest
          keeps the array's order, so it passes)
  mutant: the drain never reset when it ends (no ``finally``) -> the next lookups wait
          for a drain that is gone (wait_for times out)
  mutant: PostgreSQL's batches read through ``run_db`` again -> the loop test fails
  mutant: no retry on the loop's connection (``for attempt in (1,)``) -> OperationalError
  mutant: the binds' processors not applied -> an aware datetime reaches SQLite
          (applied: the typed-bind test fails)
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cloud import crediting, households
from cloud.api.fastread import BalanceReads, FastReads
from cloud.api.gate import run_db, size_thread_pool
from cloud.api.principals import _HOUSEHOLD
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


def _drop_connections(admin: Engine) -> None:
    """The server drops every other connection to the database (as in a restart)."""
    with admin.connect() as c:
        dropped = c.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    assert dropped
    assert all(ok for (ok,) in dropped)


def test_a_balance_read_equals_the_ledgers_funds(ledger_url: str) -> None:
    ids = _seed(ledger_url)
    fast = FastReads(ledger_url, size=2, timeout_s=5)
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            for hid in [*ids, 999_999]:  # 999,999: no such household, nothing owed
                got = funds_from_row(fast.all(FUNDS, household_id=hid)[0])
                assert got == funds(s, household_id=hid)
        assert funds_from_row(fast.all(FUNDS, household_id=ids[2])[0]).held_rp == 1_000
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
        before = funds_from_row(fast.all(FUNDS, household_id=ids[1])[0])
        _drop_connections(admin)  # the pool's one connection is dropped by the server
        assert funds_from_row(fast.all(FUNDS, household_id=ids[1])[0]) == before
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


def test_concurrent_balance_lookups_go_in_batches_each_with_its_own_funds(
    ledger_url: str,
) -> None:
    """PostgreSQL: one statement per batch; SQLite: one connection and hop per batch."""
    ids = _seed(ledger_url)
    fast = FastReads(ledger_url, size=2, timeout_s=5)
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            want = {hid: funds(s, household_id=hid) for hid in [*ids, 999_999]}
        asked = [*reversed(ids), 999_999, ids[0], ids[2], ids[1], ids[2]] * 20
        reads = BalanceReads(fast)

        async def scenario() -> None:
            size_thread_pool(2)
            got = await asyncio.wait_for(
                asyncio.gather(*(reads.funds_row(hid) for hid in asked)), 30
            )
            assert [funds_from_row(r) for r in got] == [want[hid] for hid in asked]
            assert reads.lookups == len(asked)
            assert reads.batches < len(asked) / 4  # batched, not one each

            # a failed batch: each of its lookups fails, the next ones are answered
            real, real_each, real_loop = fast.all, fast.each, fast.all_on_loop

            def broken(*a: object, **k: object) -> list[tuple[object, ...]]:
                raise OSError("the database went away")

            async def broken_on_loop(*a: object, **k: object) -> list[tuple[object, ...]]:
                raise OSError("the database went away")

            fast.all = fast.each = broken  # type: ignore[method-assign]
            fast.all_on_loop = broken_on_loop  # type: ignore[method-assign]
            failed = await asyncio.wait_for(
                asyncio.gather(*(reads.funds_row(hid) for hid in ids), return_exceptions=True),
                10,
            )
            assert all(isinstance(f, OSError) for f in failed)
            fast.all, fast.each = real, real_each  # type: ignore[method-assign]
            fast.all_on_loop = real_loop  # type: ignore[method-assign]
            again = await asyncio.wait_for(reads.funds_row(ids[2]), 10)
            assert funds_from_row(again) == want[ids[2]]

            # one lookup cancelled while it waits: the others are answered
            tasks = [asyncio.create_task(reads.funds_row(hid)) for hid in ids]
            tasks[0].cancel()
            rest = await asyncio.wait_for(asyncio.gather(*tasks[1:]), 10)
            assert [funds_from_row(r) for r in rest] == [want[hid] for hid in ids[1:]]

        asyncio.run(scenario())
    finally:
        fast.dispose()
        engine.dispose()


def test_postgresql_lookups_run_on_the_loop_and_survive_a_dropped_connection(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a batch is read on the event loop (psycopg's asyncio connection), never
    through a database thread; a connection the server dropped is replaced once."""
    ledger_url = postgres.create_database(f"fastread_{uuid.uuid4().hex[:8]}")
    ids = _seed(ledger_url)
    fast = FastReads(ledger_url, size=1, timeout_s=5)
    admin = make_engine(ledger_url)

    def no_thread(*a: object, **k: object) -> object:
        raise AssertionError("a balance batch went through a database thread")

    monkeypatch.setattr("cloud.api.fastread.run_db", no_thread)
    try:
        with session_factory(admin)() as s:
            want = {hid: funds(s, household_id=hid) for hid in ids}
        reads = BalanceReads(fast)

        async def ask() -> list[object]:
            rows = await asyncio.wait_for(
                asyncio.gather(*(reads.funds_row(hid) for hid in ids * 3)), 30
            )
            return [funds_from_row(r) for r in rows]

        async def scenario() -> None:
            assert await ask() == [want[hid] for hid in ids * 3]
            _drop_connections(admin)  # the loop's connections are dropped by the server
            assert await ask() == [want[hid] for hid in ids * 3]
            await fast.close_on_loop()

        asyncio.run(scenario())
    finally:
        fast.dispose()
        admin.dispose()


def test_a_typed_bind_is_converted_as_sqlalchemy_would(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    migrate(url)
    fast = FastReads(url, size=1, timeout_s=5)
    try:
        now = datetime.now(UTC)
        args = fast._compile(_HOUSEHOLD).args({"id": 1, "sid": "s", "now": now})
        # UtcDateTime drops the zone, SQLite's DateTime writes its text form
        assert str(now.replace(tzinfo=None)) in args
        assert now not in args
    finally:
        fast.dispose()
