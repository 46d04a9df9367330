"""THE household search of the screens: one rule for the operator's search box and the
administrator's directory, fast with the regency's 550,000 households.

What a person types matches

* a member number, a name or a phone number: a **prefix** when fewer than
  three characters are typed, otherwise a **substring** (case-insensitive). On PostgreSQL
  both are answered by the trigram (``pg_trgm``) indexes of migration
  ``0017_household_search``; SQLite scans (a site's few thousand rows);
* a member card: its **exact** id (as a reader types it, case-insensitive), through the
  card index.

The page is ordered by member number and carries the total (:mod:`cloud.api.paging`),
counted up to :data:`COUNT_CAP` rows (then ``total_exact`` is false: "more than"): an
exact count of a common name among 550,000 rows costs ~200 ms, the capped one ~30 ms.
Site scoping applies as to every query (:mod:`cloud.api.scope`): the card lookup and the
page are ORM queries of the caller's session, so a household out of reach is neither
found nor counted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from cloud.api.paging import Page, PageParams, paginate_capped
from cloud.api.schemas import HouseholdOut
from cloud.models import Household, MemberCard

#: the search box's text (a query parameter ``q``)
SearchText = Annotated[
    str | None, Query(max_length=100, description="member no, name, phone, card")
]
#: the total is counted up to this many households
COUNT_CAP = 1000
#: typed text shorter than this matches at the start only (a trigram needs three)
SUBSTRING_FROM = 3


def _escape(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (``\\`` is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(session: Session, q: str) -> ColumnElement[bool]:
    """The households matching the typed text ``q`` (see the module docs)."""
    text = q.strip()
    if not text:
        return true()  # (nothing typed: every household)
    body = _escape(text)
    like = f"%{body}%" if len(text) >= SUBSTRING_FROM else f"{body}%"
    H = Household
    by_card = list(
        session.scalars(
            select(MemberCard.household_id).where(
                MemberCard.card_id == text.upper(), MemberCard.active
            )
        )
    )
    found = [
        H.member_no.ilike(like, escape="\\"),
        H.name.ilike(like, escape="\\"),
        H.phone.ilike(like, escape="\\"),
    ]
    if by_card:
        found.append(H.id.in_(by_card))
    return or_(*found)


def search_households(
    session: Session,
    page: PageParams,
    *,
    q: str | None = None,
    site_id: int | None = None,
    active: bool | None = None,
) -> Page[HouseholdOut]:
    """One page of the households within the caller's reach matching the filters, with
    their active cards and the total."""
    stmt = select(Household).order_by(Household.member_no)
    if q and q.strip():
        stmt = stmt.where(matches(session, q))
    if site_id is not None:
        stmt = stmt.where(Household.site_id == site_id)
    if active is not None:
        stmt = stmt.where(Household.active == active)
    rows, total, exact = paginate_capped(session, stmt, page, COUNT_CAP)
    cards: dict[int, list[str]] = {}
    if rows:
        for card, hid in session.execute(
            select(MemberCard.card_id, MemberCard.household_id)
            .where(MemberCard.household_id.in_([h.id for h in rows]), MemberCard.active)
            .order_by(MemberCard.id)
        ):
            cards.setdefault(hid, []).append(card)
    items = []
    for h in rows:
        out = HouseholdOut.model_validate(h)
        out.cards = cards.get(h.id, [])
        items.append(out)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset, total_exact=exact)
