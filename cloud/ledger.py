"""The ledger: households, cards, prices and exactly-once crediting of weigh-ins.

Every function takes a SQLAlchemy ``Session`` and keyword arguments. Functions that
*change* money state (:func:`credit_weighin`, :func:`assign_weighin`,
:func:`reverse_weighin`, :func:`post_entry`) write in the session's transaction (rows
added and flushed; crediting uses bulk statements) but do NOT commit: the caller's
transaction decides (ingest commits once per batch, the API once per request).
:func:`credit_batch` is the exception: it owns its transaction(s).

Postings are signed (positive = debit, negative = credit) and every entry sums to 0.
A household's balance is ``-sum(postings of its account)`` (a liability of the
programme: what the programme owes the household).

Crediting is idempotent on ``event_id``: the ``weighins.event_id`` and
``processed_events.event_id`` unique constraints are written in the same transaction as
the postings, and a redelivered weigh-in returns the stored receipt, byte for byte.

Rounding: ``amount_rp = (net_g * rp_per_kg + 500) // 1000`` — half up, integer math
only, once per weigh-in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from cloud.models import (
    Account,
    Device,
    Household,
    JournalEntry,
    MemberCard,
    Posting,
    Price,
    ProcessedEvent,
    Site,
    WasteCategory,
    WeighinRecord,
    utcnow,
)
from cloud.telemetry.base import event_time
from contract import Receipt, ReceiptStatus, Weighin

log = logging.getLogger(__name__)

PURCHASES_ACCOUNT = "programme:purchases"  # expense: what the programme paid for waste
CASH_ACCOUNT = "programme:cash"  # asset: cash paid out at the waste bank
PROGRAMME_ACCOUNTS = {
    PURCHASES_ACCOUNT: ("expense", "Waste purchases (pembelian sampah)"),
    CASH_ACCOUNT: ("asset", "Cash at the waste bank (kas)"),
}

#: most keys in one ``IN (...)`` list: keeps every statement far below the drivers'
#: bind-parameter limits (SQLite 32,766, PostgreSQL 65,535) and the plans small
IN_LIST_MAX = 500

_Key = TypeVar("_Key", str, int)


class LedgerError(ValueError):
    """A domain rule refused the operation (the message says which)."""


class NotFound(LedgerError):
    """The referenced row does not exist."""


def _chunks(keys: Iterable[_Key]) -> Iterator[list[_Key]]:
    """``keys`` without repeats, sorted, in lists of at most :data:`IN_LIST_MAX`."""
    unique = sorted(set(keys))
    for start in range(0, len(unique), IN_LIST_MAX):
        yield unique[start : start + IN_LIST_MAX]


# --------------------------------------------------------------------------- arithmetic


def amount_for(net_g: int, rp_per_kg: int) -> int:
    """Rupiah for ``net_g`` grams at ``rp_per_kg``: half up, integer math only.

    >>> amount_for(1250, 3000), amount_for(1, 500), amount_for(1, 499)
    (3750, 1, 0)
    """
    if net_g < 0 or rp_per_kg < 0:
        raise ValueError("net_g and rp_per_kg must be >= 0")
    return (net_g * rp_per_kg + 500) // 1000


def effective_time(event: Weighin, received_at: datetime) -> datetime:
    """The time a weigh-in counts at: device time if its clock was synced and sane."""
    return event_time(event.device_time, event.clock_synced, received_at)


# --------------------------------------------------------------------------- seeding


def ensure_site(session: Session, *, code: str, name: str | None = None) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        site = Site(code=code, name=name or code)
        session.add(site)
        session.flush()
    return site


def ensure_category(session: Session, *, code: str, name_id: str, name_en: str) -> WasteCategory:
    cat = session.get(WasteCategory, code)
    if cat is None:
        cat = WasteCategory(code=code, name_id=name_id, name_en=name_en, active=True)
        session.add(cat)
        session.flush()
    return cat


def set_price(
    session: Session,
    *,
    category: str,
    rp_per_kg: int,
    effective_from: datetime | None = None,
    by: str | None = None,
) -> Price:
    """Add a price version (prices are never updated; a new row supersedes)."""
    if rp_per_kg < 0:
        raise LedgerError("rp_per_kg must be >= 0")
    if session.get(WasteCategory, category) is None:
        raise NotFound(f"unknown waste category {category!r}")
    if effective_from is not None and effective_from.tzinfo is None:
        raise LedgerError("naive datetime: effective_from must carry a time zone")
    price = Price(
        category_code=category,
        rp_per_kg=rp_per_kg,
        effective_from=(effective_from or utcnow()).astimezone(UTC),
        created_by=by,
    )
    session.add(price)
    session.flush()
    return price


def price_at(session: Session, *, category: str, at: datetime) -> Price | None:
    """The price version in force for ``category`` at ``at``."""
    return session.scalar(
        select(Price)
        .where(Price.category_code == category, Price.effective_from <= at)
        .order_by(Price.effective_from.desc(), Price.id.desc())
        .limit(1)
    )


def _account(session: Session, code: str) -> Account:
    acc = session.scalar(select(Account).where(Account.code == code))
    if acc is None:
        kind, name = PROGRAMME_ACCOUNTS[code]
        acc = Account(code=code, kind=kind, name=name)
        session.add(acc)
        session.flush()
    return acc


def household_account(session: Session, *, household_id: int) -> Account:
    acc = session.scalar(select(Account).where(Account.household_id == household_id))
    if acc is None:
        raise NotFound(f"household {household_id} has no account")
    return acc


def register_household(
    session: Session,
    *,
    member_no: str,
    name: str,
    site: str | None = None,
    phone: str | None = None,
    address: str | None = None,
) -> Household:
    """Create a household and its ledger account (``site`` is a site code)."""
    site_id = ensure_site(session, code=site).id if site else None
    hh = Household(
        member_no=member_no, name=name, site_id=site_id, active=True, phone=phone, address=address
    )
    session.add(hh)
    session.flush()
    session.add(Account(code=f"household:{hh.id}", kind="household", name=name, household_id=hh.id))
    session.flush()
    return hh


def link_card(
    session: Session, *, card_id: str, household_id: int, by: str | None = None
) -> MemberCard:
    """Link a card to a household; an earlier active link of that card is ended."""
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"unknown household {household_id}")
    now = utcnow()
    for old in session.scalars(
        select(MemberCard).where(MemberCard.card_id == card_id, MemberCard.active)
    ):
        old.active = False
        old.unlinked_at = now
        old.unlinked_by = by
    session.flush()
    card = MemberCard(card_id=card_id, household_id=household_id, active=True, linked_by=by)
    session.add(card)
    session.flush()
    return card


def unlink_card(session: Session, *, card_id: str, by: str | None = None) -> bool:
    """End the active link of ``card_id``; False if it had none."""
    changed = False
    for old in session.scalars(
        select(MemberCard).where(MemberCard.card_id == card_id, MemberCard.active)
    ):
        old.active, old.unlinked_at, old.unlinked_by = False, utcnow(), by
        changed = True
    session.flush()
    return changed


def household_for_card(session: Session, *, card_id: str) -> Household | None:
    """The active household the card is linked to, or None."""
    return _households_by_card(session, [card_id]).get(card_id)


def _households_by_card(session: Session, card_ids: Iterable[str]) -> dict[str, Household]:
    """The active household of each card in ``card_ids`` that has one; one query per chunk."""
    found: dict[str, Household] = {}
    for chunk in _chunks(card_ids):
        rows = session.execute(
            select(MemberCard.card_id, Household)
            .join(Household, MemberCard.household_id == Household.id)
            .where(MemberCard.card_id.in_(chunk), MemberCard.active, Household.active)
        )
        found.update((card_id, household) for card_id, household in rows)
    return found


def _household_account_ids(session: Session, household_ids: Iterable[int]) -> dict[int, int]:
    """The account id of each household in ``household_ids``; one query per chunk.

    Raises :class:`NotFound` (as :func:`household_account` does) if one has no account.
    """
    found: dict[int, int] = {}
    for chunk in _chunks(household_ids):
        rows = session.execute(
            select(Account.household_id, Account.id).where(Account.household_id.in_(chunk))
        )
        found.update((hh, acc) for hh, acc in rows if hh is not None)
        missing = set(chunk) - found.keys()
        if missing:
            raise NotFound(f"household {min(missing)} has no account")
    return found


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
    """Write one balanced journal entry; ``postings`` are ``(account_id, amount_rp)``."""
    if sum(a for _, a in postings) != 0:
        raise LedgerError("postings of an entry must sum to 0")
    if any(a == 0 for _, a in postings) or len(postings) < 2:
        raise LedgerError("an entry needs at least two non-zero postings")
    entry = JournalEntry(
        kind=kind,
        description=description[:300],
        effective_at=effective_at or utcnow(),
        created_by=by,
        weighin_id=weighin_id,
        reverses_entry_id=reverses_entry_id,
    )
    session.add(entry)
    session.flush()
    session.add_all(Posting(entry_id=entry.id, account_id=a, amount_rp=amt) for a, amt in postings)
    session.flush()
    return entry


def balance_rp(session: Session, *, household_id: int) -> int:
    """What the programme owes the household, from its postings."""
    acc = household_account(session, household_id=household_id)
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_rp), 0)).where(Posting.account_id == acc.id)
    )
    return -int(total or 0)


def account_balance_rp(session: Session, *, account_id: int) -> int:
    """Sum of postings (debit-positive) of any account."""
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_rp), 0)).where(
            Posting.account_id == account_id
        )
    )
    return int(total or 0)


def postings_total(session: Session) -> int:
    """Sum of every posting in the ledger: 0 in a healthy ledger."""
    return int(session.scalar(select(func.coalesce(func.sum(Posting.amount_rp), 0))) or 0)


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


def statement(
    session: Session,
    *,
    household_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StatementLine]:
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
    return lines


# --------------------------------------------------------------------------- crediting


def receipt_of(record: WeighinRecord) -> Receipt:
    """The receipt the device got for this weigh-in (stored at first processing)."""
    return Receipt.model_validate_json(record.receipt_json)


def _credit_description(net_g: int, category: str, rp_per_kg: int | None, event_id: str) -> str:
    """What a weigh-in's credit entry says, e.g. ``1250 g plastic-pet @ Rp 3000/kg (st-1:7)``."""
    return f"{net_g} g {category} @ Rp {rp_per_kg}/kg ({event_id})"[:300]


def _credit_postings(session: Session, record: WeighinRecord, household_id: int) -> JournalEntry:
    hh_acc = household_account(session, household_id=household_id)
    purchases = _account(session, PURCHASES_ACCOUNT)
    return post_entry(
        session,
        kind="weighin_credit",
        description=_credit_description(
            record.net_g, record.category_code, record.price_rp_per_kg, record.event_id
        ),
        postings=[(purchases.id, record.amount_rp), (hh_acc.id, -record.amount_rp)],
        effective_at=record.effective_at,
        weighin_id=record.id,
    )


class _Lookups:
    """What deciding a batch of weigh-ins reads (categories, prices, cards, devices).

    Loaded up front with one IN-query per kind of row (per :data:`IN_LIST_MAX` keys),
    not one query per weigh-in: every statement is a round trip to the database, and on
    a busy host those round trips, not Python, bound how many weigh-ins a worker credits.
    """

    def __init__(self, session: Session, events: Sequence[Weighin]) -> None:
        self.categories: set[str] = set()
        self._prices: dict[str, list[Price]] = {}
        for chunk in _chunks(e.category for e in events):
            self.categories.update(
                session.scalars(select(WasteCategory.code).where(WasteCategory.code.in_(chunk)))
            )
            for p in session.scalars(
                select(Price)
                .where(Price.category_code.in_(chunk))
                .order_by(Price.effective_from, Price.id)
            ):
                self._prices.setdefault(p.category_code, []).append(p)
        self.households = _households_by_card(
            session, (e.card_id for e in events if e.card_id is not None)
        )
        self.site_ids: dict[str, int | None] = {}
        for chunk in _chunks(e.device_id for e in events):
            rows = session.execute(
                select(Device.device_id, Device.site_id).where(Device.device_id.in_(chunk))
            )
            self.site_ids.update((device_id, site_id) for device_id, site_id in rows)

    def price(self, category: str, at: datetime) -> Price | None:
        """The version in force at ``at`` (a handful of versions per category: a scan)."""
        found = None
        for p in self._prices.get(category, ()):
            if p.effective_from <= at:
                found = p
        return found


@dataclass(frozen=True, slots=True)
class _NewWeighin:
    """A weigh-in decided but not written yet: its ``weighins`` row and its receipt."""

    row: dict[str, Any]
    receipt: Receipt

    @property
    def credits_money(self) -> bool:
        """Whether it gets a credit entry (credited to a household, and for > Rp 0)."""
        return (
            self.row["status"] == ReceiptStatus.CREDITED.value
            and self.row["household_id"] is not None
            and self.row["amount_rp"] > 0
        )


def _decide(lk: _Lookups, event: Weighin, received_at: datetime) -> _NewWeighin:
    """The row (with its receipt) of one new weigh-in; nothing written yet."""
    eff = effective_time(event, received_at)
    status, reason = ReceiptStatus.CREDITED, None
    household: Household | None = None
    price = lk.price(event.category, eff)
    if event.category not in lk.categories:
        status, reason = ReceiptStatus.REJECTED, f"unknown waste category {event.category!r}"
    elif price is None:
        status, reason = ReceiptStatus.REJECTED, f"no price for {event.category!r} at {eff:%F %T}Z"
    elif event.card_id is None:
        status, reason = ReceiptStatus.UNASSIGNED, "no card presented"
    else:
        household = lk.households.get(event.card_id)
        if household is None:
            status, reason = ReceiptStatus.UNASSIGNED, "unknown or inactive card"
    rp_per_kg = price.rp_per_kg if price is not None else None
    amount = amount_for(event.net_g, rp_per_kg) if rp_per_kg is not None else 0
    credited = status is ReceiptStatus.CREDITED
    receipt_json = Receipt(
        device_id=event.device_id,
        event_id=event.event_id,
        seq=event.seq,
        status=status,
        amount_rp=amount if credited else 0,
        price_rp_per_kg=rp_per_kg,
        net_g=event.net_g,
        member_no=household.member_no if household is not None else None,
        reason=reason,
        processed_at=utcnow(),
    ).model_dump_json()
    row = dict(
        event_id=event.event_id,
        device_id=event.device_id,
        seq=event.seq,
        boot_id=str(event.boot_id),
        mono_ms=event.mono_ms,
        device_time=event.device_time,
        clock_synced=event.clock_synced,
        received_at=received_at,
        effective_at=eff,
        site_id=lk.site_ids.get(event.device_id),
        card_id=event.card_id,
        category_code=event.category,
        net_g=event.net_g,
        tare_g=event.tare_g,
        division_g=event.division_g,
        protocol=event.protocol,
        frames=list(event.frames),
        stable_ms=event.stable_ms,
        price_id=price.id if price is not None else None,
        price_rp_per_kg=rp_per_kg,
        amount_rp=amount,
        status=status.value,
        reason=reason,
        household_id=household.id if household is not None else None,
        receipt_json=receipt_json,
    )
    # the receipt as stored, so the first delivery gets exactly what a replay gets
    return _NewWeighin(row, Receipt.model_validate_json(receipt_json))


def _write_new(session: Session, new: list[_NewWeighin]) -> None:
    """Insert weigh-ins, processed events, credit entries and postings; link the entries.

    A fixed number of statements per batch (multi-row INSERTs; one UPDATE per
    :data:`IN_LIST_MAX` credits, since an entry needs its weigh-in's id and the weigh-in
    row is written first). Generated ids come back through RETURNING keyed by a unique
    column, not by position: SQLite does not promise RETURNING rows in insert order, and
    asking SQLAlchemy for that order (``sort_by_parameter_order``) makes it send one
    INSERT per row there. Rows go in the order of ``new`` (the caller's lock order).
    """
    if not new:
        return
    # render_nulls: every row names every column, so all go in one multi-row INSERT
    # (by default the ORM leaves out None values and batches only rows alike in that)
    inserted = session.execute(
        insert(WeighinRecord)
        .returning(WeighinRecord.event_id, WeighinRecord.id)
        .execution_options(render_nulls=True),
        [n.row for n in new],
    )
    weighin_ids = {event_id: weighin_id for event_id, weighin_id in inserted}
    session.execute(
        insert(ProcessedEvent),
        [
            {
                "event_id": n.receipt.event_id,
                "kind": "weighin",
                "device_id": n.receipt.device_id,
                "processed_at": n.receipt.processed_at,
            }
            for n in new
        ],
    )
    to_credit = [n.row for n in new if n.credits_money]
    if not to_credit:
        return
    accounts = _household_account_ids(session, (r["household_id"] for r in to_credit))
    purchases = _account(session, PURCHASES_ACCOUNT).id
    entries = session.execute(
        insert(JournalEntry).returning(JournalEntry.weighin_id, JournalEntry.id),
        [
            {
                "kind": "weighin_credit",
                "description": _credit_description(
                    r["net_g"], r["category_code"], r["price_rp_per_kg"], r["event_id"]
                ),
                "effective_at": r["effective_at"],
                "weighin_id": weighin_ids[r["event_id"]],
            }
            for r in to_credit
        ],
    )
    entry_ids = {weighin_id: entry_id for weighin_id, entry_id in entries}
    postings: list[dict[str, int]] = []
    for r in to_credit:
        entry_id = entry_ids[weighin_ids[r["event_id"]]]
        postings.append(
            {"entry_id": entry_id, "account_id": purchases, "amount_rp": r["amount_rp"]}
        )
        postings.append(
            {
                "entry_id": entry_id,
                "account_id": accounts[r["household_id"]],
                "amount_rp": -r["amount_rp"],
            }
        )
    session.execute(insert(Posting), postings)
    credit_entry_of_row = (
        select(JournalEntry.id)
        .where(JournalEntry.weighin_id == WeighinRecord.id, JournalEntry.kind == "weighin_credit")
        .scalar_subquery()
    )
    for chunk in _chunks(weighin_ids[r["event_id"]] for r in to_credit):
        session.execute(
            update(WeighinRecord)
            .where(WeighinRecord.id.in_(chunk))
            .values(entry_id=credit_entry_of_row)
            .execution_options(synchronize_session=False)
        )


def credit_weighin(session: Session, *, event: Weighin, received_at: datetime) -> Receipt:
    """Credit one weigh-in (or keep it unassigned/rejected) and return its receipt.

    Idempotent: if ``event.event_id`` was processed before, nothing is written and the
    stored receipt is returned. Flushes but does not commit (the caller's transaction).
    """
    return credit_many(session, [event], [received_at])[0]


def credit_batch(
    session: Session,
    events: Sequence[Weighin],
    *,
    received_at: datetime | Sequence[datetime] | None = None,
) -> list[Receipt]:
    """Credit many weigh-ins with one commit; receipts in the order of ``events``.

    A duplicate inside the batch gets the receipt of its first occurrence. If another
    worker committed one of the same events meanwhile (unique violation at commit, on
    SQLite or PostgreSQL), the batch is rolled back and redone one event per
    transaction, each taking the stored receipt when it already exists. Commits.
    """
    if received_at is None:
        times: list[datetime] = [utcnow()] * len(events)
    elif isinstance(received_at, datetime):
        times = [received_at] * len(events)
    else:
        times = list(received_at)
    if len(times) != len(events):
        raise ValueError("received_at must match events")
    if not events:
        return []
    try:
        receipts = credit_many(session, events, times)
        session.commit()
        return receipts
    except DBAPIError as exc:
        session.rollback()
        if not is_race(exc):
            raise
        log.info("credit batch of %d raced another worker; redoing one by one", len(events))
    out: list[Receipt] = []
    for ev, t in zip(events, times, strict=True):
        for attempt in range(5):
            try:
                out.append(credit_weighin(session, event=ev, received_at=t))
                session.commit()
                break
            except DBAPIError as exc:
                session.rollback()
                if not is_race(exc) or attempt == 4:
                    raise
    return out


#: PostgreSQL SQLSTATEs of a lost race worth retrying: deadlock, serialization failure
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})


def is_race(exc: DBAPIError) -> bool:
    """Whether a database error means "another transaction won; retry" (any backend)."""
    if isinstance(exc, IntegrityError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def credit_many(
    session: Session, events: Sequence[Weighin], times: Sequence[datetime]
) -> list[Receipt]:
    """Credit many weigh-ins inside the caller's transaction (writes, never commits).

    Duplicates inside ``events`` and events processed before get their stored receipt.
    A concurrent writer of the same event surfaces as a unique violation at the insert
    or at commit (see :func:`is_race`): roll back and redo, e.g. one event per
    transaction. A constant number of statements per batch (see :func:`_write_new`).
    """
    stored: dict[str, Receipt] = {}
    for chunk in _chunks(e.event_id for e in events):
        for rec in session.scalars(select(WeighinRecord).where(WeighinRecord.event_id.in_(chunk))):
            stored[rec.event_id] = receipt_of(rec)
    lk = _Lookups(session, [e for e in events if e.event_id not in stored])
    new: list[_NewWeighin] = []
    # new events in event-id order, so concurrent batches take locks in the same order
    for ev, t in sorted(zip(events, times, strict=True), key=lambda p: p[0].event_id):
        if ev.event_id not in stored:
            decided = _decide(lk, ev, t.astimezone(UTC))
            stored[ev.event_id] = decided.receipt
            new.append(decided)
    _write_new(session, new)
    return [stored[ev.event_id] for ev in events]


def get_weighin(session: Session, *, weighin_id: int) -> WeighinRecord:
    rec = session.get(WeighinRecord, weighin_id)
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    return rec


def assign_weighin(
    session: Session, *, weighin_id: int, household_id: int, by: str
) -> WeighinRecord:
    """Credit an unassigned weigh-in to a household (at its stored price snapshot).

    Locks the weigh-in row (PostgreSQL) so two operators cannot both assign it.
    """
    rec = session.scalar(
        select(WeighinRecord).where(WeighinRecord.id == weighin_id).with_for_update()
    )
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    if rec.status != ReceiptStatus.UNASSIGNED.value:
        raise LedgerError(f"weigh-in {weighin_id} is {rec.status}, not unassigned")
    if rec.price_rp_per_kg is None:
        raise LedgerError(f"weigh-in {weighin_id} has no price")
    hh = session.get(Household, household_id)
    if hh is None or not hh.active:
        raise NotFound(f"unknown or inactive household {household_id}")
    rec.status = ReceiptStatus.CREDITED.value
    rec.household_id = household_id
    rec.assigned_at = utcnow()
    rec.assigned_by = by
    session.flush()
    if rec.amount_rp > 0:
        rec.entry_id = _credit_postings(session, rec, household_id).id
    session.flush()
    return rec


def reverse_weighin(session: Session, *, weighin_id: int, reason: str, by: str) -> JournalEntry:
    """Reverse a credited weigh-in with a reversing entry (the original stays)."""
    rec = session.scalar(
        select(WeighinRecord).where(WeighinRecord.id == weighin_id).with_for_update()
    )
    if rec is None:
        raise NotFound(f"unknown weigh-in {weighin_id}")
    if rec.entry_id is None:
        raise LedgerError(f"weigh-in {weighin_id} has no credit to reverse")
    if rec.reversal_entry_id is not None:
        raise LedgerError(f"weigh-in {weighin_id} is already reversed")
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    original = session.scalars(select(Posting).where(Posting.entry_id == rec.entry_id)).all()
    entry = post_entry(
        session,
        kind="reversal",
        description=f"reversal of weigh-in {rec.event_id}: {reason}",
        postings=[(p.account_id, -p.amount_rp) for p in original],
        by=by,
        weighin_id=rec.id,
        reverses_entry_id=rec.entry_id,
    )
    rec.reversal_entry_id = entry.id
    session.flush()
    return entry


def unassigned_weighins(session: Session, *, limit: int = 100) -> list[WeighinRecord]:
    return list(
        session.scalars(
            select(WeighinRecord)
            .where(WeighinRecord.status == ReceiptStatus.UNASSIGNED.value)
            .order_by(WeighinRecord.id)
            .limit(limit)
        )
    )
