"""Logging in and out: sessions with short access tokens, rotating refresh tokens, tickets.

Staff log in with username + password, households with member number + PIN; both get
an access token (minutes) and a refresh token (single use, also set as an HttpOnly
cookie scoped to ``/api/v1/auth``). ``/refresh`` trades a refresh token for the next
pair, ``/logout`` ends the session, ``/stream-ticket`` gives the single-use ticket that
opens the live stream (no token ever travels in a URL). See :mod:`cloud.tokens`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response
from sqlalchemy.orm import Session

from cloud import auth, throttle, tokens
from cloud.api.clientaddr import request_address
from cloud.api.deps import CurrentPrincipal, StateDep, SystemSessionDep
from cloud.api.errors import error_responses
from cloud.api.schemas import (
    HouseholdLoginRequest,
    LoginRequest,
    MeOut,
    RefreshRequest,
    StreamTicketOut,
    TokenOut,
)
from cloud.api.scope import SYSTEM
from cloud.api.state import ApiState
from cloud.models import utcnow

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

REFRESH_COOKIE = "salinmas_refresh"
COOKIE_PATH = "/api/v1/auth"


def _token_out(issued: tokens.Issued, name: str, response: Response, state: ApiState) -> TokenOut:
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
        max_age=max(1, int((issued.refresh_expires_at - utcnow()).total_seconds())),
    )
    return TokenOut(
        access_token=issued.access_token,
        expires_at=issued.access_expires_at,
        refresh_token=issued.refresh_token,
        refresh_expires_at=issued.refresh_expires_at,
        role=issued.role,
        subject_id=issued.subject_id,
        name=name,
    )


def _start(
    session: Session, state: ApiState, subject: str, role: str, version: int
) -> tokens.Issued:
    kind = subject.partition(":")[0]
    return tokens.start_session(
        session,
        subject=subject,
        role=role,
        version=version,
        secret=state.jwt_secret,
        access_lifetime=state.settings.access_lifetime,
        session_lifetime=state.settings.session_lifetime(kind),
    )


def _login(
    state: ApiState,
    request: Request,
    response: Response,
    login: str,
    lookup: Callable[[Session], auth.Credentials | None],
    secret: str,
) -> TokenOut:
    """Count the attempt, check the secret outside any transaction, then open a session.

    Three short steps: (1) the attempt is counted against its throttle keys and
    committed, or refused with 429 before anything is checked; (2) the subject is read
    and the secret verified with no transaction open (argon2 takes tens of ms; on SQLite
    a write transaction would stall every writer meanwhile); (3) on success the attempt
    is given back and the session started, in one short write transaction.
    """
    address = request_address(request, state.trusted_proxies)
    keys = throttle.keys_for(login, address)
    with state.sessions(info={"scope": SYSTEM}) as session:
        try:
            throttle.reserve(session, keys, state.throttle)
        finally:
            session.commit()
    with state.read_sessions(info={"scope": SYSTEM}) as session:
        creds = lookup(session)
    # no transaction is open here; an unknown name costs one verification too (against a
    # dummy hash), so timing does not tell which names exist
    ok = state.verify(secret, creds.secret_hash if creds is not None else None)
    if creds is None or not ok or not creds.active:
        raise auth.AuthError("wrong name, password or PIN")
    with state.sessions(info={"scope": SYSTEM}) as session:
        throttle.succeeded(session, keys)
        issued = _start(session, state, creds.subject, creds.role, creds.version)
        session.commit()
    return _token_out(issued, creds.name, response, state)


@router.post(
    "/login",
    responses=error_responses(401, 422, 429),
    summary="Staff login: an access token (minutes) and a refresh token",
)
def login(body: LoginRequest, request: Request, response: Response, state: StateDep) -> TokenOut:
    return _login(
        state,
        request,
        response,
        f"user:{body.username}",
        lambda s: auth.user_credentials(s, username=body.username),
        body.password,
    )


@router.post(
    "/household-login",
    responses=error_responses(401, 422, 429),
    summary="Household login with member number and PIN",
)
def household_login(
    body: HouseholdLoginRequest, request: Request, response: Response, state: StateDep
) -> TokenOut:
    return _login(
        state,
        request,
        response,
        f"household:{body.member_no}",
        lambda s: auth.household_credentials(s, member_no=body.member_no),
        body.pin,
    )


@router.post(
    "/refresh",
    responses=error_responses(401, 422),
    summary="Trade a refresh token (body or cookie) for the next access + refresh pair",
)
def refresh(
    body: RefreshRequest,
    response: Response,
    session: SystemSessionDep,
    state: StateDep,
    cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)] = None,
) -> TokenOut:
    presented = body.refresh_token or cookie or ""
    try:
        issued = tokens.refresh_session(
            session,
            refresh_token=presented,
            secret=state.jwt_secret,
            access_lifetime=state.settings.access_lifetime,
        )
    except auth.AuthError:
        session.commit()  # a replayed token ended its session: keep that
        raise
    name = auth.subject_name(session, issued.subject)
    session.commit()
    return _token_out(issued, name, response, state)


@router.post(
    "/logout",
    status_code=204,
    responses=error_responses(401),
    summary="End this login: its access and refresh tokens stop working",
)
def logout(principal: CurrentPrincipal, response: Response, session: SystemSessionDep) -> None:
    tokens.end_session(session, session_id=principal.session_id)
    session.commit()
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH)


@router.post(
    "/stream-ticket",
    responses=error_responses(401),
    summary="A single-use ticket (seconds) to open the live stream with",
)
def stream_ticket(
    principal: CurrentPrincipal, session: SystemSessionDep, state: StateDep
) -> StreamTicketOut:
    ticket, expires = tokens.issue_stream_ticket(
        session,
        subject=f"{principal.kind}:{principal.id}",
        role=principal.role,
        session_id=principal.session_id,
        version=principal.version,
        lifetime=timedelta(seconds=state.settings.stream_ticket_lifetime_s),
    )
    session.commit()
    return StreamTicketOut(ticket=ticket, expires_at=expires)


@router.get("/me", responses=error_responses(401), summary="Who the token belongs to")
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        name=principal.name,
        site_id=principal.site_id,
    )
