"""Stock tables: movements per site and category, sales, depot deliveries, site rules.

Stock is never stored as a level: it is the sum of :class:`StockMovement` rows (signed
grams: positive in, negative out), written by the events that move waste — a station's
weigh-in credited, its reversal, a doorstep delivery at the depot, a transfer, a sale,
a loss, a physical count. Movement rows are append-only (like the ledger's), and the
database checks each kind's sign.

A :class:`Sale` is the offtaker's side of a sale (buyer, weighing, price, rupiah
received) with its journal entry; :class:`DepotDelivery` is a collector's load weighed
in at the depot with the doorstep weigh-ins it carries. :class:`SiteOpeningHours` and
:class:`CategoryStockRule` are data the fraud rules and the mass balance read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow
from cloud.models.ledger import AppendOnlyError

#: movement kinds that bring waste in (positive grams)
IN_KINDS = ("weighin", "doorstep", "transfer_in")
#: movement kinds that take waste out (negative grams)
OUT_KINDS = ("weighin_reversal", "transfer_out", "sale", "loss")
#: a physical count's difference to the derived stock: either sign
COUNT_KIND = "count"
MOVEMENT_KINDS = (*IN_KINDS, *OUT_KINDS, COUNT_KIND)
#: why waste was lost (a loss movement's ``reason``)
LOSS_REASONS = ("drying", "sorting_reject", "spillage", "other")


def _quoted(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{k}'" for k in kinds)


class StockMovement(Base):
    """One signed movement of ``qty_g`` grams of a category at a site."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_categories.code"))
    kind: Mapped[str] = mapped_column(String(20))
    qty_g: Mapped[int] = mapped_column(BigInteger)
    #: when the waste moved (a weigh-in's effective time, a sale's time, ...)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(300))
    weighin_id: Mapped[int | None] = mapped_column(ForeignKey("weighins.id"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("depot_deliveries.id"), index=True)
    #: the other leg of a transfer (the transfer_out row, on the transfer_in row)
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movements.id"), unique=True)

    __table_args__ = (
        # a weigh-in enters stock once and is reversed at most once
        UniqueConstraint("weighin_id", "kind", name="uq_stock_movements_weighin_kind"),
        Index("ix_stock_movements_site_cat_at", "site_id", "category_code", "effective_at"),
        CheckConstraint(f"kind IN ({_quoted(MOVEMENT_KINDS)})", name="kind_known"),
        CheckConstraint(
            f"(kind IN ({_quoted(IN_KINDS)}) AND qty_g > 0)"
            f" OR (kind IN ({_quoted(OUT_KINDS)}) AND qty_g < 0)"
            f" OR (kind = '{COUNT_KIND}' AND qty_g <> 0)",
            name="sign_of_kind",
        ),
    )


class Sale(Base):
    """Waste sold to an offtaker: weighed on a site's scale or at a weighbridge."""

    __tablename__ = "sales"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_categories.code"))
    buyer: Mapped[str] = mapped_column(String(200))
    qty_g: Mapped[int] = mapped_column(BigInteger)
    #: the site's scale that weighed it (a station device id), or ...
    scale_device_id: Mapped[str | None] = mapped_column(String(48))
    #: ... the weighbridge ticket number
    ticket_no: Mapped[str | None] = mapped_column(String(60))
    rp_per_kg: Mapped[int] = mapped_column(BigInteger)
    #: rupiah received (may differ from qty x price: the buyer's deductions)
    amount_rp: Mapped[int] = mapped_column(BigInteger)
    sold_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(300))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)

    __table_args__ = (
        CheckConstraint("qty_g > 0", name="qty_positive"),
        CheckConstraint("rp_per_kg >= 0 AND amount_rp >= 0", name="money_nonneg"),
        CheckConstraint("(scale_device_id IS NULL) <> (ticket_no IS NULL)", name="one_weighing"),
    )


class DepotDelivery(Base):
    """A collector's load weighed in at the depot (its kg are ``doorstep`` movements)."""

    __tablename__ = "depot_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: the collector (a user id of the API's users table; no FK, as on pickups)
    collector_id: Mapped[int] = mapped_column(Integer, index=True)
    #: the collector's idempotency key (its phone's event id): a retry is the same delivery
    event_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(300))


class DepotDeliveryWeighin(Base):
    """A doorstep weigh-in carried by a delivery; each is delivered at most once."""

    __tablename__ = "depot_delivery_weighins"
    weighin_id: Mapped[int] = mapped_column(ForeignKey("weighins.id"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("depot_deliveries.id"), index=True)


class SiteOpeningHours(Base):
    """A site's opening hours on one weekday (0 = Monday), in its local time; a day
    without a row is a closed day. A site without any row has no hours on record."""

    __tablename__ = "site_opening_hours"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    opens_min: Mapped[int] = mapped_column(Integer)
    closes_min: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("site_id", "weekday", name="uq_site_opening_hours_site_day"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint(
            "0 <= opens_min AND opens_min < closes_min AND closes_min <= 1440", name="minutes_range"
        ),
    )


class CategoryStockRule(Base):
    """How much of a category may be lost in stock (organic loses water), in basis
    points of what came in (1500 = 15 %)."""

    __tablename__ = "category_stock_rules"
    category_code: Mapped[str] = mapped_column(
        ForeignKey("waste_categories.code"), primary_key=True
    )
    allowed_loss_bp: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (CheckConstraint("allowed_loss_bp BETWEEN 0 AND 10000", name="bp_range"),)


def _refuse_change(_mapper: object, _connection: object, target: object) -> None:
    raise AppendOnlyError(
        f"{type(target).__name__} rows are append-only: record a new movement instead"
    )


for _cls in (StockMovement, DepotDeliveryWeighin):
    event.listen(_cls, "before_update", _refuse_change)
    event.listen(_cls, "before_delete", _refuse_change)
