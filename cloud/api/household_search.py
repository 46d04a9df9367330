"""THE household search of the screens: one rule for the operator's search box and the
administrator's directory, fast with the regency's 550,000 households.

What a person types is answered in two steps:

1. **exactly**: a whole member number (as registered, or in capitals) or the id of an
   active member card (case-insensitive) names its household: answered through the
   unique member-number index and the card index, nothing else is searched;
2. otherwise a member number, a name or a phone number matching it: a **prefix** when
   fewer than three characters are typed, otherwise a **substring** (case-insensitive).
   On PostgreSQL both are answered by the trigram (``pg_trgm``) indexes of migration
   ``0017_household_search``; SQLite scans (a site's few thousand rows).

A search is **bounded**: at most :data:`COUNT_CAP` matches (or as many as the page asked
for reaches, if further) are read, *then* ordered by member number and paged; the total is
the number read (``total_exact`` false when more match: "more than 1,000", type more to
narrow it). So a common text ("an", "BMS") costs the reading of ~1,000 matches, never
the ordering or counting of 500,000. Beyond the cap the pages hold the first matches the
index found, ordered by member number (not the first by member number of all matches).
The list without a search text is ordered by member number throughout, its total capped
the same way (:func:`cloud.api.paging.paginate_capped`).

Site scoping applies as to every query (:mod:`cloud.api.scope`): every step is an ORM
query of the caller's session, so a household out of reach is neither found nor counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement, or_, select, text
from sqlalchemy.orm import Session

from cloud.api.paging import Page, PageParams, capped_window, paginate_capped
from cloud.api.schemas import HouseholdOut
from cloud.models import Household, MemberCard

#: the search box's text (a query parameter ``q``)
SearchText = Annotated[
    str | None, Query(max_length=100, description="member no, name, phone, card")
]
#: a search reads (and the total counts) up to this many households
COUNT_CAP = 1000
#: typed text shorter than this matches at the start only (a trigram needs three)
SUBSTRING_FROM = 3

H = Household


def _escape(typed: str) -> str:
    """``typed`` as a literal inside a LIKE pattern (``\\`` is the escape character)."""
    return typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def exactly(session: Session, typed: str, filters: list[ColumnElement[bool]]) -> list[int]:
    """The household whose whole member number, or active card's id, is ``typed``: two
    lookups through the unique member-number index and the card index."""
    by_no = select(H.member_no, H.id).where(
        H.member_no.in_(sorted({typed, typed.upper()})), *filters
    )
    by_card = (
        select(H.member_no, H.id)
        .join(MemberCard, MemberCard.household_id == H.id)
        .where(MemberCard.card_id == typed.upper(), MemberCard.active, *filters)
    )
    found = {(no, hid) for stmt in (by_no, by_card) for no, hid in session.execute(stmt)}
    return [hid for _no, hid in sorted(found)]


def matches(typed: str) -> ColumnElement[bool]:
    """The households whose member number, name or phone contains ``typed`` (or starts
    with it, when it is shorter than :data:`SUBSTRING_FROM`)."""
    body = _escape(typed)
    like = f"%{body}%" if len(typed) >= SUBSTRING_FROM else f"{body}%"
    return or_(
        H.member_no.ilike(like, escape="\\"),
        H.name.ilike(like, escape="\\"),
        H.phone.ilike(like, escape="\\"),
    )


@contextmanager
def _through_the_indexes(session: Session) -> Iterator[None]:
    """On PostgreSQL, no sequential scan for the statements inside. The planner guesses
    that an ILIKE matches 1 % of the rows; under a LIMIT it then prefers reading the table
    from its start and stopping early, which reads most of 550,000 rows (0.4-2 s) when
    fewer match than guessed. The trigram bitmap reads only the typed text's posting
    lists: 15-90 ms measured for every kind of text (docs/benchmarks.md). (No JIT either:
    a plan that had to scan anyway would cost "disabled" and be compiled, +300 ms.)"""
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL jit = off"))
    try:
        yield
    finally:
        if pg:
            session.execute(text("RESET enable_seqscan"))
            session.execute(text("RESET jit"))


def _found(
    session: Session, where: list[ColumnElement[bool]], page: PageParams
) -> tuple[list[int], int, bool]:
    """The page's household ids among the first matches of ``where`` (LIMIT before the
    ordering), the total read and whether it is every match."""
    window = capped_window(page, COUNT_CAP)
    first = select(H.id, H.member_no).where(*where).limit(window + 1).subquery()
    with _through_the_indexes(session):
        ids = list(session.scalars(select(first.c.id).order_by(first.c.member_no)))
    return ids[page.offset : page.offset + page.limit], min(len(ids), window), len(ids) <= window


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
    filters: list[ColumnElement[bool]] = []
    if site_id is not None:
        filters.append(H.site_id == site_id)
    if active is not None:
        filters.append(H.active == active)
    typed = (q or "").strip()
    if not typed:
        stmt = select(H).where(*filters).order_by(H.member_no)
        rows, total, exact = paginate_capped(session, stmt, page, COUNT_CAP)
    else:
        named = exactly(session, typed, filters)
        if named:
            ids, total, exact = named[page.offset : page.offset + page.limit], len(named), True
        else:
            ids, total, exact = _found(session, [matches(typed), *filters], page)
        rows = list(session.scalars(select(H).where(H.id.in_(ids)).order_by(H.member_no)))
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
