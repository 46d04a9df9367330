"""Dependencies every route declares: the session, the caller and the access rules.

This module is the ONE place where roles and ownership are decided. Routes declare
what they need with the ``Annotated`` aliases below, e.g.::

    @router.get("/{household_id}/statement")
    def statement(household: OwnHousehold, session: SessionDep) -> StatementOut: ...

Roles: ``admin`` (everything), ``operator`` (the waste bank's daily work), ``collector``
(its own pickups), ``household`` (its own account). Object-level rules answer 404 for
someone else's object, so ids cannot be probed; role rules answer 403.

Nothing here touches the database on the event loop: async dependencies either need no
database (a cached caller) or hand the work to a worker thread (:func:`run_db`); sync
dependencies run on worker threads anyway (see :mod:`cloud.api.gate`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cloud.api.errors import ApiError
from cloud.api.gate import run_db
from cloud.api.principals import Principal, principal_for
from cloud.api.state import ApiState
from cloud.auth import AuthError, Role
from cloud.models import Household, Pickup, WeighinRecord
from cloud.models.auth import User

__all__ = ["Principal"]

STAFF_ROLES: tuple[Role, ...] = ("admin", "operator")
SAFE_METHODS = frozenset({"GET", "HEAD"})

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <access_token>`")


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_principal(
    request: Request,
    state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer token, checked against its subject's row.

    A read may use the row cached for at most ``principal_cache_ttl_s`` (no database
    round trip on the hot path); a write re-reads it, on a worker thread.
    """
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthError("missing bearer token")
    return await principal_from_token(state, creds.credentials, fresh=request.method
                                      not in SAFE_METHODS)  # fmt: skip


async def principal_from_token(state: ApiState, token: str, *, fresh: bool) -> Principal:
    claims = state.tokens.decode(token)
    key = (claims.kind, claims.ident)
    row = None if fresh else state.principals.get(key)
    if row is None:
        row = await run_db(state.load_subject, claims.kind, claims.ident)
        if row is not None:
            state.principals.put(key, row)
    return principal_for(claims, row)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_session(state: StateDep, request: Request) -> AsyncIterator[Session]:
    """The request's session: a read session for GET/HEAD, else a write session.

    Creating it does no I/O; only sync routes and dependencies (worker threads) use it.
    On SQLite a write session starts with ``BEGIN IMMEDIATE`` at its first statement; a
    read session is a deferred transaction that never waits for the write lock.
    Closing it (rollback, connection back to the pool) happens on a worker thread too.
    """
    maker = state.read_sessions if request.method in SAFE_METHODS else state.sessions
    session = maker()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_db(session.close)
        else:
            session.close()  # it never began: nothing to send


SessionDep = Annotated[Session, Depends(get_session)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only ``roles`` (``admin`` is admitted everywhere)."""
    allowed = {*roles, "admin"}

    async def dep(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise ApiError(403, "forbidden", f"this needs role {' or '.join(sorted(allowed))}")
        return principal

    return dep


Admin = Annotated[Principal, Depends(require_role("admin"))]
Staff = Annotated[Principal, Depends(require_role(*STAFF_ROLES))]
StaffOrCollector = Annotated[Principal, Depends(require_role(*STAFF_ROLES, "collector"))]


def _not_yours(what: str) -> ApiError:
    return ApiError(404, "not-found", f"no such {what}", title="Not found")


def _staff_sees(principal: Principal, site_id: int | None) -> bool:
    """A staff user tied to a site sees that site's objects only."""
    return principal.site_id is None or site_id is None or principal.site_id == site_id


def _may_see_household(principal: Principal, household_id: int, site_id: int | None) -> bool:
    """THE household rule: staff (of its site), or the household itself."""
    if principal.is_staff:
        return _staff_sees(principal, site_id)
    return principal.kind == "household" and principal.id == household_id


def own_household(
    principal: CurrentPrincipal,
    session: SessionDep,
    household_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Household:
    """The household in the path, if the caller is staff or that household itself."""
    hh = session.get(Household, household_id)
    if hh is None or not _may_see_household(principal, hh.id, hh.site_id):
        raise _not_yours("household")
    return hh


_HOUSEHOLD_SITE = select(Household.site_id).where(Household.id == bindparam("id"))


def _household_site(state: ApiState, household_id: int) -> tuple[int | None] | None:
    with state.read_engine.connect() as conn:
        row = conn.execute(_HOUSEHOLD_SITE, {"id": household_id}).first()
    return None if row is None else (row.site_id,)


async def own_household_id(
    principal: CurrentPrincipal,
    state: StateDep,
    household_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> int:
    """Like :func:`own_household` but only the id: a household asking for itself costs
    no query; staff cost one primary-key read (on a worker thread)."""
    if principal.kind == "household":
        if principal.id != household_id:
            raise _not_yours("household")
        return household_id  # its own, active household (checked with the token)
    found = await run_db(_household_site, state, household_id)
    if found is None or not _may_see_household(principal, household_id, found[0]):
        raise _not_yours("household")
    return household_id


OwnHouseholdId = Annotated[int, Depends(own_household_id)]
OwnHousehold = Annotated[Household, Depends(own_household)]


def own_pickup(
    principal: CurrentPrincipal,
    session: SessionDep,
    pickup_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Pickup:
    """The pickup in the path: staff, its assigned collector, or its household."""
    p = session.get(Pickup, pickup_id)
    if p is None:
        raise _not_yours("pickup")
    if principal.is_staff and _staff_sees(principal, p.site_id):
        return p
    if principal.role == "collector" and p.collector_id == principal.id:
        return p
    if principal.kind == "household" and p.household_id == principal.id:
        return p
    raise _not_yours("pickup")


OwnPickup = Annotated[Pickup, Depends(own_pickup)]


def own_weighin(
    principal: CurrentPrincipal,
    session: SessionDep,
    weighin_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> WeighinRecord:
    """The weigh-in in the path: staff (of its site), or the household it was credited to."""
    w = session.get(WeighinRecord, weighin_id)
    if w is None:
        raise _not_yours("weigh-in")
    if principal.is_staff and _staff_sees(principal, w.site_id):
        return w
    if principal.kind == "household" and w.household_id == principal.id:
        return w
    raise _not_yours("weigh-in")


OwnWeighin = Annotated[WeighinRecord, Depends(own_weighin)]


def own_collector(
    principal: CurrentPrincipal,
    session: SessionDep,
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> User:
    """The collector in the path: staff, or that collector itself."""
    user = session.get(User, user_id)
    if user is None or user.role != "collector":
        raise _not_yours("collector")
    if principal.is_staff or (principal.role == "collector" and principal.id == user.id):
        return user
    raise _not_yours("collector")


OwnCollector = Annotated[User, Depends(own_collector)]

#: paging parameters shared by list routes
Limit = Annotated[int, Query(ge=1, le=1000, description="most rows returned")]
BeforeId = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="page: ids below this")]


async def stream_principal(
    state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None,
        Query(description="the access token (EventSource cannot send headers)"),
    ] = None,
) -> Principal:
    """Staff only; the token may come in the ``access_token`` query parameter."""
    token = creds.credentials if creds is not None else access_token
    if not token:
        raise AuthError("missing bearer token")
    principal = await principal_from_token(state, token, fresh=True)
    if not principal.is_staff:
        raise ApiError(403, "forbidden", "the live stream is for operators")
    return principal


StreamPrincipal = Annotated[Principal, Depends(stream_principal)]


def audit(principal: Principal) -> dict[str, Any]:
    return {"by": principal.label}
