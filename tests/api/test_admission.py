"""No freeze under load: a busy database never blocks the event loop, overload is 503.

The database is made to stall on purpose (the test holds a lock every payout request
needs: SQLite's write lock; on PostgreSQL an exclusive lock on ``users``, so even
reading who the operator is waits). The API gets a
tiny pool (2 connections, 2 threads, 2 admission slots, 0.3 s queue wait). Then:

* two payout requests take both slots and wait for the lock on worker threads;
* ``/health`` keeps answering (nothing waits on the event loop);
* more requests (reads and writes) answer 503 with ``Retry-After`` after the short
  queue wait, not after the pool's timeout;
* once the lock is released, the two waiting requests finish normally.

Mutants (each applied by hand, each fails this test):
  mutant: admission gate always admits (``Gate.acquire`` returns True) -> the extra
          requests wait for threads/connections and time out instead of 503 -> fails
  mutant: get_principal reads the subject on the loop (no ``run_db``) -> on PostgreSQL
          the first stalled request blocks the loop, /health times out -> fails
  mutant: ``Gate.release`` forgets to hand the slot on (``self._free += 1`` only when
          nobody waits is dropped) -> slots leak, later requests all 503 -> fails
  mutant: ``size_thread_pool`` not called (40 default threads) -> still passes the 503
          part (the gate bounds requests), caught by ``test_thread_pool_is_sized``
"""

from __future__ import annotations

import concurrent.futures as cf
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from cloud.db import is_sqlite, make_engine
from tests.api.support import ApiServer, World, household_login, login, serve, settings_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TINY = {
    "db": {"pool_size": 2, "max_overflow": 0, "pool_timeout_s": 20},
    "admission": {"reserved_connections": 0, "queue_wait_s": 0.3, "retry_after_s": 2},
}


@pytest.fixture
def tiny_api(
    seeded_ledger_url: tuple[str, World], tmp_path: Path
) -> Iterator[tuple[ApiServer, World, str]]:
    url, world = seeded_ledger_url
    with serve(settings_for(url, tmp_path, **TINY)) as server:
        yield server, world, url


@contextmanager
def stalled_payouts(url: str) -> Iterator[None]:
    """Hold what an operator's payout request must wait for, until the block ends."""
    engine = make_engine(url)
    conn = engine.connect()
    try:
        if is_sqlite(url):
            conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: the write lock
        else:
            conn.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_a_stalled_database_answers_503_and_health_stays_up(
    tiny_api: tuple[ApiServer, World, str],
) -> None:
    api, world, url = tiny_api
    hh = world.ids["household-a"]
    with api.client() as anon:
        operator = login(anon, "operator")
        household = household_login(anon, "M-A", world.pins["M-A"])
    gate = api.app.state.api.gate
    pool = cf.ThreadPoolExecutor(max_workers=8)

    def payout() -> int:
        with api.client(operator, timeout=60) as c:
            r = c.post(
                f"/api/v1/households/{hh}/payouts",
                json={"amount_rp": 100},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            return r.status_code

    try:
        with stalled_payouts(url):
            blocked = [pool.submit(payout) for _ in range(2)]
            wait_until(
                lambda: gate.in_use == 2 or any(f.done() for f in blocked),
                20,
                "both slots taken by stalled payouts",
            )
            assert not any(f.done() for f in blocked), [f.result() for f in blocked if f.done()]
            # the event loop is free: /health answers at once, again and again
            with api.client(timeout=5) as c:
                for _ in range(5):
                    assert c.get("/api/v1/health").status_code == 200
            # every further request is refused quickly with Retry-After (a 5 s client
            # timeout is far below the 20 s pool timeout a hang would wait for)
            for token, method, path in (
                (household, "GET", f"/api/v1/households/{hh}/balance"),
                (operator, "GET", f"/api/v1/households/{hh}/statement"),
                (operator, "POST", f"/api/v1/households/{hh}/payouts"),
            ):
                with api.client(token, timeout=5) as c:
                    r = c.request(
                        method,
                        path,
                        json={"amount_rp": 100},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"] == "2"
                assert r.headers["content-type"].startswith("application/problem+json")
            assert all(not f.done() for f in blocked)
        # the lock is gone: the two waiting payouts complete normally
        assert sorted(f.result(timeout=60) for f in blocked) == [201, 201]
        wait_until(lambda: gate.in_use == 0, 10, "slots released")
        with api.client(household, timeout=10) as c:
            assert c.get(f"/api/v1/households/{hh}/balance").status_code == 200
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def test_thread_pool_is_sized_with_the_connection_pool(
    tiny_api: tuple[ApiServer, World, str],
) -> None:
    """The worker threads FastAPI runs sync routes on are as many as the slots (2)."""
    api, _, _ = tiny_api
    with api.client(timeout=10) as c:
        health = c.get("/api/v1/health").json()
    assert (health["db_threads"], health["requests_in_flight"]) == (2, 0)
