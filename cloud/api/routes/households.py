"""Households and their member cards; sites."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from cloud import auth, households
from cloud.api.deps import (
    AccountReader,
    Admin,
    CounterReader,
    Operator,
    OwnHousehold,
    SessionDep,
    own_site_code,
)
from cloud.api.errors import ApiError, FieldError, error_responses
from cloud.api.household_search import SearchText, search_households
from cloud.api.paging import Page, PageQuery
from cloud.api.schemas import (
    CardId,
    CardLink,
    CardOut,
    HouseholdCreate,
    HouseholdOut,
    HouseholdUpdate,
    PinSet,
    SiteCreate,
    SiteOut,
)
from cloud.models import Household, MemberCard, Site

router = APIRouter(prefix="/api/v1", tags=["households"])


def _out(session: SessionDep, hh: Household) -> HouseholdOut:
    cards = session.scalars(
        select(MemberCard.card_id).where(MemberCard.household_id == hh.id, MemberCard.active)
    ).all()
    out = HouseholdOut.model_validate(hh)
    out.cards = list(cards)
    return out


@router.get("/sites", responses=error_responses(401, 403), summary="Waste banks and points")
def list_sites(_: CounterReader, session: SessionDep) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in session.scalars(select(Site).order_by(Site.id))]


@router.post("/sites", status_code=201, responses=error_responses(401, 403, 409, 422))
def create_site(body: SiteCreate, principal: Admin, session: SessionDep) -> SiteOut:
    site = households.create_site(session, code=body.code, name=body.name, by=principal.label)
    site.lat, site.lon = body.lat, body.lon
    session.commit()
    return SiteOut.model_validate(site)


@router.get(
    "/households",
    responses=error_responses(401, 403, 422),
    summary="Find households: searched and paged on the server (with the total)",
)
def list_households(
    _: CounterReader,
    session: SessionDep,
    page: PageQuery,
    q: SearchText = None,
    active: bool | None = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[HouseholdOut]:
    return search_households(session, page, q=q, site_id=site_id, active=active)


@router.post(
    "/households",
    status_code=201,
    responses=error_responses(401, 403, 409, 422),
    summary="Register a household (and its ledger account)",
)
def register_household(
    body: HouseholdCreate, principal: Operator, session: SessionDep
) -> HouseholdOut:
    site = body.site or own_site_code(session, principal)  # an operator: its own site
    # a site within reach (only an administrator's unknown code creates a site)
    known = site is None or session.scalar(select(Site.id).where(Site.code == site)) is not None
    if not known and principal.role != "admin":
        raise ApiError(
            422,
            "validation",
            f"no site {site!r}",
            errors=[FieldError(field="body.site", message="unknown site")],
        )
    # (a number taken in a site out of reach is refused by the unique constraint: 409)
    if session.scalar(select(Household.id).where(Household.member_no == body.member_no)):
        raise ApiError(409, "conflict", f"member number {body.member_no!r} is taken")
    hh = households.register_household(
        session,
        member_no=body.member_no,
        name=body.name,
        site=site,
        phone=body.phone,
        address=body.address,
        by=principal.label,
    )
    if body.pin is not None:
        auth.set_household_pin(session, household_id=hh.id, pin=body.pin, by=principal.label)
    session.commit()
    return _out(session, hh)


@router.get("/households/{household_id}", responses=error_responses(401, 403, 404))
def get_household(_: AccountReader, household: OwnHousehold, session: SessionDep) -> HouseholdOut:
    return _out(session, household)


@router.patch("/households/{household_id}", responses=error_responses(401, 403, 404, 422))
def update_household(
    body: HouseholdUpdate, principal: Operator, household: OwnHousehold, session: SessionDep
) -> HouseholdOut:
    changes = body.model_dump(exclude_none=True, include={"name", "phone", "address", "lat", "lon"})
    households.update_household(session, household=household, changes=changes, by=principal.label)
    session.commit()
    return _out(session, household)


@router.post(
    "/households/{household_id}/deactivate",
    responses=error_responses(401, 403, 404),
    summary="Deactivate: no more credits by card, logins or payouts; history is kept",
)
def deactivate_household(
    principal: Operator, household: OwnHousehold, session: SessionDep
) -> HouseholdOut:
    households.deactivate_household(session, household=household, by=principal.label)
    auth.revoke_household_tokens(session, household_id=household.id)
    session.commit()
    return _out(session, household)


@router.put(
    "/households/{household_id}/pin",
    status_code=204,
    responses=error_responses(401, 403, 404),
    summary="Set or replace the household's login PIN",
)
def set_pin(
    body: PinSet, principal: Operator, household: OwnHousehold, session: SessionDep
) -> None:
    auth.set_household_pin(session, household_id=household.id, pin=body.pin, by=principal.label)
    session.commit()


@router.get(
    "/households/{household_id}/cards",
    responses=error_responses(401, 403, 404),
    summary="Card links of a household, current and past",
)
def list_cards(_: AccountReader, household: OwnHousehold, session: SessionDep) -> list[CardOut]:
    rows = session.scalars(
        select(MemberCard).where(MemberCard.household_id == household.id).order_by(MemberCard.id)
    )
    return [CardOut.model_validate(c) for c in rows]


@router.post(
    "/households/{household_id}/cards",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Link a card (an earlier link of the same card elsewhere is ended)",
)
def link_card(
    body: CardLink, principal: Operator, household: OwnHousehold, session: SessionDep
) -> CardOut:
    if not household.active:
        raise ApiError(409, "conflict", "the household is deactivated")
    card = households.link_card(
        session, card_id=body.card_id, household_id=household.id, by=principal.label
    )
    session.commit()
    return CardOut.model_validate(card)


@router.delete(
    "/households/{household_id}/cards/{card_id}",
    status_code=204,
    responses=error_responses(401, 403, 404),
    summary="Unlink a card from this household",
)
def unlink_card(
    principal: Operator,
    card_id: Annotated[CardId, Path()],
    household: OwnHousehold,
    session: SessionDep,
) -> None:
    linked = session.scalar(
        select(MemberCard).where(
            MemberCard.card_id == card_id,
            MemberCard.household_id == household.id,
            MemberCard.active,
        )
    )
    if linked is None:
        raise ApiError(404, "not-found", f"card {card_id!r} is not linked to this household")
    households.unlink_card(session, card_id=card_id, by=principal.label)
    session.commit()
