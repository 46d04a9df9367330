"""Sites, households and their member cards.

Every function takes a SQLAlchemy ``Session`` and keyword arguments, flushes, and never
commits (the caller's transaction decides). A household gets its ledger account
(:mod:`cloud.postings`) when it is registered; a card is linked to at most one household
at a time (relinking ends the earlier link, which stays as history).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import chunks
from cloud.errors import NotFound
from cloud.models import Account, Household, MemberCard, Site, utcnow


def ensure_site(session: Session, *, code: str, name: str | None = None) -> Site:
    """The site with ``code``, created (named ``name`` or its code) if it does not exist."""
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        site = Site(code=code, name=name or code)
        session.add(site)
        session.flush()
    return site


def register_household(
    session: Session,
    *,
    member_no: str,
    name: str,
    site: str | None = None,
    phone: str | None = None,
    address: str | None = None,
) -> Household:
    """Create a household and its ledger account (``site`` is a site code)."""
    site_id = ensure_site(session, code=site).id if site else None
    hh = Household(
        member_no=member_no, name=name, site_id=site_id, active=True, phone=phone, address=address
    )
    session.add(hh)
    session.flush()
    session.add(Account(**household_account_values(hh.id, name)))
    session.flush()
    return hh


def household_account_values(household_id: int, name: str) -> dict[str, object]:
    """The columns of the ledger account a household gets when it is registered."""
    return {
        "code": f"household:{household_id}",
        "kind": "household",
        "name": name,
        "household_id": household_id,
    }


def link_card(
    session: Session, *, card_id: str, household_id: int, by: str | None = None
) -> MemberCard:
    """Link a card to a household; an earlier active link of that card is ended."""
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"unknown household {household_id}")
    unlink_card(session, card_id=card_id, by=by)
    card = MemberCard(card_id=card_id, household_id=household_id, active=True, linked_by=by)
    session.add(card)
    session.flush()
    return card


def unlink_card(session: Session, *, card_id: str, by: str | None = None) -> bool:
    """End the active link of ``card_id``; False if it had none."""
    changed = False
    for old in session.scalars(
        select(MemberCard).where(MemberCard.card_id == card_id, MemberCard.active)
    ):
        old.active, old.unlinked_at, old.unlinked_by = False, utcnow(), by
        changed = True
    session.flush()
    return changed


def household_for_card(session: Session, *, card_id: str) -> Household | None:
    """The active household the card is linked to, or None."""
    return households_by_card(session, [card_id]).get(card_id)


def households_by_card(session: Session, card_ids: Iterable[str]) -> dict[str, Household]:
    """The active household of each card in ``card_ids`` that has one; one query per chunk."""
    found: dict[str, Household] = {}
    for chunk in chunks(card_ids):
        rows = session.execute(
            select(MemberCard.card_id, Household)
            .join(Household, MemberCard.household_id == Household.id)
            .where(MemberCard.card_id.in_(chunk), MemberCard.active, Household.active)
        )
        found.update((card_id, household) for card_id, household in rows)
    return found
