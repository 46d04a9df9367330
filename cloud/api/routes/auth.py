"""Log in (staff: username + password; households: member number + PIN) and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cloud import auth
from cloud.api.deps import CurrentPrincipal, StateDep, SystemSessionDep
from cloud.api.errors import error_responses
from cloud.api.schemas import HouseholdLoginRequest, LoginRequest, MeOut, TokenOut
from cloud.api.state import ApiState

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _client(request: Request, state: ApiState) -> str:
    if state.settings.trust_forwarded_for:
        fwd = request.headers.get("x-forwarded-for", "")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def _policy(state: ApiState) -> auth.ThrottlePolicy:
    return state.throttle


@router.post(
    "/login",
    responses=error_responses(401, 422, 429),
    summary="Staff login: an access token for the Authorization header",
)
def login(
    body: LoginRequest, request: Request, session: SystemSessionDep, state: StateDep
) -> TokenOut:
    key = auth.throttle_key("user:" + body.username, _client(request, state))
    auth.check_throttle(session, key=key)
    try:
        user = auth.authenticate_user(session, username=body.username, password=body.password)
    except auth.AuthError:
        auth.record_failure(session, key=key, policy=_policy(state))
        session.commit()
        raise
    auth.clear_failures(session, key=key)
    session.commit()
    token, exp = auth.issue_token(
        subject=f"user:{user.id}", role=user.role,  # type: ignore[arg-type]
        secret=state.jwt_secret, lifetime=state.settings.token_lifetime,
    )  # fmt: skip
    return TokenOut(
        access_token=token, expires_at=exp, role=user.role, subject_id=user.id, name=user.username
    )


@router.post(
    "/household-login",
    responses=error_responses(401, 422, 429),
    summary="Household login with member number and PIN",
)
def household_login(
    body: HouseholdLoginRequest, request: Request, session: SystemSessionDep, state: StateDep
) -> TokenOut:
    key = auth.throttle_key("household:" + body.member_no, _client(request, state))
    auth.check_throttle(session, key=key)
    try:
        hh = auth.authenticate_household(session, member_no=body.member_no, pin=body.pin)
    except auth.AuthError:
        auth.record_failure(session, key=key, policy=_policy(state))
        session.commit()
        raise
    auth.clear_failures(session, key=key)
    session.commit()
    token, exp = auth.issue_token(
        subject=f"household:{hh.id}", role="household",
        secret=state.jwt_secret, lifetime=state.settings.household_token_lifetime,
    )  # fmt: skip
    return TokenOut(
        access_token=token, expires_at=exp, role="household", subject_id=hh.id, name=hh.member_no
    )


@router.get("/me", responses=error_responses(401), summary="Who the token belongs to")
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        kind=principal.kind,
        id=principal.id, role=principal.role, name=principal.name, site_id=principal.site_id,
    )  # fmt: skip
