"""Receivables (SQLite and PostgreSQL): a reversal of spent money never overdraws; what
was spent or held is owed, recovered from the next credit, repaid in cash or written off.

The seeded household's card credits Rp 3,750 a weigh-in (1,250 g of PET at Rp 3,000/kg).

Mutants (each applied by hand, each fails a test here):
  mutant: split_reversal takes back min(amount, balance) (the held part ignored) ->
          test_the_held_part_is_owed_not_overdrawn fails (available -1,250, owed 0)
  mutant: reverse_weighin keeps the original postings (no split) -> the household goes
          to -1,250 -> test_a_reversal_after_a_payout_leaves_zero_and_a_receivable fails
  mutant: post_credits without receivables.recover (settled after crediting, by a later
          step) -> test_the_next_credit_settles_first and test_an_assignment_settles
          fail (balance 3,750, owed 1,250 after the credit's commit)
  mutant: post_credits calls receivables.recover before writing the credit entries (the
          recovery entry ahead of the credit: the statement dips to -1,250) ->
          test_the_next_credit_settles_first fails
  mutant: recover's balances without the recovery taken off (``balances[hh] -= take``
          dropped) -> test_the_next_credit_settles_first and
          test_a_small_credit_settles_part fail (the credit's notice tells 3,750 / 600)
  mutant: recover's balances from the postings' sum not negated -> the same two fail
  mutant: write_off without the reason check -> test_write_off fails
  mutant: cashbox.tally without repaid_rp in expected_rp -> test_cash_repaid fails
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud import cashbox, chain_audit, corrections, crediting, households, payouts, postings
from cloud import receivables as rcv
from cloud.db import make_engine, migrate, session_factory
from cloud.models import WeighinRecord, utcnow
from cloud.models.audit import AuditEntry
from cloud.models.notifications import Notification
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import T0, weighin
from tests.cloud.test_account_lock import _waiting
from tests.support.services import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

RECEIVED = T0 + timedelta(seconds=30)
_dbs = itertools.count(1)


def _credit(session: Session, seq: int, **kw: object) -> int:
    crediting.credit_weighin(session, event=weighin(seq=seq, **kw), received_at=RECEIVED)
    session.commit()
    return int(session.scalars(select(WeighinRecord.id).where(WeighinRecord.seq == seq)).one())


def _pay(session: Session, household_id: int, amount: int) -> None:
    p = payouts.request_payout(session, household_id=household_id, amount_rp=amount, by="a")
    payouts.approve_payout(session, payout_id=p.id, by="b", two_person_from_rp=None)
    payouts.pay_payout(session, payout_id=p.id, by="c", two_person_from_rp=None, cash=False)
    session.commit()


def _books_hold(session: Session) -> None:
    assert postings.postings_total(session) == 0
    report = chain_audit.audit(session)
    assert report.ok, report.lines()


def _told_balance(session: Session) -> int:
    """The balance the newest credit notice tells (read with the accounts locked)."""
    data = session.scalars(
        select(Notification.data)
        .where(Notification.event == "weighin_credited")
        .order_by(Notification.id.desc())
    ).first()
    assert data is not None
    return int(data["balance_rp"])


def _owed(session: Session, household_id: int) -> int:
    return rcv.owed_rp(session, [household_id])[household_id]


def _spent_and_reversed(session: Session, household_id: int) -> int:
    """Two credits (7,500), 5,000 paid out, the first reversed: 2,500 back, 1,250 owed."""
    first = _credit(session, 1)
    _credit(session, 2)
    _pay(session, household_id, 5_000)
    corrections.reverse_weighin(session, weighin_id=first, reason="neighbour's card", by="op")
    session.commit()
    return first


def test_a_reversal_after_a_payout_leaves_zero_and_a_receivable(
    session: Session, household_id: int
) -> None:
    first = _spent_and_reversed(session, household_id)
    f = postings.funds(session, household_id=household_id)
    assert (f.balance_rp, f.held_rp) == (0, 0)
    assert _owed(session, household_id) == 1_250
    assert rcv.open_receivables(session, limit=10)[0].reversals == [(first, 1_250)]
    last = postings.statement(session, household_id=household_id).lines[-1]
    assert (last.kind, last.amount_rp, last.balance_rp) == ("reversal", -2_500, 0)
    assert (
        min(ln.balance_rp for ln in postings.statement(session, household_id=household_id).lines)
        >= 0
    )
    _books_hold(session)


def test_the_held_part_is_owed_not_overdrawn(session: Session, household_id: int) -> None:
    first = _credit(session, 1)
    _credit(session, 2)
    held = payouts.request_payout(session, household_id=household_id, amount_rp=5_000, by="a")
    session.commit()
    corrections.reverse_weighin(session, weighin_id=first, reason="wrong", by="op")
    session.commit()
    f = postings.funds(session, household_id=household_id)
    assert (f.balance_rp, f.held_rp, f.available_rp) == (5_000, 5_000, 0)
    assert _owed(session, household_id) == 1_250
    # the held payout can still be paid: the balance never goes below zero
    payouts.approve_payout(session, payout_id=held.id, by="b", two_person_from_rp=None)
    payouts.pay_payout(session, payout_id=held.id, by="c", two_person_from_rp=None, cash=False)
    session.commit()
    assert postings.funds(session, household_id=household_id).balance_rp == 0
    _books_hold(session)


def test_the_next_credit_settles_first(session: Session, household_id: int) -> None:
    first = _spent_and_reversed(session, household_id)
    _credit(session, 3)  # Rp 3,750: 1,250 recovered in the same transaction
    assert _owed(session, household_id) == 0
    assert postings.funds(session, household_id=household_id).balance_rp == 2_500
    assert _told_balance(session) == 2_500  # the notice tells the balance once settled
    with pytest.raises(payouts.InsufficientFunds):
        payouts.request_payout(session, household_id=household_id, amount_rp=3_750, by="a")
    session.rollback()
    lines = postings.statement(session, household_id=household_id).lines
    assert [(ln.kind, ln.amount_rp, ln.balance_rp) for ln in lines[-2:]] == [
        ("weighin_credit", 3_750, 3_750),
        ("receivable_recovery", -1_250, 2_500),
    ]
    assert lines[-1].description == f"recovered against reversal of weigh-in {first}"
    assert rcv.open_receivables(session, limit=10) == []
    _books_hold(session)


def test_an_assignment_settles(session: Session, household_id: int) -> None:
    _spent_and_reversed(session, household_id)
    unassigned = _credit(session, 9, card_id="NOPE", net_g=500)  # Rp 1,500 kept unassigned
    corrections.assign_weighin(session, weighin_id=unassigned, household_id=household_id, by="op")
    session.commit()
    assert _owed(session, household_id) == 0
    assert postings.funds(session, household_id=household_id).balance_rp == 250
    _books_hold(session)


def test_a_small_credit_settles_part(session: Session, household_id: int) -> None:
    _spent_and_reversed(session, household_id)
    _credit(session, 3, net_g=200)  # Rp 600 < 1,250 owed: all of it recovered
    assert _owed(session, household_id) == 650
    assert postings.funds(session, household_id=household_id).balance_rp == 0
    assert _told_balance(session) == 0
    _books_hold(session)


def test_write_off(session: Session, household_id: int) -> None:
    _spent_and_reversed(session, household_id)
    with pytest.raises(rcv.ReceivableError, match="reason"):
        rcv.write_off(session, household_id=household_id, amount_rp=1_250, reason=" ", by="adm")
    with pytest.raises(rcv.ReceivableError, match="owes"):
        rcv.write_off(session, household_id=household_id, amount_rp=1_251, reason="gone", by="adm")
    rcv.write_off(
        session, household_id=household_id, amount_rp=1_250, reason="moved away", by="adm"
    )
    session.commit()
    assert _owed(session, household_id) == 0
    expense = postings.programme_account(session, postings.WRITTEN_OFF_ACCOUNT)
    assert postings.account_total_rp(session, account_id=expense.id) == 1_250
    row = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "receivable.write_off")
    ).one()
    assert row.actor == "adm"
    assert row.after is not None
    assert row.after["reason"] == "moved away"
    _credit(session, 3)  # nothing owed any more: the whole credit stays
    assert postings.funds(session, household_id=household_id).balance_rp == 3_750
    _books_hold(session)


def test_cash_repaid(session: Session, household_id: int) -> None:
    _spent_and_reversed(session, household_id)
    site = households.ensure_site(session, code="bank01")
    today = cashbox.local_day(utcnow(), cashbox.site_zone(site))
    cashbox.open_day(session, site_id=site.id, day=today, float_rp=10_000, by="c")
    rcv.repay(session, household_id=household_id, amount_rp=500, by="cashier")
    session.commit()
    assert _owed(session, household_id) == 750
    t = cashbox.tally(session, site_id=site.id, day=today)
    assert (t.repaid_rp, t.expected_rp) == (500, 10_000 - 5_000 + 500)  # the payout: cash
    cashbox.close_day(session, site_id=site.id, day=today, counted_rp=5_500, reason=None, by="c")
    session.commit()
    with pytest.raises(cashbox.CashboxError, match="closed"):
        rcv.repay(session, household_id=household_id, amount_rp=100, by="cashier")
    session.rollback()
    assert isinstance(today, date)
    _books_hold(session)


# --------------------------------------------------------------------------- races


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[Engine]:
    url = postgres.create_database(f"receivables_{next(_dbs)}")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _while_held(
    engine: Engine, hold: Callable[[Session], object], act: Callable[[Session], object]
) -> None:
    """``hold`` runs uncommitted in one session while ``act`` starts in a thread and
    waits for the account lock; then ``hold`` commits and ``act`` finishes."""
    factory = session_factory(engine)
    failures: list[BaseException] = []
    done = threading.Event()

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
        hold(holder)
        thread = threading.Thread(target=work)
        thread.start()
        wait_until(lambda: done.is_set() or _waiting(engine), 30, "the step to wait or end")
        assert not done.is_set(), "the second step did not wait for the first"
        holder.commit()
    thread.join(30)
    assert not failures, failures


def test_a_reversal_racing_a_payout_never_overdraws(pg: Engine) -> None:
    """A payout being requested and a reversal of the money it asks for: the reversal
    waits at the account lock, then sees the hold and owes it (PostgreSQL).

    mutant: reverse_weighin reads funds before lock_household_account -> it takes back
            the Rp 3,750 the payout now holds -> available -3,750, nothing owed -> fails
    """
    factory = session_factory(pg)
    with factory() as s:
        hh = seed_programme(s)
        first = _credit(s, 1)
    _while_held(
        pg,
        lambda s: payouts.request_payout(s, household_id=hh, amount_rp=3_750, by="a"),
        lambda s: corrections.reverse_weighin(s, weighin_id=first, reason="wrong", by="op"),
    )
    with factory() as s:
        f = postings.funds(s, household_id=hh)
        assert (f.balance_rp, f.held_rp, f.available_rp) == (3_750, 3_750, 0)
        assert _owed(s, hh) == 3_750
        _books_hold(s)


def test_a_reversal_racing_a_credit_is_settled_by_it(pg: Engine) -> None:
    """A reversal of spent money in progress, a credit of the same household meanwhile:
    the credit waits, then settles what the reversal left owed (PostgreSQL).

    mutant: post_credits without receivables.recover -> owed 3,750 stays -> fails
    """
    factory = session_factory(pg)
    with factory() as s:
        hh = seed_programme(s)
        first = _credit(s, 1)
        _pay(s, hh, 3_750)
    _while_held(
        pg,
        lambda s: corrections.reverse_weighin(s, weighin_id=first, reason="wrong", by="op"),
        lambda s: crediting.credit_many(s, [weighin(seq=2, net_g=2_500)], [RECEIVED]),
    )
    with factory() as s:
        assert (postings.funds(s, household_id=hh).balance_rp, _owed(s, hh)) == (3_750, 0)
        _books_hold(s)
