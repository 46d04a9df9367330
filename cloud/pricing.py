"""Waste categories, their versioned prices, and the rounding of a weigh-in's amount.

Prices are rupiah per kg per category, never updated: :func:`set_price` adds a version
with an effective time, and the version in force at ``t`` is the one with the latest
``effective_from <= t`` (the newest row breaks a tie) — :func:`in_force`, the one
place that rule is written. A credit stores the price version it used.

Rounding: ``amount_rp = (net_g * rp_per_kg + 500) // 1000`` — half up, integer math
only, once per weigh-in (:func:`amount_for`).

Bounds (:func:`set_price`): a price lies in ``0 .. max_rp_per_kg`` (by default
:data:`MAX_RP_PER_KG`; the API passes its setting), and a version may not take effect
before the latest weigh-in already priced in its category: a back-dated version would
be "in force" for a weigh-in that was priced by another, and a replay or a report
would then disagree with the credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.bulk import Prepared
from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.models import Price, WasteCategory, WeighinRecord, utcnow

#: the highest price per kg accepted by default (Rp 1 million: ten times copper's)
MAX_RP_PER_KG = 1_000_000


class PriceRefused(LedgerError):
    """A price version outside the bounds (a field error: answered 422)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def amount_for(net_g: int, rp_per_kg: int) -> int:
    """Rupiah for ``net_g`` grams at ``rp_per_kg``: half up, integer math only.

    >>> amount_for(1250, 3000), amount_for(1, 500), amount_for(1, 499)
    (3750, 1, 0)
    """
    if net_g < 0 or rp_per_kg < 0:
        raise ValueError("net_g and rp_per_kg must be >= 0")
    return (net_g * rp_per_kg + 500) // 1000


def ensure_category(session: Session, *, code: str, name_id: str, name_en: str) -> WasteCategory:
    """The category ``code``, created (active) if it does not exist. Flushes."""
    cat = session.get(WasteCategory, code)
    if cat is None:
        cat = WasteCategory(code=code, name_id=name_id, name_en=name_en, active=True)
        session.add(cat)
        session.flush()
    return cat


def check_price(rp_per_kg: int, max_rp_per_kg: int = MAX_RP_PER_KG) -> None:
    """A price per kg is an integer in ``0 .. max_rp_per_kg`` (:class:`PriceRefused`)."""
    if isinstance(rp_per_kg, bool) or not isinstance(rp_per_kg, int):
        raise PriceRefused("rp_per_kg must be an integer number of rupiah", "rp_per_kg")
    if not 0 <= rp_per_kg <= max_rp_per_kg:
        raise PriceRefused(f"rp_per_kg must lie in 0..{max_rp_per_kg}", "rp_per_kg")


def set_price(
    session: Session,
    *,
    category: str,
    rp_per_kg: int,
    effective_from: datetime | None = None,
    by: str | None = None,
    max_rp_per_kg: int = MAX_RP_PER_KG,
) -> Price:
    """Add a price version (prices are never updated; a new row supersedes).

    Refused (:class:`PriceRefused`) above ``max_rp_per_kg`` or back-dated before the
    latest weigh-in priced in ``category``.
    """
    check_price(rp_per_kg, max_rp_per_kg)
    if session.get(WasteCategory, category) is None:
        raise NotFound(f"unknown waste category {category!r}")
    if effective_from is not None and effective_from.tzinfo is None:
        raise LedgerError("naive datetime: effective_from must carry a time zone")
    effective = (effective_from or utcnow()).astimezone(UTC)
    if effective_from is not None:
        # over every site's weigh-ins (a Core read: prices are programme-wide)
        latest = session.connection().scalar(
            select(func.max(WeighinRecord.effective_at)).where(
                WeighinRecord.category_code == category,
                WeighinRecord.price_rp_per_kg.is_not(None),
            )
        )
        if latest is not None and effective < latest:
            raise PriceRefused(
                f"effective_from {effective.isoformat()} is before the latest weigh-in "
                f"already priced in {category!r} ({latest.isoformat()}): a price "
                "cannot be back-dated over a priced weigh-in",
                "effective_from",
            )
    price = Price(
        category_code=category,
        rp_per_kg=rp_per_kg,
        effective_from=effective,
        created_by=by,
    )
    session.add(price)
    session.flush()
    return price


_CATEGORIES_AND_PRICES = Prepared(
    lambda keys: (
        select(WasteCategory.code, Price)
        .outerjoin(Price, Price.category_code == WasteCategory.code)
        .where(keys(WasteCategory.code))
        .order_by(Price.effective_from, Price.id)
    )
)


def price_versions(session: Session, categories: Iterable[str]) -> dict[str, list[Price]]:
    """Every price version of the given categories, oldest first; one query per chunk."""
    return categories_and_prices(session, categories)[1]


def categories_and_prices(
    session: Session, categories: Iterable[str]
) -> tuple[set[str], dict[str, list[Price]]]:
    """Which of ``categories`` are known waste categories, and every price version of
    each (:func:`price_versions`): one query per chunk, the categories with their prices
    outer-joined (a batch of weigh-ins reads both with one statement, not two)."""
    known: set[str] = set()
    found: dict[str, list[Price]] = {}
    for chunk in chunks(categories):
        for code, price in session.execute(_CATEGORIES_AND_PRICES(session), {"keys": chunk}):
            known.add(code)
            if price is not None:
                found.setdefault(code, []).append(price)
    return known, found


def in_force(versions: Sequence[Price], at: datetime) -> Price | None:
    """The version in force at ``at`` among ``versions`` (oldest first, as loaded)."""
    found = None
    for p in versions:  # a handful of versions per category: a scan
        if p.effective_from <= at:
            found = p
    return found


def price_at(session: Session, *, category: str, at: datetime) -> Price | None:
    """The price version in force for ``category`` at ``at``."""
    return in_force(price_versions(session, [category]).get(category, []), at)
