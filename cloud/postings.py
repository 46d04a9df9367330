"""Accounts, journal entries and their postings; the balance; statements.

The ledger is double-entry and append-only. Postings are signed (positive = debit,
negative = credit) and every entry sums to 0 (:func:`post_entry`). A household's balance
is ``-sum(postings of its account)``: a liability of the programme, what it owes the
household. :func:`funds` is the one place a balance is computed (with what pending
payouts hold), for the API and for every rule that checks one.

The account lock: whatever moves money on a household's account — a credit, an
assignment, a reversal, a payout — first locks that account's row for the rest of its
transaction (:func:`lock_household_accounts`: ``SELECT ... FOR UPDATE`` on PostgreSQL;
on SQLite the write engine's ``BEGIN IMMEDIATE`` already serialises whole transactions).
The account is always the *last* row a transaction locks (after the weigh-in or the
payout row it acts on), so the lock order is the same everywhere and a balance checked
under the lock cannot change before the commit.

Functions flush but never commit (the caller's transaction decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    ScalarSelect,
    Select,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud import ledger_chain
from cloud.bulk import Prepared
from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.models import Account, JournalEntry, Posting, utcnow
from cloud.models.money import HELD_PAYOUT_STATES, Payout

PURCHASES_ACCOUNT = "programme:purchases"  # expense: what the programme paid for waste
CASH_ACCOUNT = "programme:cash"  # asset: cash paid out at the waste bank
FLOAT_DIFFERENCES_ACCOUNT = "programme:float-differences"  # expense: floats short (or over)
SALES_ACCOUNT = "programme:sales"  # revenue: waste sold to offtakers (cloud.sales)
#: expense: what households owed after a reversal and an administrator gave up
#: (cloud.receivables; a household's receivable itself is an asset account of its own)
WRITTEN_OFF_ACCOUNT = "programme:receivables-written-off"
PROGRAMME_ACCOUNTS = {
    PURCHASES_ACCOUNT: ("expense", "Waste purchases (pembelian sampah)"),
    CASH_ACCOUNT: ("asset", "Cash at the waste bank (kas)"),
    FLOAT_DIFFERENCES_ACCOUNT: ("expense", "Collectors' cash floats short or over (selisih kas)"),
    SALES_ACCOUNT: ("revenue", "Waste sales (penjualan sampah)"),
    WRITTEN_OFF_ACCOUNT: ("expense", "Receivables written off (piutang dihapus)"),
}

# --------------------------------------------------------------------------- accounts


def programme_account(session: Session, code: str) -> Account:
    """One of the :data:`PROGRAMME_ACCOUNTS`, created on first use."""
    acc = session.scalar(select(Account).where(Account.code == code))
    if acc is None:
        kind, name = PROGRAMME_ACCOUNTS[code]
        acc = Account(code=code, kind=kind, name=name)
        session.add(acc)
        session.flush()
    return acc


_ACCOUNT_ID = select(Account.id).where(Account.code == bindparam("code"))


def programme_account_id(session: Session, code: str) -> int:
    """The id of :func:`programme_account` ``code`` (a column read, no ORM row: once per
    batch of credits)."""
    found = session.scalar(_ACCOUNT_ID, {"code": code})
    return found if found is not None else programme_account(session, code).id


def float_account_code(collector_id: int) -> str:
    """The code of a collector's float account."""
    return f"collector:{collector_id}:float"


def collector_float_account(session: Session, *, collector_id: int) -> Account:
    """The cash a collector carries to pay at doors (an asset), created on first use
    (a write: readers use :func:`cloud.cash_float.float_rp`, which creates nothing)."""
    code = float_account_code(collector_id)
    acc = session.scalar(select(Account).where(Account.code == code))
    if acc is None:
        acc = Account(code=code, kind="asset", name=f"Cash float of collector {collector_id}")
        session.add(acc)
        session.flush()
    return acc


def account_total_rp(session: Session, *, account_id: int) -> int:
    """Sum of an account's postings (debits positive): an asset's balance, a
    liability's negated. Households' balances are :func:`funds`."""
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_rp), 0)).where(
            Posting.account_id == account_id
        )
    )
    return int(total or 0)


def household_account(session: Session, *, household_id: int) -> Account:
    """The household's account (not locked); :class:`NotFound` if it has none."""
    acc = session.scalar(select(Account).where(Account.household_id == household_id))
    if acc is None:
        raise NotFound(f"household {household_id} has no account")
    return acc


_LOCK_ACCOUNTS = Prepared(
    lambda keys: (
        select(Account.household_id, Account.id)
        .where(keys(Account.household_id))
        .order_by(Account.household_id)
        .with_for_update()
    )
)


def lock_household_accounts(session: Session, household_ids: Iterable[int]) -> dict[int, int]:
    """Lock the accounts of ``household_ids`` (in id order); their ids by household.

    One query per chunk of ids. Raises :class:`NotFound` if a household has no account.
    """
    found: dict[int, int] = {}
    for chunk in chunks(household_ids):
        rows = session.execute(_LOCK_ACCOUNTS(session), {"keys": chunk})
        found.update((hh, acc) for hh, acc in rows if hh is not None)
        missing = set(chunk) - found.keys()
        if missing:
            raise NotFound(f"household {min(missing)} has no account")
    return found


def lock_household_account(session: Session, *, household_id: int) -> int:
    """Lock one household's account (see :func:`lock_household_accounts`); its id."""
    return lock_household_accounts(session, [household_id])[household_id]


# --------------------------------------------------------------------------- postings


def post_entry(
    session: Session,
    *,
    kind: str,
    description: str,
    postings: Sequence[tuple[int, int]],
    effective_at: datetime | None = None,
    by: str | None = None,
    weighin_id: int | None = None,
    reverses_entry_id: int | None = None,
) -> JournalEntry:
    """Write one balanced journal entry; ``postings`` are ``(account_id, amount_rp)``.

    It joins the journal's hash chain (:func:`cloud.ledger_chain.link`, the head lock).
    """
    if sum(a for _, a in postings) != 0:
        raise LedgerError("postings of an entry must sum to 0")
    if any(a == 0 for _, a in postings) or len(postings) < 2:
        raise LedgerError("an entry needs at least two non-zero postings")
    now = utcnow()
    row = ledger_chain.new_row(
        kind=kind,
        description=description,
        effective_at=effective_at or now,
        created_at=now,
        created_by=by,
        weighin_id=weighin_id,
        reverses_entry_id=reverses_entry_id,
    )
    ledger_chain.link(session, [row], [postings])
    entry = JournalEntry(**row)
    session.add(entry)
    session.flush()
    session.add_all(Posting(entry_id=entry.id, account_id=a, amount_rp=amt) for a, amt in postings)
    session.flush()
    return entry


def postings_total(session: Session) -> int:
    """Sum of every posting in the ledger: 0 in a healthy ledger."""
    return int(session.scalar(select(func.coalesce(func.sum(Posting.amount_rp), 0))) or 0)


# --------------------------------------------------------------------------- balance


@dataclass(frozen=True, slots=True)
class Funds:
    """A household's money: its balance and what requested/approved payouts hold."""

    balance_rp: int
    held_rp: int

    @property
    def available_rp(self) -> int:
        return self.balance_rp - self.held_rp


def posted_rp(hh: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[Any]:
    """The sum of household ``hh``'s postings (a bind or a column; its balance negated,
    as :func:`funds_from_row` reads it), as a scalar subquery."""
    return (
        select(func.coalesce(func.sum(Posting.amount_rp), 0))
        .join(Account, Account.id == Posting.account_id)
        .where(Account.household_id == hh)
        .scalar_subquery()
    )


def _funds_of(hh: ColumnElement[int]) -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The two sums behind :class:`Funds` for household ``hh`` (a bind or a column)."""
    posted = posted_rp(hh)
    # the held states as constants in the SQL: compiled once, no list expanded per call
    held_state = or_(*(Payout.status == literal_column(f"'{s}'") for s in HELD_PAYOUT_STATES))
    held = (
        select(func.coalesce(func.sum(Payout.amount_rp), 0))
        .where(Payout.household_id == hh, held_state)
        .scalar_subquery()
    )
    return posted, held


def _funds_of_many() -> Select[Any]:
    ids = (
        func.unnest(bindparam("household_ids", type_=ARRAY(Integer)))
        .table_valued("id")
        .render_derived()
    )
    return select(ids.c.id, *_funds_of(ids.c.id))


#: built once: a balance lookup is the API's hottest query (bind: ``household_id``); the
#: API runs it without an ORM session (:mod:`cloud.api.fastread`), always through
#: :func:`funds_from_row`
FUNDS = select(*_funds_of(bindparam("household_id")))
#: :data:`FUNDS` of many households in one statement, a row ``(id, *FUNDS)`` per id of the
#: array bind ``household_ids`` (PostgreSQL: the API batches concurrent lookups with it)
FUNDS_OF_MANY = _funds_of_many()


def funds_from_row(row: Sequence[Any]) -> Funds:
    """The :class:`Funds` of one row of :data:`FUNDS` (postings are the programme's view:
    what it owes a household is the negated sum)."""
    return Funds(balance_rp=-int(row[0] or 0), held_rp=int(row[1] or 0))


def funds(session: Session | Connection, *, household_id: int) -> Funds:
    """Balance (what the programme owes the household) and held amount, in one round trip.

    A household without postings (or unknown) has ``Funds(0, 0)``.
    """
    conn = session.connection() if isinstance(session, Session) else session
    return funds_from_row(conn.execute(FUNDS, {"household_id": household_id}).one())


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: int
    at: datetime
    kind: str
    description: str
    #: household's view: positive = credited to the household, negative = paid out/reversed
    amount_rp: int
    balance_rp: int
    weighin_id: int | None


@dataclass(frozen=True, slots=True)
class Statement:
    """The account over ``[since, until)``: the balance before it, its postings, the
    balance after it (both right when the window holds no posting at all)."""

    opening_rp: int
    lines: list[StatementLine]

    @property
    def closing_rp(self) -> int:
        return self.lines[-1].balance_rp if self.lines else self.opening_rp


def statement(
    session: Session,
    *,
    household_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Statement:
    """Every posting of the household's account (oldest first) with the running balance.

    The running balance includes everything before ``since``.
    """
    acc = household_account(session, household_id=household_id)
    base = select(Posting.amount_rp, JournalEntry).join(
        JournalEntry, JournalEntry.id == Posting.entry_id
    )
    base = base.where(Posting.account_id == acc.id)
    opening = 0
    if since is not None:
        opening = -int(
            session.scalar(
                select(func.coalesce(func.sum(Posting.amount_rp), 0))
                .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                .where(Posting.account_id == acc.id, JournalEntry.created_at < since)
            )
            or 0
        )
        base = base.where(JournalEntry.created_at >= since)
    if until is not None:
        base = base.where(JournalEntry.created_at < until)
    lines = []
    running = opening
    for amount, entry in session.execute(base.order_by(JournalEntry.id, Posting.id)):
        running += -amount
        lines.append(
            StatementLine(
                entry_id=entry.id,
                at=entry.created_at,
                kind=entry.kind,
                description=entry.description,
                amount_rp=-amount,
                balance_rp=running,
                weighin_id=entry.weighin_id,
            )
        )
    return Statement(opening_rp=opening, lines=lines)
