"""Sites' opening hours (the ``outside_hours`` rule reads them): set and read per site.

Hours are minutes since local midnight in the site's own time zone; a weekday without
hours is a closed day. A site with no hours at all is not judged by the rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError, NotFound
from cloud.models import Site
from cloud.models.stock import SiteOpeningHours


def opening_hours(session: Session, *, site_id: int) -> list[tuple[int, int, int]]:
    """(weekday, opens_min, closes_min) of the site's open days, Monday first."""
    rows = session.scalars(
        select(SiteOpeningHours)
        .where(SiteOpeningHours.site_id == site_id)
        .order_by(SiteOpeningHours.weekday)
    )
    return [(h.weekday, h.opens_min, h.closes_min) for h in rows]


def set_opening_hours(
    session: Session, *, site_id: int, days: Sequence[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """Replace the site's opening hours with ``days`` (weekday, opens_min, closes_min)."""
    if session.get(Site, site_id) is None:
        raise NotFound(f"unknown site {site_id}")
    weekdays = [d for d, _, _ in days]
    if len(set(weekdays)) != len(weekdays):
        raise LedgerError("each weekday at most once")
    for d, opens, closes in days:
        if not (0 <= d <= 6 and 0 <= opens < closes <= 1440):
            raise LedgerError(f"weekday {d}: need 0 <= opens < closes <= 24:00")
    session.execute(delete(SiteOpeningHours).where(SiteOpeningHours.site_id == site_id))
    session.add_all(
        SiteOpeningHours(site_id=site_id, weekday=d, opens_min=o, closes_min=c) for d, o, c in days
    )
    session.flush()
    return opening_hours(session, site_id=site_id)
