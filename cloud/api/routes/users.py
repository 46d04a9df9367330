"""Staff accounts (admin only), and a collector's own pickup list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from cloud import auth
from cloud.api.deps import (
    Admin,
    Limit,
    OwnCollector,
    Principal,
    SessionDep,
    SiteReader,
    require_role,
)
from cloud.api.errors import ApiError, FieldError, error_responses
from cloud.api.routes.pickups import pickups_out
from cloud.api.schemas import DbId, PickupOut, UserCreate, UserOut, UserUpdate
from cloud.models import Site
from cloud.models.auth import User
from cloud.pickups import list_pickups

router = APIRouter(prefix="/api/v1", tags=["users"])

#: a collector's list: its site's staff, or the collector itself
CollectorReader = Annotated[Principal, Depends(require_role("operator", "auditor", "collector"))]


def _check_site(session: SessionDep, site_id: int | None) -> None:
    if site_id is not None and session.get(Site, site_id) is None:
        raise ApiError(
            422,
            "validation",
            f"no site {site_id}",
            errors=[FieldError(field="body.site_id", message="unknown site")],
        )


@router.get("/users", responses=error_responses(401, 403), summary="List staff accounts")
def list_users(_: SiteReader, session: SessionDep, role: str | None = None) -> list[UserOut]:
    q = select(User).order_by(User.id)
    if role is not None:
        q = q.where(User.role == role)
    return [UserOut.model_validate(u) for u in session.scalars(q)]


@router.post(
    "/users",
    status_code=201,
    responses=error_responses(401, 403, 422),
    summary="Create a user: admin or auditor (no site); operator, cashier or collector (a site)",
)
def create_user(body: UserCreate, principal: Admin, session: SessionDep) -> UserOut:
    _check_site(session, body.site_id)
    user = auth.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        site_id=body.site_id,
        phone=body.phone,
        by=principal.label,
    )
    session.commit()
    return UserOut.model_validate(user)


@router.patch(
    "/users/{user_id}",
    responses=error_responses(401, 403, 404, 422),
    summary="Change a user's name, role, password or deactivate it",
)
def update_user(user_id: DbId, body: UserUpdate, principal: Admin, session: SessionDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not-found", f"no user {user_id}")
    _check_site(session, body.site_id)
    changes = body.model_dump(exclude_none=True)
    for name in ("phone", "site_id"):  # these may be cleared with an explicit null
        if name in body.model_fields_set:
            changes[name] = getattr(body, name)
    # a role, site, activity or password change ends every token the user holds
    auth.update_user(session, user=user, changes=changes, by=principal.label)
    session.commit()
    return UserOut.model_validate(user)


@router.get(
    "/collectors/{user_id}/pickups",
    responses=error_responses(401, 403, 404),
    summary="A collector's pickups (open and assigned first, by due time)",
)
def collector_pickups(
    _: CollectorReader,
    collector: OwnCollector,
    session: SessionDep,
    include_done: bool = False,
    limit: Limit = 200,
) -> list[PickupOut]:
    status = None if include_done else ("open", "assigned")
    rows = list_pickups(session, collector_id=collector.id, status=status, limit=limit)
    return pickups_out(session, rows)
