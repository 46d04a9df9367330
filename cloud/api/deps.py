"""Dependencies every route declares: the session, the caller and the access rules.

This module is the ONE place where roles and ownership are decided. Routes declare
what they need with the ``Annotated`` aliases below, e.g.::

    @router.get("/{household_id}/balance")
    def balance(household: OwnHousehold, session: SessionDep) -> Balance: ...

Roles: ``admin`` (everything), ``operator`` (the waste bank's daily work), ``collector``
(its own pickups), ``household`` (its own account). Object-level rules answer 404 for
someone else's object, so ids cannot be probed; role rules answer 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cloud.api.errors import ApiError
from cloud.api.state import ApiState
from cloud.auth import AuthError, Role, TokenCache, TokenClaims, decode_token
from cloud.models import Household, Pickup, WeighinRecord
from cloud.models.auth import User

STAFF_ROLES: tuple[Role, ...] = ("admin", "operator")

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <access_token>`")


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_read_session(state: StateDep) -> AsyncIterator[Session]:
    """The request's read session (one per request, shared by every dependency).

    On SQLite a deferred transaction: it never waits for, nor holds, the write lock, so
    short primary-key reads can run on the event loop (see :func:`get_principal`).
    Creating a session does no I/O and the final rollback is one short statement.
    """
    with state.read_sessions() as session:  # closing ends (rolls back) the read
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


async def get_session(
    state: StateDep, request: Request, read: ReadSessionDep
) -> AsyncIterator[Session]:
    """The request's session: the read session for GET/HEAD, else a write session.

    A write session on SQLite starts with ``BEGIN IMMEDIATE`` at its first statement, so
    routes that write are sync functions (run on a worker thread, never on the loop).
    """
    if request.method in ("GET", "HEAD"):
        yield read
        return
    with state.sessions() as session:
        try:
            yield session
        finally:
            session.rollback()


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff user or a household."""

    kind: str  # "user" | "household"
    id: int
    role: Role
    name: str
    site_id: int | None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def label(self) -> str:
        """Who did it, for audit columns: ``user:alice`` or ``household:M-0001``."""
        return f"{self.kind}:{self.name}"


_USER = select(User.username, User.role, User.active, User.site_id).where(
    User.id == bindparam("id")
)
_HOUSEHOLD = select(Household.member_no, Household.active, Household.site_id).where(
    Household.id == bindparam("id")
)


def principal_from_token(
    session: Session, token: str, secret: str, cache: TokenCache | None = None
) -> Principal:
    """Verify the token and re-read its subject (deactivation takes effect at once)."""
    claims: TokenClaims = cache.decode(token) if cache else decode_token(token, secret=secret)
    if claims.kind == "user":
        row = session.connection().execute(_USER, {"id": claims.ident}).first()
        if row is None or not row.active or row.role != claims.role:
            raise AuthError("the token's user is unknown or deactivated")
        return Principal("user", claims.ident, claims.role, row.username, row.site_id)
    hh = session.connection().execute(_HOUSEHOLD, {"id": claims.ident}).first()
    if hh is None or not hh.active or claims.role != "household":
        raise AuthError("the token's household is unknown or deactivated")
    return Principal("household", claims.ident, "household", hh.member_no, hh.site_id)


async def get_principal(
    state: StateDep,
    read: ReadSessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer token, re-checked against the database.

    Runs on the event loop: the lookup is one primary-key read on a read session (on
    SQLite a deferred transaction that never waits for the write lock), cheaper than
    the hop to a worker thread that a sync dependency costs (measured: bench/).
    """
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthError("missing bearer token")
    return principal_from_token(read, creds.credentials, state.jwt_secret, state.tokens)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


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


async def own_household_id(
    principal: CurrentPrincipal,
    read: ReadSessionDep,
    household_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> int:
    """Like :func:`own_household` but only the id; no query for the household itself.

    On the event loop like :func:`get_principal` (one primary-key read, staff only).
    """
    if principal.kind == "household":
        if principal.id != household_id:
            raise _not_yours("household")
        return household_id  # its own, active household (checked with the token)
    row = read.connection().execute(_HOUSEHOLD_SITE, {"id": household_id}).first()
    if row is None or not _may_see_household(principal, household_id, row.site_id):
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
    # a short session of its own: the stream lives long and must hold no transaction
    with state.read_sessions() as session:
        principal = principal_from_token(session, token, state.jwt_secret, state.tokens)
    if not principal.is_staff:
        raise ApiError(403, "forbidden", "the live stream is for operators")
    return principal


StreamPrincipal = Annotated[Principal, Depends(stream_principal)]


def audit(principal: Principal) -> dict[str, Any]:
    return {"by": principal.label}
