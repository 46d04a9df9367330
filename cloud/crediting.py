"""Crediting weigh-ins exactly once: from a device's event to a receipt and postings.

The one crediting path: every weigh-in — a station's, a collector's at the door, a
replay — goes through :func:`credit_many` (:func:`credit_weighin` and
:func:`credit_batch` are that with one event, and with its own transactions). It
decides each new weigh-in (category, price in force at its event time, the household of
its card — or, at a household's door, the :class:`Payee` the caller names) and writes
it in a fixed number of statements per batch; it returns a :class:`WeighinResult` per
event that callers use as is (the ingest publishes its ``receipt_json`` and writes its
telemetry point from it, reading nothing again).

Idempotent on ``event_id``: the ``weighins.event_id`` and ``processed_events.event_id``
unique constraints are written in the same transaction as the postings, and a
redelivered weigh-in gets the stored receipt, byte for byte — unless its content differs
from what was stored under that event id (its :func:`contract.signing.record_hash`):
such a *conflict* is written nowhere and reported to the caller, which refuses it.

Verification before money: the ingest passes an ``inspect`` callable
(:class:`cloud.integrity.Inspector`) that checks the batch's *new* weigh-ins (signature,
chain, frames, approved build, clock) and says when each counts; one that fails is
written with status ``held`` and a :class:`cloud.models.Hold` row, and moves no money
until :mod:`cloud.holds` releases it. Every weigh-in gets a verification code (its
receipt's ``verify_code``) for the public verification page. A weigh-in whose card is
unknown is kept ``unassigned`` (no money moves) until an operator assigns it; a wrong
credit is reversed, never edited (:mod:`cloud.corrections`, through :func:`post_credits`
and the same locks).

Locks: whatever moves money takes the weigh-in row first (inserted here, ``SELECT ...
FOR UPDATE`` in a correction), then the household's account
(:func:`cloud.postings.lock_household_accounts`), so crediting, corrections and payouts
serialise on the account in one lock order. Races between workers (the same event from
two of them) surface as a unique violation; the retry rule is
:func:`cloud.db.commit_retrying`.

Functions write in the caller's transaction and never commit, except
:func:`credit_batch`, which owns its transactions. One module past the usual size on
purpose: deciding a weigh-in and writing it (new, replayed or released from a hold) is
the one crediting rule, and splitting it would put half of that rule elsewhere.

One module of ~680 lines on purpose: deciding a batch (card, price, payee, inspection),
writing it in a fixed number of statements and answering replays byte for byte are one
transaction's steps that share the batch's in-memory decisions; split, each part would
need the others' private state, and the exactly-once argument would span files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cloud import ledger_chain, receivables
from cloud.bulk import Prepared, among, insert_rows
from cloud.clock import event_time, not_before_bound
from cloud.db import chunks, commit_retrying, is_race
from cloud.households import CardHolder, households_by_card
from cloud.models import (
    Device,
    Hold,
    Household,
    JournalEntry,
    Posting,
    ProcessedEvent,
    Site,
    WeighinRecord,
    utcnow,
)
from cloud.notifications.events import CreditFacts, weighins_credited
from cloud.postings import PURCHASES_ACCOUNT, lock_household_accounts, programme_account_id
from cloud.pricing import amount_for, categories_and_prices, in_force
from cloud.stock import WeighedIn, weighins_into_stock
from cloud.verification import code_digest, new_verify_code, new_verify_codes, weighin_of
from contract import Receipt, ReceiptStatus, Weighin
from contract.signing import record_hash

log = logging.getLogger(__name__)

_WEIGHINS: Table = WeighinRecord.__table__  # type: ignore[assignment]
_ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
_W = WeighinRecord

# a batch's statements, built once (cloud.bulk.Prepared): what is stored of its event ids,
# its devices' sites, the link of its weigh-ins to their credit entries
_STORED = Prepared(
    lambda keys: (
        select(
            _W.event_id,
            _W.receipt_json,
            _W.effective_at,
            _W.household_id,
            Site.code,
            _W.record_hash,
        )
        .outerjoin(Site, Site.id == _W.site_id)
        .where(keys(_W.event_id))
    )
)
_SITES = Prepared(
    lambda keys: (
        select(Device.device_id, Device.site_id, Site.code, Device.kind)
        .outerjoin(Site, Site.id == Device.site_id)
        .where(keys(Device.device_id))
    )
)
_LINK_ENTRIES = Prepared(
    lambda keys: (
        update(_WEIGHINS)
        .where(keys(_WEIGHINS.c.id))
        .values(
            entry_id=select(_ENTRIES.c.id)
            .where(_ENTRIES.c.weighin_id == _WEIGHINS.c.id, _ENTRIES.c.kind == "weighin_credit")
            .scalar_subquery()
        )
    )
)


@dataclass(frozen=True, slots=True)
class WeighinResult:
    """What became of one weigh-in: decided now, or at its first delivery (a replay)."""

    receipt: Receipt
    #: the receipt as stored: what the device gets, the same bytes for every delivery
    receipt_json: str
    #: the time the weigh-in counts at (priced at, on the statement, on charts)
    effective_at: datetime
    site_code: str | None
    household_id: int | None
    replay: bool
    #: a replay whose content differs from what was stored under its event id
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class Checked:
    """What verification says about a new weigh-in (:class:`cloud.integrity.Verdict`)."""

    provenance: str  # signed | unsigned | collector
    hold: tuple[str, str] | None  # (kind, detail)
    effective_at: datetime
    record_hash: str


#: checks the new weigh-ins of a batch: (session, [(event, received_at)]) -> one each
Inspect = Callable[[Session, Sequence[tuple[Weighin, datetime]]], Sequence[Checked]]


def unchecked(event: Weighin, received_at: datetime) -> Checked:
    """No verification (direct callers, tests): dated by the clock rule, ``provenance``
    unsigned whatever the event carries (``signed`` means a signature ingest verified)."""
    eff = event_time(event.device_time, event.clock_synced, received_at)
    return Checked("unsigned", None, eff, record_hash(event))


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True, slots=True)
class Payee:
    """Whom a weigh-in credits when no card says it: the household at whose door a
    collector weighed (:mod:`cloud.doorstep`), and where and since when it counts.

    The weigh-in is then priced and dated by the clock rule with ``not_before`` (a bag
    cannot be weighed before the household asked for the pickup), booked at ``site_id``
    (the collector's waste bank), and credited to the household if it is active, else
    kept unassigned like a weigh-in with an unknown card.
    """

    household_id: int
    site_id: int | None
    not_before: datetime


class _Lookups:
    """What deciding a batch of weigh-ins reads (categories, prices, cards, devices).

    Loaded up front with one IN-query per kind of row (per :data:`cloud.db.IN_LIST_MAX`
    keys), not one query per weigh-in: every statement is a round trip to the database,
    and on a busy host those round trips, not Python, bound how many weigh-ins a worker
    credits.
    """

    def __init__(
        self, session: Session, events: Sequence[Weighin], payees: Mapping[str, Payee]
    ) -> None:
        self.payees = {e.event_id: payees[e.event_id] for e in events if e.event_id in payees}
        self.categories, self.prices = categories_and_prices(session, (e.category for e in events))
        self.households = households_by_card(
            session,
            (e.card_id for e in events if e.card_id is not None and e.event_id not in payees),
        )
        self.payee_households: dict[int, Household] = {}
        for hh_ids in chunks({p.household_id for p in self.payees.values()}):
            self.payee_households.update(
                (h.id, h)
                for h in session.scalars(
                    select(Household).where(among(session, Household.id, hh_ids))
                )
            )
        self.site_codes: dict[int, str] = {}
        for site_ids in chunks({p.site_id for p in self.payees.values() if p.site_id is not None}):
            codes = session.execute(
                select(Site.id, Site.code).where(among(session, Site.id, site_ids))
            )
            self.site_codes.update((sid, code) for sid, code in codes)
        self.sites: dict[str, tuple[int | None, str | None]] = {}
        self.device_kinds: dict[str, str] = {}
        for chunk in chunks(e.device_id for e in events):
            for device_id, sid, code, kind in session.execute(_SITES(session), {"keys": chunk}):
                self.sites[device_id] = (sid, code)
                self.device_kinds[device_id] = kind


@dataclass(frozen=True, slots=True)
class _NewWeighin:
    """A weigh-in decided but not written yet: its ``weighins`` row and its result."""

    row: dict[str, Any]
    result: WeighinResult
    device_kind: str | None
    hold: tuple[str, str] | None = None

    @property
    def credits_money(self) -> bool:
        """Whether it gets a credit entry (credited to a household, and for > Rp 0)."""
        return (
            self.row["status"] == ReceiptStatus.CREDITED.value
            and self.row["household_id"] is not None
            and self.row["amount_rp"] > 0
        )


def _decide(
    lk: _Lookups,
    event: Weighin,
    received_at: datetime,
    checked: Checked,
    verify_code: str | None = None,
) -> _NewWeighin:
    """The row (with its receipt) of one new weigh-in; nothing written yet."""
    payee = lk.payees.get(event.event_id)
    eff = not_before_bound(checked.effective_at, payee.not_before if payee else None)
    status, reason = ReceiptStatus.CREDITED, None
    household: Household | CardHolder | None = None
    price = in_force(lk.prices.get(event.category, ()), eff)
    if checked.hold is not None:
        status, reason = ReceiptStatus.HELD, f"{checked.hold[0]}: {checked.hold[1]}"[:200]
    elif event.category not in lk.categories:
        status, reason = ReceiptStatus.REJECTED, f"unknown waste category {event.category!r}"
    elif price is None:
        status, reason = ReceiptStatus.REJECTED, f"no price for {event.category!r} at {eff:%F %T}Z"
    elif payee is not None:
        household = lk.payee_households.get(payee.household_id)
        if household is None or not household.active:
            household = None
            status, reason = ReceiptStatus.UNASSIGNED, "unknown or inactive household"
    elif event.card_id is None:
        status, reason = ReceiptStatus.UNASSIGNED, "no card presented"
    else:
        household = lk.households.get(event.card_id)
        if household is None:
            status, reason = ReceiptStatus.UNASSIGNED, "unknown or inactive card"
    if checked.hold is not None and event.card_id is not None:
        household = lk.households.get(event.card_id)  # held: whom it would go to
    rp_per_kg = price.rp_per_kg if price is not None else None
    amount = amount_for(event.net_g, rp_per_kg) if rp_per_kg is not None else 0
    code = verify_code or new_verify_code()
    held = status is ReceiptStatus.HELD
    receipt = Receipt(
        device_id=event.device_id,
        event_id=event.event_id,
        seq=event.seq,
        status=status,
        amount_rp=amount if status is ReceiptStatus.CREDITED else 0,
        price_rp_per_kg=None if held else rp_per_kg,
        net_g=event.net_g,
        member_no=household.member_no if household is not None and not held else None,
        reason=reason,
        processed_at=utcnow(),
        verify_code=code,
    )
    receipt_json = receipt.model_dump_json()  # the one serialisation: stored and sent
    site_id, site_code = lk.sites.get(event.device_id, (None, None))
    if payee is not None:
        site_id = payee.site_id
        site_code = lk.site_codes.get(site_id) if site_id is not None else None
    household_id = household.id if household is not None else None
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
        site_id=site_id,
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
        household_id=household_id,
        receipt_json=receipt_json,
        provenance=checked.provenance,
        public_key=event.public_key,
        chain_pos=event.chain_pos,
        prev_hash=event.prev_hash,
        record_hash=checked.record_hash,
        sw_hash=event.sw_hash,
        config_hash=event.config_hash,
        signature=event.signature,
        verify_code=code,
        verify_digest=code_digest(code),
    )
    result = WeighinResult(receipt, receipt_json, eff, site_code, household_id, replay=False)
    return _NewWeighin(row, result, lk.device_kinds.get(event.device_id), checked.hold)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class Credit:
    """A credit entry to post for a weigh-in row already written."""

    weighin_id: int
    household_id: int
    amount_rp: int
    description: str
    effective_at: datetime


def credit_description(net_g: int, category: str, rp_per_kg: int | None, event_id: str) -> str:
    """What a weigh-in's credit entry says, e.g. ``1250 g plastic-pet @ Rp 3000/kg (st-1:7)``."""
    return f"{net_g} g {category} @ Rp {rp_per_kg}/kg ({event_id})"[:300]


@dataclass(frozen=True, slots=True)
class Posted:
    """What :func:`post_credits` wrote: each weigh-in's entry, each household's balance."""

    #: the credit entry's id by weigh-in id
    entry_ids: dict[int, int]
    #: each credited household's balance after these credits (and what they recovered):
    #: what its credit notices tell (:func:`cloud.notifications.events.weighins_credited`)
    balances: dict[int, int]


def post_credits(session: Session, credits: Sequence[Credit], accounts: dict[int, int]) -> Posted:
    """Insert the credit entries and their postings (accounts locked by the caller).

    Two INSERTs (:func:`cloud.bulk.insert_rows`) for any number of credits (plus the
    purchases account once), then what the credited households owe is recovered from them
    (:func:`cloud.receivables.recover`: one query, which reads their balances too, and an
    entry per household that owes). Linking the weigh-in to its entry is the caller's (a
    bulk UPDATE, or the ORM row at hand).
    """
    purchases = programme_account_id(session, PURCHASES_ACCOUNT)
    now = utcnow()
    rows = [
        ledger_chain.new_row(
            kind="weighin_credit",
            description=c.description,
            effective_at=c.effective_at,
            created_at=now,
            weighin_id=c.weighin_id,
        )
        for c in credits
    ]
    ledger_chain.link(
        session,
        rows,
        [((purchases, c.amount_rp), (accounts[c.household_id], -c.amount_rp)) for c in credits],
    )
    entries = insert_rows(session, JournalEntry, rows, returning=("weighin_id", "id"))
    entry_ids: dict[int, int] = {wid: eid for wid, eid in entries if wid is not None}
    postings: list[dict[str, int]] = []
    for c in credits:
        entry_id = entry_ids[c.weighin_id]
        postings.append({"entry_id": entry_id, "account_id": purchases, "amount_rp": c.amount_rp})
        postings.append(
            {
                "entry_id": entry_id,
                "account_id": accounts[c.household_id],
                "amount_rp": -c.amount_rp,
            }
        )
    insert_rows(session, Posting, postings)
    # what a household owes the programme (a reversal of spent money) is settled from
    # these credits first, in this transaction, under the accounts' locks
    balances = receivables.recover(
        session, [(c.household_id, c.amount_rp) for c in credits], accounts
    )
    return Posted(entry_ids, balances)


def credit_facts(row: Mapping[str, Any] | WeighinRecord) -> CreditFacts:
    """What a household is told of a credit, from its ``weighins`` row (a dict of its
    columns, or the ORM row), with the receipt's verification code."""
    get: Callable[[str], Any] = (
        row.__getitem__ if isinstance(row, Mapping) else partial(getattr, row)
    )
    return CreditFacts(
        get("event_id"),
        get("household_id"),
        get("site_id"),
        get("net_g"),
        get("category_code"),
        get("amount_rp"),
        get("price_rp_per_kg"),
        get("effective_at"),
        get("verify_code"),
    )


def _write_new(session: Session, new: list[_NewWeighin]) -> None:
    """Insert weigh-ins, processed events, credit entries and postings; link the entries.

    A fixed number of statements per batch (one INSERT per table,
    :func:`cloud.bulk.insert_rows`; one UPDATE per :data:`cloud.db.IN_LIST_MAX` credits,
    since an entry needs its weigh-in's id and the weigh-in row is written first).
    Generated ids come back through RETURNING keyed by a unique column, not by position:
    neither database promises RETURNING rows in insert order. Rows go in the order of
    ``new`` (the caller's lock order); the accounts credited are locked after the
    weigh-ins are written.
    """
    if not new:
        return
    inserted = insert_rows(
        session, WeighinRecord, [n.row for n in new], returning=("event_id", "id")
    )
    weighin_ids = {event_id: weighin_id for event_id, weighin_id in inserted}
    holds = [
        {
            "weighin_id": weighin_ids[n.row["event_id"]],
            "device_id": n.row["device_id"],
            "kind": n.hold[0],
            "detail": n.hold[1][:200],
            "held_at": n.result.receipt.processed_at,
        }
        for n in new
        if n.hold is not None
    ]
    insert_rows(session, Hold, holds)
    insert_rows(
        session,
        ProcessedEvent,
        [
            {
                "event_id": n.result.receipt.event_id,
                "kind": "weighin",
                "device_id": n.result.receipt.device_id,
                "processed_at": n.result.receipt.processed_at,
            }
            for n in new
        ],
    )
    to_credit = [
        Credit(
            weighin_ids[r["event_id"]],
            r["household_id"],
            r["amount_rp"],
            credit_description(r["net_g"], r["category_code"], r["price_rp_per_kg"], r["event_id"]),
            r["effective_at"],
        )
        for r in (n.row for n in new if n.credits_money)
    ]
    if to_credit:
        accounts = lock_household_accounts(session, (c.household_id for c in to_credit))
        balances = post_credits(session, to_credit, accounts).balances
        # Core, not an ORM bulk UPDATE (no session objects to synchronise, less Python)
        for chunk in chunks(c.weighin_id for c in to_credit):
            session.execute(_LINK_ENTRIES(session), {"keys": chunk})
        # what a credit sets off, in this transaction with the accounts still locked: the
        # household is told (cloud.notifications) with the balances post_credits read
        weighins_credited(session, [credit_facts(n.row) for n in new if n.credits_money], balances)
    # and the kilos credited to a household enter their station's stock (cloud.stock; a
    # Rp 0 credit too: the kilos are there)
    weighins_into_stock(session, (weighed_in(weighin_ids[n.row["event_id"]], n) for n in new))


def weighed_in(weighin_id: int, n: _NewWeighin) -> WeighedIn:
    """What stock needs to know of a weigh-in just written (:mod:`cloud.stock`)."""
    r = n.row
    return WeighedIn(
        weighin_id,
        r["status"],
        r["household_id"],
        r["site_id"],
        r["category_code"],
        r["net_g"],
        r["effective_at"],
        n.device_kind,
    )


# --------------------------------------------------------------------------- crediting


def credit_many(
    session: Session,
    events: Sequence[Weighin],
    times: Sequence[datetime],
    *,
    inspect: Inspect | None = None,
    payees: Mapping[str, Payee] | None = None,
) -> list[WeighinResult]:
    """Credit many weigh-ins inside the caller's transaction (writes, never commits).

    ``times`` are the receive times, one per event. ``payees`` names, by event id, the
    household of weigh-ins that carry no card (a collector's at a door, see
    :class:`Payee`). Duplicates inside ``events`` and events processed before get their
    stored result (``replay``); one whose content differs from the stored record gets it
    with ``conflict`` set (the caller refuses it; nothing is written for it). ``inspect``
    checks the new ones (see the module docs). A concurrent writer of the same event
    surfaces as a unique violation at the insert or at commit (:func:`cloud.db.is_race`):
    roll back and redo. A constant number of statements per batch (see
    :func:`_write_new`).
    """
    stored: dict[str, WeighinResult] = {}
    hashes: dict[str, str | None] = {}
    for chunk in chunks(e.event_id for e in events):
        for event_id, receipt_json, eff, household_id, site_code, digest in session.execute(
            _STORED(session), {"keys": chunk}
        ):
            stored[event_id] = WeighinResult(
                Receipt.model_validate_json(receipt_json),
                receipt_json,
                eff,
                site_code,
                household_id,
                replay=True,
            )
            hashes[event_id] = digest
    _hash_legacy(session, hashes)
    fresh: dict[str, tuple[Weighin, datetime]] = {}
    for ev, t in zip(events, times, strict=True):  # in arrival order: the first one counts
        if ev.event_id not in stored and ev.event_id not in fresh:
            fresh[ev.event_id] = (ev, t.astimezone(UTC))
    todo = list(fresh.values())
    verdicts = (
        list(inspect(session, todo)) if inspect is not None else [unchecked(e, t) for e, t in todo]
    )
    lk = _Lookups(session, [e for e, _ in todo], payees or {})
    new: list[_NewWeighin] = []
    # written in event-id order: one lock order for every batch
    decided = sorted(zip(todo, verdicts, strict=True), key=lambda p: p[0][0].event_id)
    codes = new_verify_codes(len(decided))  # one draw for the batch
    for ((ev, t), checked), code in zip(decided, codes, strict=True):
        one = _decide(lk, ev, t, checked, code)
        stored[ev.event_id] = one.result
        hashes[ev.event_id] = checked.record_hash
        new.append(one)
    _write_new(session, new)
    out = []
    for ev in events:
        result = stored[ev.event_id]
        digest = hashes.get(ev.event_id)
        first = ev.event_id in fresh and fresh[ev.event_id][0] is ev
        if not first and digest != record_hash(ev):
            result = replace(result, conflict=True)  # same event id, other content
        out.append(result)
    return out


def _hash_legacy(session: Session, hashes: dict[str, str | None]) -> None:
    """Fill in the record hash of stored weigh-ins that have none (rows written before
    migration ``0007_integrity``), from their columns, so a replay of one with other
    content is a conflict too (and does not overwrite its telemetry point)."""
    legacy = [event_id for event_id, digest in hashes.items() if digest is None]
    for chunk in chunks(legacy):
        for rec in session.scalars(select(WeighinRecord).where(WeighinRecord.event_id.in_(chunk))):
            hashes[rec.event_id] = record_hash(weighin_of(rec))


def credit_held(session: Session, rec: WeighinRecord, event: Weighin, checked: Checked) -> None:
    """Decide a held weigh-in again as if its checks had passed (``checked`` says when
    it counts) and credit it through the same steps as a new one: its row takes the
    decision (credited, unassigned or rejected; same verification code, a new stored
    receipt), and a credit posts its entry and tells the household (in this transaction,
    as :func:`_write_new` does; a held weigh-in was told nothing). The caller locked the
    row and resolves the hold (:mod:`cloud.holds`). Flushes."""
    # held weigh-ins come from stations; doorstep ones are never held (no payee here)
    lk = _Lookups(session, [event], {})
    decided = _decide(
        lk, event, rec.received_at, replace(checked, hold=None), verify_code=rec.verify_code
    )
    for name in (
        "effective_at",
        "price_id",
        "price_rp_per_kg",
        "amount_rp",
        "status",
        "reason",
        "household_id",
        "receipt_json",
    ):
        setattr(rec, name, decided.row[name])
    session.flush()
    if decided.credits_money:
        assert rec.household_id is not None
        accounts = lock_household_accounts(session, [rec.household_id])
        credit = Credit(
            rec.id,
            rec.household_id,
            rec.amount_rp,
            credit_description(rec.net_g, rec.category_code, rec.price_rp_per_kg, rec.event_id),
            rec.effective_at,
        )
        posted = post_credits(session, [credit], accounts)
        rec.entry_id = posted.entry_ids[rec.id]
        # told now, not when it was held
        weighins_credited(session, [credit_facts(rec)], posted.balances)
    # and its kilos enter stock now (a held weigh-in entered nothing: cloud.stock's rule)
    weighins_into_stock(session, [weighed_in(rec.id, decided)])
    session.flush()


def credit_weighin(session: Session, *, event: Weighin, received_at: datetime) -> Receipt:
    """Credit one weigh-in (or keep it unassigned/rejected) and return its receipt.

    Idempotent: if ``event.event_id`` was processed before, nothing is written and the
    stored receipt is returned. Flushes but does not commit (the caller's transaction).
    """
    return credit_many(session, [event], [received_at])[0].receipt


def credit_batch(
    session: Session,
    events: Sequence[Weighin],
    *,
    received_at: datetime | Sequence[datetime] | None = None,
) -> list[Receipt]:
    """Credit many weigh-ins with one commit; receipts in the order of ``events``.

    A duplicate inside the batch gets the receipt of its first occurrence. If another
    worker committed one of the same events meanwhile (a lost race, on SQLite or
    PostgreSQL), the batch is rolled back and redone one event per transaction
    (:func:`cloud.db.commit_retrying`), each taking the stored receipt when it already
    exists. Commits.
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
        results = commit_retrying(session, partial(credit_many, session, events, times), attempts=1)
        return [r.receipt for r in results]
    except DBAPIError as exc:
        if not is_race(exc):
            raise
        log.info("credit batch of %d raced another worker; redoing one by one", len(events))
    return [
        commit_retrying(session, partial(credit_weighin, session, event=ev, received_at=t))
        for ev, t in zip(events, times, strict=True)
    ]
