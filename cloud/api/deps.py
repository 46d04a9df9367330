"""Dependencies every route declares: the session, the caller and the access rules.

Routes declare what they need with the ``Annotated`` aliases below, e.g.::

    @router.get("/{household_id}/statement")
    def statement(_: AccountReader, household: OwnHousehold, session: SessionDep): ...

Two kinds of rule, each decided in one place:

* **role rules** (403): the aliases built with :func:`require_role` (``Admin``,
  ``Operator``, ``SiteReader``, ``Counter``, ...), declared first so they answer before
  any object is looked up. ``admin`` passes every role rule; an ``auditor`` reads
  everything and never writes (a write session refuses it, :func:`get_session`).
* **reach** (404, so ids cannot be probed): every session carries the caller's scope
  and :mod:`cloud.api.scope` confines every query and every write to it; the ``Own*``
  lookups below are plain ``session.get`` calls that find nothing out of reach.

Nothing here touches the database on the event loop: async dependencies either need no
database (a cached caller) or hand the work to a worker thread (:func:`run_db`); sync
dependencies run on worker threads anyway (see :mod:`cloud.api.gate`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import tokens
from cloud.api.errors import ApiError
from cloud.api.gate import run_db
from cloud.api.principals import Principal, principal_for
from cloud.api.scope import SYSTEM, Scope
from cloud.api.state import ApiState
from cloud.auth import AuthError, Role
from cloud.models import Household, Pickup, Site, utcnow
from cloud.models.auth import User
from cloud.tokens import TokenClaims

__all__ = ["Principal"]

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
    return await principal_from_token(
        state, bearer_token(creds), fresh=request.method not in SAFE_METHODS
    )


def bearer_token(creds: HTTPAuthorizationCredentials | None) -> str:
    """The token of an ``Authorization: Bearer`` header (401 without one)."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthError("missing bearer token")
    return creds.credentials


async def principal_from_token(state: ApiState, token: str, *, fresh: bool) -> Principal:
    return await principal_from_claims(state, state.token_cache.decode(token), fresh=fresh)


async def principal_from_claims(state: ApiState, claims: TokenClaims, *, fresh: bool) -> Principal:
    """The principal behind verified ``claims``: its row (cached for reads unless ``fresh``)."""
    key = (claims.kind, claims.ident, claims.session_id)
    row = None if fresh else state.principals.get(key)
    if row is None:
        row = await state.subject(claims.kind, claims.ident, claims.session_id)
        if row is not None:
            state.principals.put(key, row)
    return principal_for(claims, row)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_session(
    state: StateDep, request: Request, principal: CurrentPrincipal
) -> AsyncIterator[Session]:
    """The request's session, confined to the caller's reach (:mod:`cloud.api.scope`).

    A read session for GET/HEAD, else a write session (refused to an auditor). Creating
    it does no I/O; only sync routes and dependencies (worker threads) use it. On SQLite
    a write session starts with ``BEGIN IMMEDIATE`` at its first statement; a read
    session is a deferred transaction that never waits for the write lock. Closing it
    (rollback, connection back to the pool) happens on a worker thread too.
    """
    write = request.method not in SAFE_METHODS
    if write and principal.role == "auditor":
        raise ApiError(403, "forbidden", "the auditor reads; it never writes")
    async with _session(state, principal.scope, write=write) as session:
        yield session


@contextlib.asynccontextmanager
async def _session(state: ApiState, scope: Scope, *, write: bool) -> AsyncIterator[Session]:
    maker = state.sessions if write else state.read_sessions
    session = maker(info={"scope": scope})
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_db(session.close)
        else:
            session.close()  # it never began: nothing to send


async def get_system_session(state: StateDep, request: Request) -> AsyncIterator[Session]:
    """A session for the routes that come before a caller is known (logging in)."""
    async with _session(state, SYSTEM, write=request.method not in SAFE_METHODS) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SystemSessionDep = Annotated[Session, Depends(get_system_session)]


async def get_system_write_session(state: StateDep) -> AsyncIterator[Session]:
    """A write session before a caller is known, for the rare GET that writes (a one-time
    link marked used as it is downloaded)."""
    async with _session(state, SYSTEM, write=True) as session:
        yield session


SystemWriteSessionDep = Annotated[Session, Depends(get_system_write_session)]


def admitted(*roles: Role) -> frozenset[str]:
    """The roles a role rule admits: ``roles`` and ``admin`` (admitted everywhere)."""
    return frozenset({*roles, "admin"})


def check_role(principal: Principal, allowed: frozenset[str]) -> Principal:
    """The role rule: 403 unless the caller's role is ``allowed`` (see :func:`admitted`)."""
    if principal.role not in allowed:
        raise ApiError(403, "forbidden", f"this needs role {' or '.join(sorted(allowed))}")
    return principal


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only ``roles`` (``admin`` is admitted everywhere)."""
    allowed = admitted(*roles)

    async def dep(principal: CurrentPrincipal) -> Principal:
        return check_role(principal, allowed)

    return dep


#: programme administration: users, sites, device provisioning
Admin = Annotated[Principal, Depends(require_role("admin"))]
#: a site's daily administration (households, cards, weigh-ins, bins, pickups, prices)
Operator = Annotated[Principal, Depends(require_role("operator"))]
#: reading a site's data (weigh-ins, bins, devices, pickups, alerts, telemetry, users)
SiteReader = Annotated[Principal, Depends(require_role("operator", "auditor"))]
#: payouts at the counter
Counter = Annotated[Principal, Depends(require_role("operator", "cashier"))]
#: finding households and their payouts at the counter
CounterReader = Annotated[Principal, Depends(require_role("operator", "cashier", "auditor"))]
#: programme-wide reading: the audit log, bank transfer files
ProgrammeReader = Annotated[Principal, Depends(require_role("auditor"))]
#: who reads a household's own pages: its account, statement, cards (staff of its site too)
ACCOUNT_READERS: tuple[Role, ...] = ("operator", "cashier", "auditor", "household")
AccountReader = Annotated[Principal, Depends(require_role(*ACCOUNT_READERS))]


def _not_yours(what: str) -> ApiError:
    return ApiError(404, "not-found", f"no such {what}", title="Not found")


def own_household(
    session: SessionDep, household_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Household:
    """The household in the path, if within the caller's reach."""
    hh = session.get(Household, household_id)
    if hh is None:
        raise _not_yours("household")
    return hh


def _reaches_household(state: ApiState, scope: Scope, household_id: int) -> bool:
    with state.read_sessions(info={"scope": scope}) as session:
        return session.get(Household, household_id) is not None


HouseholdIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def own_household_id(
    principal: CurrentPrincipal, state: StateDep, household_id: HouseholdIdPath
) -> int:
    """Like :func:`own_household` but only the id: a household asking for itself costs
    no query (the same rule in its Python form); staff cost one scoped read."""
    return await reach_household(principal, state, household_id)


async def reach_household(principal: Principal, state: ApiState, household_id: int) -> int:
    """The reach rule of :func:`own_household_id` (404 out of reach)."""
    scope = principal.scope
    if scope.role == "household":
        if not scope.admits(household_id=household_id):
            raise _not_yours("household")
        return household_id  # its own, active household (checked with the token)
    if not await run_db(_reaches_household, state, scope, household_id):
        raise _not_yours("household")
    return household_id


OwnHouseholdId = Annotated[int, Depends(own_household_id)]


async def readable_account(request: Request, household_id: HouseholdIdPath) -> int:
    """``AccountReader`` and ``OwnHouseholdId`` as one dependency, for the hottest read (a
    balance): :func:`account_within_reach`, the same rules (:func:`principal_from_token`,
    :func:`check_role`, :func:`reach_household`) called in a row instead of solved as six
    dependencies, which cost FastAPI ~40 % of the request's CPU (``docs/benchmarks.md``).
    A route that uses it declares ``openapi_extra=BEARER`` so its document still asks for
    the token."""
    creds = await _bearer(request)
    return await account_within_reach(
        request.app.state.api,
        bearer_token(creds),
        household_id,
        fresh=request.method not in SAFE_METHODS,
    )


async def account_within_reach(
    state: ApiState, token: str, household_id: int, *, fresh: bool
) -> int:
    """The rules of reading household ``household_id``'s account with ``token``: a valid
    token of a live subject, a role of :data:`ACCOUNT_READERS`, the household within the
    caller's reach. Raises the rule's error (401, 403, 404); :mod:`cloud.api.hotpath` calls
    it too."""
    principal = await principal_from_token(state, token, fresh=fresh)
    check_role(principal, _ACCOUNT_READERS)
    return await reach_household(principal, state, household_id)


_ACCOUNT_READERS = admitted(*ACCOUNT_READERS)
#: the OpenAPI security requirement of a route that reads the bearer token itself
BEARER: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
ReadableAccount = Annotated[int, Depends(readable_account)]
OwnHousehold = Annotated[Household, Depends(own_household)]


def own_pickup(session: SessionDep, pickup_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Pickup:
    """The pickup in the path: within the site's reach, its collector's or its household's."""
    p = session.get(Pickup, pickup_id)
    if p is None:
        raise _not_yours("pickup")
    return p


OwnPickup = Annotated[Pickup, Depends(own_pickup)]


def own_collector(session: SessionDep, user_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> User:
    """The collector in the path (its site's staff, or that collector itself)."""
    user = session.get(User, user_id)
    if user is None or user.role != "collector":
        raise _not_yours("collector")
    return user


OwnCollector = Annotated[User, Depends(own_collector)]


def _staff_sees(principal: Principal, site_id: int | None) -> bool:
    """Whether the caller reaches ``site_id`` (for a route that takes the site as a
    parameter and reads tables outside :mod:`cloud.api.scope`): the same rule of reach."""
    return principal.scope.everything or (site_id is not None and principal.site_id == site_id)


def own_site_code(session: Session, principal: Principal) -> str | None:
    """The code of the caller's site (None for a programme-wide caller)."""
    if principal.site_id is None:
        return None
    code: str | None = session.scalar(select(Site.code).where(Site.id == principal.site_id))
    return code


#: paging parameters shared by list routes
Limit = Annotated[int, Query(ge=1, le=1000, description="most rows returned")]
BeforeId = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="page: ids below this")]


def _redeem(state: ApiState, ticket: str) -> TokenClaims:
    with state.sessions(info={"scope": SYSTEM}) as session:
        claims = tokens.redeem_stream_ticket(session, ticket=ticket)
        session.commit()
        return claims


async def stream_principal(
    state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ticket: Annotated[
        str | None,
        Query(
            max_length=100,
            description="a single-use ticket from POST /auth/stream-ticket "
            "(EventSource cannot send headers; tokens never travel in URLs)",
        ),
    ] = None,
) -> Principal:
    """Any role (the stream carries only events within the caller's reach): a bearer token
    in the header, or a stream ticket, which is used up here."""
    if creds is not None:
        return await principal_from_token(state, creds.credentials, fresh=True)
    if not ticket:
        raise AuthError("missing bearer token or stream ticket")
    return await principal_from_claims(state, await run_db(_redeem, state, ticket), fresh=True)


def claims_of(principal: Principal) -> TokenClaims:
    """What a principal's token said (to check again later, e.g. from an open stream)."""
    return TokenClaims(
        subject=f"{principal.kind}:{principal.id}",
        role=principal.role,
        version=principal.version,
        session_id=principal.session_id,
        expires_at=utcnow(),
    )


StreamPrincipal = Annotated[Principal, Depends(stream_principal)]
