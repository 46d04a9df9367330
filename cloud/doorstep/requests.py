"""A household asks for a pickup at its door (JEKNYONG); see :mod:`cloud.doorstep`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import pickups
from cloud.doorstep.rules import MAX_AHEAD, MIN_WINDOW, DoorstepError, DoorstepSettings
from cloud.errors import LedgerError, NotFound
from cloud.models import OPEN_PICKUP_STATES, Household, Pickup, WasteCategory, utcnow


def request_pickup(
    session: Session,
    *,
    household_id: int,
    categories: list[str],
    settings: DoorstepSettings,
    window: tuple[datetime, datetime] | None = None,
    estimated_g: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    address: str | None = None,
    note: str | None = None,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> Pickup:
    """Open a household's request for a pickup at its door. Flushes.

    A pin (``lat``/``lon``) or an address becomes the household's too (where its door
    is); without either, the household's own is used, and one of them is needed.
    """
    now = now or utcnow()
    hh = session.get(Household, household_id)
    if hh is None or not hh.active:
        raise NotFound(f"unknown or inactive household {household_id}")
    cats = list(dict.fromkeys(categories))
    if not cats:
        raise DoorstepError("name at least one category you have", "categories")
    known = set(
        session.scalars(
            select(WasteCategory.code).where(
                WasteCategory.code.in_(cats), WasteCategory.active.is_(True)
            )
        )
    )
    if unknown := [c for c in cats if c not in known]:
        raise DoorstepError(f"unknown waste category {unknown[0]!r}", "categories")
    estimate = (
        estimated_g if estimated_g is not None else len(cats) * settings.estimate_g_per_category
    )
    if estimate < settings.min_pickup_g:
        raise DoorstepError(
            f"a pickup at the door is for at least {settings.min_pickup_g / 1000:g} kg "
            f"(this request: {estimate / 1000:g} kg)",
            "estimated_kg",
        )
    if window is not None:
        start, end = window
        if start.tzinfo is None or end.tzinfo is None:
            raise DoorstepError("a window's times need a time zone", "window_start")
        if end - start < MIN_WINDOW:
            raise DoorstepError("the window must be at least 30 minutes long", "window_end")
        if end <= now:
            raise DoorstepError("the window is over already", "window_end")
        if start > now + MAX_AHEAD:
            raise DoorstepError("a pickup can be asked for at most 14 days ahead", "window_start")
    if (lat is None) != (lon is None):
        raise DoorstepError("a pin needs both lat and lon", "lat")
    if lat is not None and lon is not None:
        hh.lat, hh.lon = lat, lon
    if address:
        hh.address = address[:300]
    if hh.lat is None and not hh.address:
        raise DoorstepError("set a pin on the map or write your address", "address")
    if session.scalar(
        select(func.count()).where(
            Pickup.household_id == household_id,
            Pickup.kind == "household",
            Pickup.status.in_(OPEN_PICKUP_STATES),
        )
    ):
        raise LedgerError("you have a pickup request open already: cancel it to ask again")
    p = pickups.open_pickup(
        session,
        kind="household",
        household_id=household_id,
        category=cats[0],
        note=note,
        due_at=window[1] if window is not None else now + timedelta(days=1),
        requested_by=requested_by,
    )
    p.window_start, p.window_end = window if window is not None else (None, None)
    p.categories, p.estimated_g = cats, estimate
    p.lat, p.lon, p.address = hh.lat, hh.lon, hh.address
    session.flush()
    return p
