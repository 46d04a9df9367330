"""Stock per site and category, moved only by events; never below zero by an operator.

Stock is the sum of :class:`~cloud.models.stock.StockMovement` rows (signed grams), one
per event that moves waste:

* ``weighin`` — a *station's* weigh-in credited to a household enters its site's stock
  in the same transaction as its credit (:func:`weighins_into_stock`, called by
  :mod:`cloud.crediting` and by :func:`cloud.corrections.assign_weighin`), at the
  weigh-in's effective time; ``weighin_reversal`` takes it out again when the credit is
  reversed (:func:`reversal_out_of_stock`). A weigh-in that is only *unassigned* is not in
  stock until assigned (the mass balance shows it as waiting).
* ``doorstep`` — a weigh-in at the door (any device that is not a station) enters stock
  when the collector's load is weighed in at the depot
  (:func:`cloud.deliveries.deliver_to_depot`), at
  the depot's weight: the gap between door and depot is what the mass balance and the
  ``collector_gap`` fraud rule look at.
* ``transfer_out`` / ``transfer_in`` (:func:`transfer`), ``sale``
  (:func:`cloud.sales.record_sale`), ``loss`` with a reason (:func:`record_loss`), and
  ``count`` — a physical count's difference to the derived stock (:func:`record_count`).

THE rule for what an operator takes out (sale, transfer, loss): never more than the
stock holds at that time *and at every later time* (:func:`take_out`, under the site's
row lock, :func:`lock_sites`), so two sales cannot both sell the same kilos. A reversal
may leave stock below zero (the kilos never existed); the mass balance flags it.

Functions flush, never commit.

One module of ~430 lines on purpose: every way stock moves goes through the same
take-out rule and site lock; splitting the movements from the rule would invite a
second path that skips it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.bulk import insert_rows
from cloud.errors import LedgerError, NotFound
from cloud.models import Device, Site, WasteCategory, WeighinRecord, utcnow
from cloud.models.stock import (
    LOSS_REASONS,
    StockMovement,
)
from contract import ReceiptStatus

#: device kinds whose credited weigh-ins enter stock at once (the waste is on site);
#: any other kind (a collector's phone at the door) enters stock at the depot
STATION_KINDS = ("station",)
#: the largest quantity one movement may carry (a sanity bound: 1,000 t)
MAX_QTY_G = 1_000_000_000
#: how far ahead of the server's clock an operator's time may be (clock skew)
FUTURE_SKEW = timedelta(minutes=5)

CREDITED = ReceiptStatus.CREDITED.value


class InsufficientStock(LedgerError):
    """Taking out more than the stock holds (now or at a later time)."""

    def __init__(self, *, site: str, category: str, requested_g: int, available_g: int) -> None:
        super().__init__(
            f"refused: {kg_text(requested_g)} of {category} requested at site {site}, "
            f"but only {kg_text(max(available_g, 0))} is in stock"
        )
        self.requested_g = requested_g
        self.available_g = available_g


def kg_text(grams: int) -> str:
    """``12500`` -> ``"12.5 kg"`` (for messages; screens format their own)."""
    return f"{grams / 1000:g} kg"


# --------------------------------------------------------------------------- checks


def check_qty(qty_g: int, name: str = "qty_g") -> None:
    if isinstance(qty_g, bool) or not isinstance(qty_g, int) or not 0 < qty_g <= MAX_QTY_G:
        raise LedgerError(f"{name} must be whole grams, 1..{MAX_QTY_G}")


def when(at: datetime | None) -> datetime:
    """An operator's time: aware, not in the future; None is now."""
    now = utcnow()
    if at is None:
        return now
    if at.tzinfo is None:
        raise LedgerError("naive datetime: a time must carry a time zone")
    if at > now + FUTURE_SKEW:
        raise LedgerError("a movement cannot be in the future")
    return at


def require_category(session: Session, code: str) -> WasteCategory:
    cat = session.get(WasteCategory, code)
    if cat is None:
        raise NotFound(f"unknown waste category {code!r}")
    return cat


def lock_sites(session: Session, site_ids: Iterable[int]) -> dict[int, Site]:
    """Lock the sites' rows (in id order) for the rest of the transaction.

    Every operator movement out takes its site's lock first, so the stock it checks
    cannot be taken by another sale before this transaction commits (on SQLite, the
    write engine's ``BEGIN IMMEDIATE`` serialises whole transactions anyway).
    """
    wanted = sorted(set(site_ids))
    rows = session.scalars(
        select(Site).where(Site.id.in_(wanted)).order_by(Site.id).with_for_update()
    )
    found = {s.id: s for s in rows}
    missing = set(wanted) - found.keys()
    if missing:
        raise NotFound(f"unknown site {min(missing)}")
    return found


# --------------------------------------------------------------------------- levels


def level(session: Session, *, site_id: int, category: str, at: datetime | None = None) -> int:
    """Grams of ``category`` in stock at the site (at ``at``, default: everything)."""
    M = StockMovement
    q = select(func.coalesce(func.sum(M.qty_g), 0)).where(
        M.site_id == site_id, M.category_code == category
    )
    if at is not None:
        q = q.where(M.effective_at <= at)
    return int(session.scalar(q) or 0)


def available_from(session: Session, *, site_id: int, category: str, at: datetime) -> int:
    """The least the stock holds at any time from ``at`` on: what may be taken out at ``at``.

    For a movement at the present this is the level now; a back-dated one must also
    leave every later balance (later sales included) at or above zero.
    """
    M = StockMovement
    low = running = level(session, site_id=site_id, category=category, at=at)
    for (qty,) in session.execute(
        select(M.qty_g)
        .where(M.site_id == site_id, M.category_code == category, M.effective_at > at)
        .order_by(M.effective_at, M.id)
    ):
        running += qty
        low = min(low, running)
    return low


@dataclass(frozen=True, slots=True)
class Level:
    site_id: int
    site_code: str
    category: str
    qty_g: int


def levels(
    session: Session, *, site_id: int | None = None, at: datetime | None = None
) -> list[Level]:
    """Stock per site and category (categories that ever moved), one grouped query."""
    M = StockMovement
    q = (
        select(M.site_id, Site.code, M.category_code, func.sum(M.qty_g))
        .join(Site, Site.id == M.site_id)
        .group_by(M.site_id, Site.code, M.category_code)
        .order_by(Site.code, M.category_code)
    )
    if site_id is not None:
        q = q.where(M.site_id == site_id)
    if at is not None:
        q = q.where(M.effective_at <= at)
    return [Level(s, code, c, int(g or 0)) for s, code, c, g in session.execute(q)]


def unassigned_waiting(
    session: Session, *, site_id: int | None = None
) -> dict[tuple[int, str], int]:
    """Grams of unassigned weigh-ins per (site, category): on site, not yet in stock."""
    W = WeighinRecord
    q = (
        select(W.site_id, W.category_code, func.sum(W.net_g))
        .where(W.status == ReceiptStatus.UNASSIGNED.value, W.site_id.is_not(None))
        .group_by(W.site_id, W.category_code)
    )
    if site_id is not None:
        q = q.where(W.site_id == site_id)
    return {(int(s or 0), c): int(g or 0) for s, c, g in session.execute(q)}


# --------------------------------------------------------------------------- weigh-ins


@dataclass(frozen=True, slots=True)
class WeighedIn:
    """A weigh-in as stock sees it: its ``weighins`` row's figures and its device's kind."""

    weighin_id: int
    status: str
    household_id: int | None
    site_id: int | None
    category: str
    net_g: int
    effective_at: datetime
    device_kind: str | None

    @property
    def enters_stock(self) -> bool:
        """THE rule: credited to a household, at a site, on a :data:`STATION_KINDS` scale.

        Anything else stays out: an unassigned weigh-in until it is assigned, a doorstep
        weigh-in until its load is delivered to the depot (:mod:`cloud.deliveries`).
        """
        return (
            self.status == CREDITED
            and self.household_id is not None
            and self.site_id is not None
            and self.net_g > 0
            and self.device_kind in STATION_KINDS
        )


def weighins_into_stock(session: Session, weighins: Iterable[WeighedIn]) -> None:
    """Credited weigh-ins of stations enter their site's stock (the crediting hook).

    In the caller's transaction, with one INSERT for the whole batch
    (:func:`cloud.bulk.insert_rows`; none if nothing enters): :mod:`cloud.crediting`
    passes what it has just decided, so stock costs the ingest one statement per batch.
    The unique ``(weighin_id, kind)`` makes a second entry impossible.
    """
    now = utcnow()
    rows = [
        {
            "site_id": w.site_id,
            "category_code": w.category,
            "kind": "weighin",
            "qty_g": w.net_g,
            "effective_at": w.effective_at,
            "created_at": now,
            "weighin_id": w.weighin_id,
        }
        for w in weighins
        if w.enters_stock
    ]
    insert_rows(session, StockMovement, rows)


def weighin_into_stock(session: Session, rec: WeighinRecord) -> None:
    """One weigh-in just credited by an operator (:func:`cloud.corrections.assign_weighin`)."""
    kind = session.scalar(select(Device.kind).where(Device.device_id == rec.device_id))
    weighins_into_stock(
        session,
        [
            WeighedIn(
                rec.id,
                rec.status,
                rec.household_id,
                rec.site_id,
                rec.category_code,
                rec.net_g,
                rec.effective_at,
                kind,
            )
        ],
    )


def reversal_out_of_stock(
    session: Session, *, weighin_id: int, at: datetime, by: str
) -> StockMovement | None:
    """Take a reversed weigh-in's kilos out of stock again (None if it never entered)."""
    M = StockMovement
    entered = session.scalar(select(M).where(M.weighin_id == weighin_id, M.kind == "weighin"))
    if entered is None:
        return None  # unassigned, or at the door: its stock moved (or moves) at the depot
    mv = M(
        site_id=entered.site_id,
        category_code=entered.category_code,
        kind="weighin_reversal",
        qty_g=-entered.qty_g,
        effective_at=at,
        created_by=by,
        weighin_id=weighin_id,
        note="credit reversed",
    )
    session.add(mv)
    session.flush()
    return mv


# --------------------------------------------------------------------------- operator moves


def take_out(
    session: Session,
    *,
    site: Site,
    category: str,
    qty_g: int,
    at: datetime,
    kind: str,
    by: str,
    reason: str | None = None,
    note: str | None = None,
    sale_id: int | None = None,
) -> StockMovement:
    """THE rule for an operator's movement out: never more than :func:`available_from`.

    The caller holds the site's lock (:func:`lock_sites`).
    """
    check_qty(qty_g)
    available = available_from(session, site_id=site.id, category=category, at=at)
    if qty_g > available:
        raise InsufficientStock(
            site=site.code, category=category, requested_g=qty_g, available_g=available
        )
    mv = StockMovement(
        site_id=site.id,
        category_code=category,
        kind=kind,
        qty_g=-qty_g,
        effective_at=at,
        created_by=by,
        reason=reason,
        note=note[:300] if note else None,
        sale_id=sale_id,
    )
    session.add(mv)
    session.flush()
    return mv


def record_loss(
    session: Session,
    *,
    site_id: int,
    category: str,
    qty_g: int,
    reason: str,
    by: str,
    at: datetime | None = None,
    note: str | None = None,
) -> StockMovement:
    """Waste lost from stock (drying, sorting rejects, ...), with its reason."""
    if reason not in LOSS_REASONS:
        raise LedgerError(f"reason must be one of {', '.join(LOSS_REASONS)}")
    t = when(at)
    require_category(session, category)
    site = lock_sites(session, [site_id])[site_id]
    return take_out(
        session,
        site=site,
        category=category,
        qty_g=qty_g,
        at=t,
        kind="loss",
        by=by,
        reason=reason,
        note=note,
    )


def transfer(
    session: Session,
    *,
    from_site_id: int,
    to_site_id: int,
    category: str,
    qty_g: int,
    by: str,
    at: datetime | None = None,
    note: str | None = None,
) -> tuple[StockMovement, StockMovement]:
    """Move waste between two sites: an out movement and its paired in movement."""
    if from_site_id == to_site_id:
        raise LedgerError("a transfer needs two different sites")
    t = when(at)
    require_category(session, category)
    sites = lock_sites(session, [from_site_id, to_site_id])
    out = take_out(
        session,
        site=sites[from_site_id],
        category=category,
        qty_g=qty_g,
        at=t,
        kind="transfer_out",
        by=by,
        note=note,
    )
    into = StockMovement(
        site_id=to_site_id,
        category_code=category,
        kind="transfer_in",
        qty_g=qty_g,
        effective_at=t,
        created_by=by,
        note=note[:300] if note else None,
        pair_id=out.id,
    )
    session.add(into)
    session.flush()
    return out, into


def record_count(
    session: Session,
    *,
    site_id: int,
    category: str,
    counted_g: int,
    by: str,
    at: datetime | None = None,
    note: str | None = None,
) -> StockMovement | None:
    """A physical count: its difference to the derived stock becomes a ``count`` movement.

    A shortfall (negative) is a loss the mass balance weighs against the category's
    allowance; a surplus is recorded too. None when the count matches.
    """
    if isinstance(counted_g, bool) or not isinstance(counted_g, int) or counted_g < 0:
        raise LedgerError("counted_g must be whole grams, >= 0")
    t = when(at)
    require_category(session, category)
    lock_sites(session, [site_id])
    diff = counted_g - level(session, site_id=site_id, category=category, at=t)
    if diff == 0:
        return None
    mv = StockMovement(
        site_id=site_id,
        category_code=category,
        kind="count",
        qty_g=diff,
        effective_at=t,
        created_by=by,
        note=(note or f"counted {kg_text(counted_g)}")[:300],
    )
    session.add(mv)
    session.flush()
    return mv
