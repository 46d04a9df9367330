"""The account lock: whatever moves a household's money waits for it (PostgreSQL).

SQLite serialises whole write transactions (``BEGIN IMMEDIATE``), so the row lock is
PostgreSQL's question. Each case holds the household's account lock in one session
(as a payout in progress does) and runs a money-moving step in another: it must wait,
and at the account lock itself (``SELECT ... FROM accounts ... FOR UPDATE``), before it
writes anything. (A posting's foreign key alone would also make it wait, later, at the
``INSERT INTO postings``: PostgreSQL's FK check takes ``FOR KEY SHARE`` on the account.
The explicit lock does not lean on that.)

mutant: corrections.reverse_weighin without its lock_household_account -> [reverse] fails
mutant: corrections.assign_weighin without its lock_household_account -> [assign] fails
mutant: postings.lock_household_accounts without with_for_update -> every case fails
mutant: payouts.request_payout checking funds before locking the account -> the payout test
        fails
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from cloud import corrections, crediting, payouts
from cloud.db import make_engine, migrate, session_factory
from cloud.models import WeighinRecord
from cloud.postings import funds, lock_household_account
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import T0, weighin
from tests.support.services import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

RECEIVED = T0 + timedelta(seconds=30)
_dbs = itertools.count(1)


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[Engine]:
    url = postgres.create_database(f"account_lock_{next(_dbs)}")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _waiting(engine: Engine) -> list[str]:
    """The statements waiting for a lock right now."""
    with engine.connect() as c:
        q = text("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return [str(row) for row in c.scalars(q)]


def _credit(engine: Engine, seq: int, **kw: object) -> int:
    """Credit (or keep) one weigh-in, committed; its row id."""
    with session_factory(engine)() as s:
        crediting.credit_weighin(s, event=weighin(seq=seq, **kw), received_at=RECEIVED)
        s.commit()
        return int(s.scalars(select(WeighinRecord.id).where(WeighinRecord.seq == seq)).one())


def _waits_for_the_lock(
    engine: Engine, household_id: int, act: Callable[[Session], object]
) -> bool:
    """Run ``act`` in a thread while holding the account lock; whether it had to wait."""
    factory = session_factory(engine)
    done = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with factory() as s:
                act(s)
                s.commit()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            done.set()

    with factory() as holder:
        lock_household_account(holder, household_id=household_id)
        thread = threading.Thread(target=work)
        thread.start()
        wait_until(lambda: done.is_set() or _waiting(engine), 30, "the step to wait or end")
        waited = "" if done.is_set() else " ".join(_waiting(engine))
        holder.rollback()
    thread.join(30)
    assert not failures, failures
    return waited


@pytest.mark.parametrize("step", ["credit", "assign", "reverse", "payout"])
def test_every_money_step_waits_for_the_account_lock(pg: Engine, step: str) -> None:
    with session_factory(pg)() as s:
        hh = seed_programme(s)
    acts: dict[str, Callable[[Session], object]] = {
        "credit": lambda s: crediting.credit_many(s, [weighin(seq=50)], [RECEIVED]),
        "payout": lambda s: payouts.request_payout(s, household_id=hh, amount_rp=1, by="t"),
    }
    if step == "assign":
        unassigned = _credit(pg, 60, card_id="NOPE")
        acts["assign"] = lambda s: corrections.assign_weighin(
            s, weighin_id=unassigned, household_id=hh, by="op"
        )
    if step in ("reverse", "payout"):
        credited = _credit(pg, 70)
        acts["reverse"] = lambda s: corrections.reverse_weighin(
            s, weighin_id=credited, reason="wrong", by="op"
        )
    waited_at = _waits_for_the_lock(pg, hh, acts[step])
    assert "FROM accounts" in waited_at, waited_at
    assert "FOR UPDATE" in waited_at, waited_at
    with session_factory(pg)() as s:  # and it did its work once the lock was free
        assert (
            funds(s, household_id=hh).balance_rp
            == {"credit": 3750, "assign": 3750, "reverse": 0, "payout": 3750}[step]
        )


def test_a_payout_waits_for_an_uncommitted_reversal(pg: Engine) -> None:
    """A reversal in progress, then a payout of the same money: the payout is refused.

    (Money already held by a payout is owed, not taken back: test_receivables.)
    """
    factory = session_factory(pg)
    with factory() as s:
        hh = seed_programme(s)
    credited = _credit(pg, 1)
    outcome: list[BaseException | None] = []
    done = threading.Event()

    def pay() -> None:
        try:
            with factory() as s:
                payouts.request_payout(s, household_id=hh, amount_rp=3750, by="t")
                s.commit()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            done.set()

    with factory() as reversing:
        corrections.reverse_weighin(reversing, weighin_id=credited, reason="wrong", by="op")
        thread = threading.Thread(target=pay)
        thread.start()
        wait_until(lambda: done.is_set() or bool(_waiting(pg)), 30, "the payout to wait or end")
        reversing.commit()
    thread.join(30)
    assert isinstance(outcome[0], payouts.InsufficientFunds), outcome
    with factory() as s:
        assert funds(s, household_id=hh).balance_rp == 0
