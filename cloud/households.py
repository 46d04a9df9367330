"""Sites, households and their member cards.

Every function takes a SQLAlchemy ``Session`` and keyword arguments, flushes, and never
commits (the caller's transaction decides). A household gets its ledger account
(:mod:`cloud.postings`) when it is registered; a card is linked to at most one household
at a time (relinking ends the earlier link, which stays as history).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.bulk import Prepared
from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.models import Account, Household, MemberCard, Site, utcnow
from cloud.notifications.phone import InvalidPhone, normalise_phone

#: what the audit log keeps of a household before and after a change
HOUSEHOLD_FIELDS = ("member_no", "name", "site_id", "active", "phone", "address")


def ensure_site(session: Session, *, code: str, name: str | None = None) -> Site:
    """The site with ``code``, created (named ``name`` or its code) if it does not exist."""
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        site = Site(code=code, name=name or code)
        session.add(site)
        session.flush()
    return site


def create_site(session: Session, *, code: str, name: str, by: str | None) -> Site:
    """Create a site (an operator action, audited); :class:`LedgerError` if it exists."""
    if session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise LedgerError(f"site {code!r} exists")
    site = ensure_site(session, code=code, name=name)
    audit.record(
        session,
        actor=by,
        action="site.create",
        subject=f"site:{site.id}",
        after={"code": code, "name": name},
        site_id=site.id,
    )
    return site


def register_household(
    session: Session,
    *,
    member_no: str,
    name: str,
    site: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    by: str | None = None,
) -> Household:
    """Create a household and its ledger account (``site`` is a site code). Audited."""
    site_id = ensure_site(session, code=site).id if site else None
    hh = Household(
        member_no=member_no, name=name, site_id=site_id, active=True, phone=phone, address=address
    )
    session.add(hh)
    session.flush()
    session.add(Account(**household_account_values(hh.id, name)))
    session.flush()
    audit.record(
        session,
        actor=by,
        action="household.create",
        subject=f"household:{hh.id}",
        after=audit.snapshot(hh, HOUSEHOLD_FIELDS),
        site_id=hh.site_id,
    )
    return hh


def household_account_values(household_id: int, name: str) -> dict[str, object]:
    """The columns of the ledger account a household gets when it is registered."""
    return {
        "code": f"household:{household_id}",
        "kind": "household",
        "name": name,
        "household_id": household_id,
    }


class InvalidHouseholdField(LedgerError):
    """A household field breaks a rule (the API answers 422 naming ``field``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def update_household(
    session: Session, *, household: Household, changes: dict[str, object], by: str | None
) -> Household:
    """Change a household's name, phone or address (only those). Audited with before/after.

    A phone is stored as E.164 (the one normaliser, as the import does); a bad one is refused.
    """
    unknown = set(changes) - {"name", "phone", "address", "lat", "lon"}
    if unknown:
        raise LedgerError(f"cannot change {', '.join(sorted(unknown))} this way")
    if isinstance(changes.get("phone"), str):
        try:
            changes = {**changes, "phone": normalise_phone(str(changes["phone"]))}
        except InvalidPhone as exc:
            raise InvalidHouseholdField("phone", str(exc)) from None
    before = audit.snapshot(household, changes)
    for name, value in changes.items():
        setattr(household, name, value)
    session.flush()
    old, new = audit.changed(before, audit.snapshot(household, changes))
    audit.record(
        session,
        actor=by,
        action="household.update",
        subject=f"household:{household.id}",
        before=old,
        after=new,
        site_id=household.site_id,
    )
    return household


def deactivate_household(session: Session, *, household: Household, by: str | None) -> Household:
    """No more credits by card, logins or payouts; history is kept. Audited."""
    was = household.active
    household.active = False
    session.flush()
    audit.record(
        session,
        actor=by,
        action="household.deactivate",
        subject=f"household:{household.id}",
        before={"active": was},
        after={"active": False},
        site_id=household.site_id,
    )
    return household


def link_card(
    session: Session, *, card_id: str, household_id: int, by: str | None = None
) -> MemberCard:
    """Link a card to a household; an earlier active link of that card is ended. Audited."""
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"unknown household {household_id}")
    ended = _end_links(session, card_id=card_id, by=by)
    card = MemberCard(card_id=card_id, household_id=household_id, active=True, linked_by=by)
    session.add(card)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="card.link",
        subject=f"card:{card_id}",
        before={"household_id": ended[0]} if ended else None,
        after={"household_id": household_id},
        site_id=hh.site_id,
    )
    return card


def _end_links(session: Session, *, card_id: str, by: str | None) -> list[int]:
    """End the active link of ``card_id``; the households it was linked to."""
    ended = []
    for old in session.scalars(
        select(MemberCard).where(MemberCard.card_id == card_id, MemberCard.active)
    ):
        old.active, old.unlinked_at, old.unlinked_by = False, utcnow(), by
        ended.append(old.household_id)
    session.flush()
    return ended


def unlink_card(session: Session, *, card_id: str, by: str | None = None) -> bool:
    """End the active link of ``card_id`` (audited); False if it had none."""
    ended = _end_links(session, card_id=card_id, by=by)
    if ended:
        hh = session.get(Household, ended[0])
        audit.record(
            session,
            actor=by,
            action="card.unlink",
            subject=f"card:{card_id}",
            before={"household_id": ended[0]},
            after={"household_id": None},
            site_id=hh.site_id if hh else None,
        )
    return bool(ended)


def household_for_card(session: Session, *, card_id: str) -> Household | None:
    """The active household the card is linked to, or None."""
    holder = households_by_card(session, [card_id]).get(card_id)
    return session.get(Household, holder.id) if holder is not None else None


class CardHolder(NamedTuple):
    """The active household of a card, as crediting needs it (no ORM row to build: a
    batch of weigh-ins reads one per card, issue 15)."""

    id: int
    member_no: str


_CARD_HOLDERS = Prepared(
    lambda keys: (
        select(MemberCard.card_id, Household.id, Household.member_no)
        .join(Household, MemberCard.household_id == Household.id)
        .where(keys(MemberCard.card_id), MemberCard.active, Household.active)
    )
)


def households_by_card(session: Session, card_ids: Iterable[str]) -> dict[str, CardHolder]:
    """The active household of each card in ``card_ids`` that has one; one query per chunk."""
    found: dict[str, CardHolder] = {}
    for chunk in chunks(card_ids):
        rows = session.execute(_CARD_HOLDERS(session), {"keys": chunk})
        found.update((card_id, CardHolder(hh, member_no)) for card_id, hh, member_no in rows)
    return found
