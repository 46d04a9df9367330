"""Price changes need two people: one proposes a price version, another approves it.

:func:`propose` records a pending :class:`~cloud.models.admin.PriceChange` (nothing is
priced by it); :func:`approve` by a *different* person turns it into a price version
through :func:`cloud.pricing.set_price` (the one place versions are written), in force
from the proposed time (or from the approval when none was given). A proposal whose
time has passed before anyone approved it cannot be approved (it would re-price what was
weighed meanwhile): reject it and propose again. Every step is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit, pricing
from cloud.errors import LedgerError, NotFound
from cloud.models import WasteCategory, utcnow
from cloud.models.admin import PriceChange


class PriceChangeError(LedgerError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _after(c: PriceChange) -> dict[str, object]:
    return {
        "category": c.category_code,
        "rp_per_kg": c.rp_per_kg,
        "effective_from": c.effective_from,
        "status": c.status,
    }


def create_category(
    session: Session, *, code: str, name_id: str, name_en: str, colour: str | None, by: str
) -> WasteCategory:
    """A new waste category (without a price: prices come through :func:`propose`)."""
    if session.get(WasteCategory, code) is not None:
        raise PriceChangeError(f"category {code!r} exists")
    cat = pricing.ensure_category(session, code=code, name_id=name_id, name_en=name_en)
    cat.colour = colour
    session.flush()
    audit.record(
        session,
        actor=by,
        action="category.create",
        subject=f"category:{code}",
        after={"name_id": name_id, "name_en": name_en, "colour": colour},
    )
    return cat


def propose(
    session: Session,
    *,
    category: str,
    rp_per_kg: int,
    effective_from: datetime | None,
    by: str,
    note: str | None = None,
    max_rp_per_kg: int = pricing.MAX_RP_PER_KG,
) -> PriceChange:
    """A pending price change; the bounds of :func:`cloud.pricing.check_price` hold."""
    if session.get(WasteCategory, category) is None:
        raise NotFound(f"unknown waste category {category!r}")
    pricing.check_price(rp_per_kg, max_rp_per_kg)
    if effective_from is not None:
        if effective_from.tzinfo is None:
            raise PriceChangeError("effective_from needs a time zone", field="effective_from")
        if effective_from < utcnow():
            raise PriceChangeError(
                "a price change takes effect now or later, never earlier", field="effective_from"
            )
    change = PriceChange(
        category_code=category,
        rp_per_kg=rp_per_kg,
        effective_from=effective_from,
        status="pending",
        proposed_by=by,
        note=note,
    )
    session.add(change)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="price.propose",
        subject=f"price-change:{change.id}",
        after=_after(change),
    )
    return change


def _pending(session: Session, change_id: int) -> PriceChange:
    c = session.scalar(select(PriceChange).where(PriceChange.id == change_id).with_for_update())
    if c is None:
        raise NotFound(f"unknown price change {change_id}")
    if c.status != "pending":
        raise PriceChangeError(f"price change {change_id} is {c.status}, not pending")
    return c


def approve(
    session: Session, *, change_id: int, by: str, max_rp_per_kg: int = pricing.MAX_RP_PER_KG
) -> PriceChange:
    """The second person's approval: writes the price version. Never the proposer's own."""
    c = _pending(session, change_id)
    if by == c.proposed_by:
        raise PriceChangeError(
            "a price change needs a second person: the proposer cannot approve it"
        )
    now = utcnow()
    if c.effective_from is not None and c.effective_from < now:
        raise PriceChangeError("its effective time has passed: reject it and propose again")
    price = pricing.set_price(
        session,
        category=c.category_code,
        rp_per_kg=c.rp_per_kg,
        effective_from=c.effective_from or now,
        by=f"{c.proposed_by} + {by}"[:80],
        max_rp_per_kg=max_rp_per_kg,
    )
    c.status, c.decided_by, c.decided_at, c.price_id = "approved", by, now, price.id
    session.flush()
    audit.record(
        session,
        actor=by,
        action="price.approve",
        subject=f"price-change:{c.id}",
        before={"status": "pending"},
        after={**_after(c), "price_id": price.id, "effective_from": price.effective_from},
    )
    return c


def reject(session: Session, *, change_id: int, by: str, reason: str) -> PriceChange:
    """Reject (another person) or withdraw (the proposer) a pending change."""
    c = _pending(session, change_id)
    if not reason.strip():
        raise PriceChangeError("a rejection needs a reason", field="reason")
    c.status = "cancelled" if by == c.proposed_by else "rejected"
    c.decided_by, c.decided_at, c.reason = by, utcnow(), reason[:300]
    session.flush()
    verb = "withdraw" if c.status == "cancelled" else "reject"
    audit.record(
        session,
        actor=by,
        action=f"price.{verb}",
        subject=f"price-change:{c.id}",
        before={"status": "pending"},
        after={**_after(c), "reason": c.reason},
    )
    return c
