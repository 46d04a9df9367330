"""Mass balance: kilos credited to households vs kilos in stock movements vs kilos sold.

Per site, per category, per period ``[start, end)``::

    closing = opening + weighin + reversal + doorstep + transfer_in
                      - transfer_out - sold - lost + counted

holds by construction (stock is the sum of movements); what the balance *checks* is
what the movements do not prove by themselves:

* ``loss_over_allowance`` — what was lost (losses plus count shortfalls) exceeds the
  category's allowance (:class:`~cloud.models.stock.CategoryStockRule`, e.g. organic
  loses water) on what the site held (opening stock and arrivals), plus
  :data:`TOLERANCE_G`: kilos credited that never existed, or walked off.
* ``doorstep_gap`` — the doorstep weigh-ins a depot delivery carried weighed more at the
  door than at the depot, beyond the same allowance.
* ``credit_not_in_stock`` — a station's kilos credited to households in the period
  differ from the station kilos that entered stock (should be exactly equal).
* ``negative_stock`` — the closing stock is below zero (a reversal of sold kilos).

Figures are grams; allowances basis points of the kilos held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError
from cloud.models import Device, JournalEntry, Site, WeighinRecord, utcnow
from cloud.models.stock import (
    CategoryStockRule,
    DepotDelivery,
    DepotDeliveryWeighin,
    StockMovement,
)
from cloud.stock import STATION_KINDS, require_category

#: allowance of a category without a rule (basis points of what came in: 2 %)
DEFAULT_ALLOWED_LOSS_BP = 200
#: absolute slack on every check (scale rounding, a spilled bag): 2 kg
TOLERANCE_G = 2_000

FLAGS = ("loss_over_allowance", "doorstep_gap", "credit_not_in_stock", "negative_stock")


@dataclass(slots=True)
class Balance:
    """One site and category over one period; grams."""

    site_id: int
    site_code: str
    category: str
    start: datetime
    end: datetime
    opening_g: int = 0
    weighin_g: int = 0
    reversal_g: int = 0  # negative
    doorstep_g: int = 0
    transfer_in_g: int = 0
    transfer_out_g: int = 0  # negative
    sold_g: int = 0  # negative
    lost_g: int = 0  # negative (loss movements)
    counted_g: int = 0  # count differences, either sign
    #: household credits of the period at this site: stations, and at the door
    credited_station_g: int = 0
    credited_doorstep_g: int = 0
    #: what the deliveries of the period weighed at the door (their weigh-ins)
    door_g: int = 0
    #: unassigned weigh-ins of the period: on site, not yet in stock
    unassigned_g: int = 0
    allowed_loss_bp: int = DEFAULT_ALLOWED_LOSS_BP
    flags: list[str] = field(default_factory=list)

    @property
    def closing_g(self) -> int:
        return (
            self.opening_g
            + self.weighin_g
            + self.reversal_g
            + self.doorstep_g
            + self.transfer_in_g
            + self.transfer_out_g
            + self.sold_g
            + self.lost_g
            + self.counted_g
        )

    @property
    def came_in_g(self) -> int:
        return self.weighin_g + self.reversal_g + self.doorstep_g + self.transfer_in_g

    @property
    def loss_total_g(self) -> int:
        """Kilos gone without a sale: losses and count shortfalls (positive)."""
        return -(self.lost_g + self.counted_g)

    @property
    def allowed_loss_g(self) -> int:
        """The allowance on what the site held in the period (opening stock and arrivals)."""
        return max(self.opening_g + self.came_in_g, 0) * self.allowed_loss_bp // 10_000

    @property
    def doorstep_gap_g(self) -> int:
        return self.door_g - self.doorstep_g

    @property
    def credited_g(self) -> int:
        return self.credited_station_g + self.credited_doorstep_g

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k != "flags"}
        for k in (
            "closing_g",
            "came_in_g",
            "loss_total_g",
            "allowed_loss_g",
            "doorstep_gap_g",
            "credited_g",
        ):
            d[k] = getattr(self, k)
        d["flags"] = list(self.flags)
        return d


# --------------------------------------------------------------------------- rules


def allowed_losses(session: Session) -> dict[str, int]:
    """Allowed loss per category in basis points (categories with a rule)."""
    return dict(
        session.execute(
            select(CategoryStockRule.category_code, CategoryStockRule.allowed_loss_bp)
        ).all()
    )


def set_allowed_loss(session: Session, *, category: str, bp: int, by: str) -> CategoryStockRule:
    """Set a category's allowed loss (basis points, 0..10000). Flushes."""
    if isinstance(bp, bool) or not isinstance(bp, int) or not 0 <= bp <= 10_000:
        raise LedgerError("allowed loss must be 0..10000 basis points")
    require_category(session, category)
    rule = session.get(CategoryStockRule, category)
    if rule is None:
        rule = CategoryStockRule(category_code=category, allowed_loss_bp=bp, updated_by=by)
        session.add(rule)
    else:
        rule.allowed_loss_bp, rule.updated_by, rule.updated_at = bp, by, utcnow()
    session.flush()
    return rule


# --------------------------------------------------------------------------- balance


_KIND_FIELD = {
    "weighin": "weighin_g",
    "weighin_reversal": "reversal_g",
    "doorstep": "doorstep_g",
    "transfer_in": "transfer_in_g",
    "transfer_out": "transfer_out_g",
    "sale": "sold_g",
    "loss": "lost_g",
    "count": "counted_g",
}


def _at(column: Any, site_id: int | None) -> list[ColumnElement[bool]]:
    """The where-clause confining ``column`` to one site (none for every site)."""
    return [] if site_id is None else [column == site_id]


def mass_balance(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    site_id: int | None = None,
    tolerance_g: int = TOLERANCE_G,
) -> list[Balance]:
    """The balance of every (site, category) that moved or was credited; flags set.

    A fixed number of grouped queries, whatever the period's size.
    """
    if not start < end:
        raise LedgerError("the period must end after it starts")
    M, W, E, D = StockMovement, WeighinRecord, JournalEntry, DepotDelivery
    rows: dict[tuple[int, str], Balance] = {}
    codes: dict[int, str] = dict(session.execute(select(Site.id, Site.code)).all())

    def row(site: int, cat: str) -> Balance:
        if (site, cat) not in rows:
            rows[site, cat] = Balance(site, codes.get(site, str(site)), cat, start, end)
        return rows[site, cat]

    for s, c, g in session.execute(
        select(M.site_id, M.category_code, func.sum(M.qty_g))
        .where(M.effective_at < start, *_at(M.site_id, site_id))
        .group_by(M.site_id, M.category_code)
    ):
        row(s, c).opening_g = int(g or 0)
    for s, c, kind, g in session.execute(
        select(M.site_id, M.category_code, M.kind, func.sum(M.qty_g))
        .where(M.effective_at >= start, M.effective_at < end, *_at(M.site_id, site_id))
        .group_by(M.site_id, M.category_code, M.kind)
    ):
        setattr(row(s, c), _KIND_FIELD[kind], int(g or 0))

    # household credits at the site: credited in the period, minus reversals in it
    station = Device.kind.in_(STATION_KINDS)
    in_period = and_(W.effective_at >= start, W.effective_at < end)
    at_site = (W.site_id.is_not(None), *_at(W.site_id, site_id))
    credited = (
        select(W.site_id, W.category_code, station, func.sum(W.net_g))
        .join(Device, Device.device_id == W.device_id)
        .where(W.status == "credited", W.household_id.is_not(None), in_period, *at_site)
        .group_by(W.site_id, W.category_code, station)
    )
    reversed_ = (
        select(W.site_id, W.category_code, station, func.sum(W.net_g))
        .join(Device, Device.device_id == W.device_id)
        .join(E, E.id == W.reversal_entry_id)
        .where(E.effective_at >= start, E.effective_at < end, *at_site)
        .group_by(W.site_id, W.category_code, station)
    )
    for sign, q in ((1, credited), (-1, reversed_)):
        for site, c, at_station, g in session.execute(q):
            b = row(int(site or 0), c)
            if at_station:
                b.credited_station_g += sign * int(g or 0)
            else:
                b.credited_doorstep_g += sign * int(g or 0)
    for s, c, g in session.execute(
        select(D.site_id, W.category_code, func.sum(W.net_g))
        .join(DepotDeliveryWeighin, DepotDeliveryWeighin.delivery_id == D.id)
        .join(W, W.id == DepotDeliveryWeighin.weighin_id)
        .where(D.delivered_at >= start, D.delivered_at < end, *_at(D.site_id, site_id))
        .group_by(D.site_id, W.category_code)
    ):
        row(s, c).door_g = int(g or 0)
    for site, c, g in session.execute(
        select(W.site_id, W.category_code, func.sum(W.net_g))
        .where(W.status == "unassigned", in_period, *at_site)
        .group_by(W.site_id, W.category_code)
    ):
        row(int(site or 0), c).unassigned_g = int(g or 0)

    allowed = allowed_losses(session)
    for b in rows.values():
        b.allowed_loss_bp = allowed.get(b.category, DEFAULT_ALLOWED_LOSS_BP)
        b.flags = check(b, tolerance_g)
    return [rows[k] for k in sorted(rows, key=lambda k: (rows[k].site_code, k[1]))]


def check(b: Balance, tolerance_g: int = TOLERANCE_G) -> list[str]:
    """The flags of one balance (see the module's docstring)."""
    flags = []
    if b.loss_total_g > b.allowed_loss_g + tolerance_g:
        flags.append("loss_over_allowance")
    if b.doorstep_gap_g > b.door_g * b.allowed_loss_bp // 10_000 + tolerance_g:
        flags.append("doorstep_gap")
    if abs(b.credited_station_g - (b.weighin_g + b.reversal_g)) > tolerance_g:
        flags.append("credit_not_in_stock")
    if b.closing_g < 0:
        flags.append("negative_stock")
    return flags


def totals_by_category(balances: list[Balance]) -> dict[str, dict[str, int]]:
    """The balances summed over sites, per category (for programme reports)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in balances:
        for k, v in b.as_dict().items():
            if k.endswith("_g"):
                out[b.category][k] += v
    return {c: dict(v) for c, v in sorted(out.items())}
