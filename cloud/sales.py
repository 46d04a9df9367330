"""Sales to offtakers, and the programme's margin per category per month.

A sale takes its kilos out of the site's stock (:func:`cloud.stock.take_out`: never
below zero) and posts the rupiah received in the same double-entry ledger as the
households' credits (:func:`cloud.postings.post_entry`): debit the programme's cash,
credit its sales revenue. The purchases account carries what households were credited
(per weigh-in, so per category), the sales account what offtakers paid (per sale), so
the programme's margin per category per month is a query (:func:`margins`).

Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError
from cloud.models import Device, JournalEntry, Posting, WeighinRecord
from cloud.models.stock import Sale
from cloud.postings import (
    CASH_ACCOUNT,
    PURCHASES_ACCOUNT,
    SALES_ACCOUNT,
    post_entry,
    programme_account,
)
from cloud.stock import MAX_QTY_G, lock_sites, require_category, take_out, when

#: the largest amount one sale may carry (a sanity bound: Rp 10 billion)
MAX_SALE_RP = 10_000_000_000


class SaleError(LedgerError):
    """A sale's input is refused; ``field`` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def record_sale(
    session: Session,
    *,
    site_id: int,
    category: str,
    buyer: str,
    qty_g: int,
    rp_per_kg: int,
    amount_rp: int,
    by: str,
    scale_device_id: str | None = None,
    ticket_no: str | None = None,
    sold_at: datetime | None = None,
    note: str | None = None,
) -> Sale:
    """Sell ``qty_g`` of ``category`` from a site's stock for ``amount_rp`` received.

    Weighed either on one of the site's stations (``scale_device_id``) or at a
    weighbridge (``ticket_no``), exactly one. Refused (:class:`~cloud.stock.
    InsufficientStock`) beyond what the stock holds.
    """
    buyer = buyer.strip()
    if not buyer:
        raise SaleError("a sale needs the buyer's name", field="buyer")
    if (scale_device_id is None) == (ticket_no is None or not ticket_no.strip()):
        raise SaleError(
            "give either the site's scale or a weighbridge ticket number", field="ticket_no"
        )
    for name, value, top in (
        ("rp_per_kg", rp_per_kg, MAX_SALE_RP),
        ("amount_rp", amount_rp, MAX_SALE_RP),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise SaleError(f"{name} must be whole rupiah, 0..{top}", field=name)
    if not 0 < qty_g <= MAX_QTY_G:
        raise SaleError(f"qty_g must be 1..{MAX_QTY_G} grams", field="qty_g")
    t = when(sold_at)
    require_category(session, category)
    site = lock_sites(session, [site_id])[site_id]
    if scale_device_id is not None:
        dev = session.get(Device, scale_device_id)
        if dev is None or dev.kind != "station" or dev.site_id != site_id:
            raise SaleError(
                f"{scale_device_id!r} is not a scale of site {site.code}", field="scale_device_id"
            )
    sale = Sale(
        site_id=site_id,
        category_code=category,
        buyer=buyer[:200],
        qty_g=qty_g,
        scale_device_id=scale_device_id,
        ticket_no=ticket_no.strip()[:60] if ticket_no else None,
        rp_per_kg=rp_per_kg,
        amount_rp=amount_rp,
        sold_at=t,
        created_by=by,
        note=note[:300] if note else None,
    )
    session.add(sale)
    session.flush()
    take_out(
        session,
        site=site,
        category=category,
        qty_g=qty_g,
        at=t,
        kind="sale",
        by=by,
        sale_id=sale.id,
        note=f"sold to {buyer}",
    )
    if amount_rp > 0:
        cash = programme_account(session, CASH_ACCOUNT).id
        revenue = programme_account(session, SALES_ACCOUNT).id
        entry = post_entry(
            session,
            kind="sale",
            effective_at=t,
            by=by,
            description=f"sale #{sale.id}: {qty_g} g {category} to {buyer}",
            postings=[(cash, amount_rp), (revenue, -amount_rp)],
        )
        sale.entry_id = entry.id
        session.flush()
    return sale


# --------------------------------------------------------------------------- margin


@dataclass(frozen=True, slots=True)
class Margin:
    """One category in one month: kilos and rupiah in (credits) and out (sales)."""

    month: date
    category: str
    #: grams bought from households (credits net of reversals) and their rupiah
    bought_g: int
    purchases_rp: int
    #: grams sold and rupiah received
    sold_g: int
    revenue_rp: int

    @property
    def margin_rp(self) -> int:
        return self.revenue_rp - self.purchases_rp


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which local ``month`` (any day in it) starts and ends."""
    first = month.replace(day=1)
    nxt = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return (
        datetime.combine(first, datetime.min.time(), tz),
        datetime.combine(nxt, datetime.min.time(), tz),
    )


def margins(
    session: Session, *, months: Sequence[date], tz: ZoneInfo, site_id: int | None = None
) -> list[Margin]:
    """Margin per category for each local month in ``months`` (optionally of one site).

    Straight from the ledger: the purchases account's postings per weigh-in category
    (credits and their reversals, by entry time) against the sales account's per sale.
    """
    purchases = programme_account(session, PURCHASES_ACCOUNT).id
    revenue = programme_account(session, SALES_ACCOUNT).id
    E, P, W = JournalEntry, Posting, WeighinRecord
    out: list[Margin] = []
    for m in months:
        start, end = month_bounds(m, tz)
        bought = (
            select(
                W.category_code,
                func.sum(P.amount_rp),
                func.sum(case((P.amount_rp < 0, -W.net_g), else_=W.net_g)),
            )
            .join(E, E.id == P.entry_id)
            .join(W, W.id == E.weighin_id)
            .where(P.account_id == purchases, E.effective_at >= start, E.effective_at < end)
            .group_by(W.category_code)
        )
        sold = (
            select(Sale.category_code, func.sum(-P.amount_rp), func.sum(Sale.qty_g))
            .join(E, E.id == P.entry_id)
            .join(Sale, Sale.entry_id == E.id)
            .where(P.account_id == revenue, E.effective_at >= start, E.effective_at < end)
            .group_by(Sale.category_code)
        )
        free = (  # sales for Rp 0 have no entry: their kilos still count
            select(Sale.category_code, func.sum(Sale.qty_g))
            .where(Sale.entry_id.is_(None), Sale.sold_at >= start, Sale.sold_at < end)
            .group_by(Sale.category_code)
        )
        if site_id is not None:
            bought = bought.where(W.site_id == site_id)
            sold = sold.where(Sale.site_id == site_id)
            free = free.where(Sale.site_id == site_id)
        rows: dict[str, list[int]] = {}
        for cat, rp, g in session.execute(bought):
            rows.setdefault(cat, [0, 0, 0, 0])[0:2] = [int(g or 0), int(rp or 0)]
        for cat, rp, g in session.execute(sold):
            rows.setdefault(cat, [0, 0, 0, 0])[2:4] = [int(g or 0), int(rp or 0)]
        for cat, g in session.execute(free):
            rows.setdefault(cat, [0, 0, 0, 0])[2] += int(g or 0)
        out.extend(Margin(m.replace(day=1), cat, *v) for cat, v in sorted(rows.items()))
    return out
