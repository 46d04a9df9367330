"""Tokens fail closed: versions, logout, rotating refresh tokens, stream tickets.

Mutants (each applied by hand, each fails a test here):
  mutant: principal_for ignores the token version -> the old token still works after a
          password change -> fails
  mutant: set_user_password does not bump token_version -> fails
  mutant: set_household_pin does not bump token_version on a new PIN -> fails
  mutant: update_user does not bump on a role/site change -> fails
  mutant: principal_for ignores ``session_open`` -> the token works after logout -> fails
  mutant: end_session does nothing -> fails
  mutant: refresh_session skips the hash comparison (any secret of the session works) ->
          the replayed refresh token is accepted -> fails
  mutant: refresh_session does not end the session on reuse -> the thief's fresh token
          keeps working -> fails
  mutant: redeem_stream_ticket selects instead of deleting -> a ticket opens two streams
          -> fails
  mutant: redeem_stream_ticket ignores expires_at -> the expired ticket opens -> fails
  mutant: the stream never re-checks (``recheck`` branch removed) -> an open stream
          outlives logout/deactivation -> fails
  mutant: RedactSecrets leaves the query string alone -> fails
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cloud.api.app import RedactSecrets
from cloud.db import make_engine
from cloud.models import utcnow
from cloud.models.auth import StreamTicket
from cloud.tokens import issue_access_token
from tests.api.support import (
    PASSWORD,
    ApiServer,
    World,
    household_login,
    listen,
    login,
    stream_ticket,
    until_event,
)

pytestmark = pytest.mark.integration

ME = "/api/v1/auth/me"


def full_login(c: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def status(api: ApiServer, token: str, path: str = ME) -> int:
    with api.client(token) as c:
        return c.get(path).status_code


def refresh(api: ApiServer, refresh_token: str) -> httpx.Response:
    with api.client() as c:
        return c.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_a_forged_token_with_the_old_built_in_secret_reads_nothing(
    api: ApiServer, world: World
) -> None:
    forged, _ = issue_access_token(
        subject=f"user:{world.ids['admin']}",
        role="admin",
        version=0,
        session_id="x",
        secret="dev-only-insecure-jwt-secret-not-for-production",
        lifetime=timedelta(hours=1),
    )
    assert status(api, forged, "/api/v1/users") == 401


def test_a_new_password_ends_every_token_of_the_user(api: ApiServer, world: World) -> None:
    with api.client() as c:
        admin = login(c, "admin")
        old = full_login(c, "collector-b")
    assert status(api, old["access_token"]) == 200
    with api.client(admin) as c:
        r = c.patch(f"/api/v1/users/{world.ids['collector-b']}", json={"password": "n" * 12})
        assert r.status_code == 200
    assert status(api, old["access_token"]) == 401
    assert refresh(api, old["refresh_token"]).status_code == 401
    with api.client() as c:
        assert full_login(c, "collector-b", "n" * 12)["access_token"]


@pytest.mark.parametrize("change", [{"role": "operator"}, {"site_id": "site-2"}, {"active": False}])
def test_a_role_site_or_activity_change_ends_every_token(
    api: ApiServer, world: World, change: dict[str, Any]
) -> None:
    if change.get("site_id") == "site-2":
        change = {"site_id": world.ids["site-2"]}
    with api.client() as c:
        admin = login(c, "admin")
        old = full_login(c, "cashier")
    with api.client(admin) as c:
        r = c.patch(f"/api/v1/users/{world.ids['cashier']}", json=change)
        assert r.status_code == 200, r.text
    assert status(api, old["access_token"]) == 401
    assert refresh(api, old["refresh_token"]).status_code == 401
    if change == {"active": False}:  # coming back does not revive the old tokens
        with api.client(admin) as c:
            c.patch(f"/api/v1/users/{world.ids['cashier']}", json={"active": True})
        assert status(api, old["access_token"]) == 401


def test_a_new_pin_or_deactivation_ends_a_households_tokens(api: ApiServer, world: World) -> None:
    hh = world.ids["household-b"]
    with api.client() as c:
        operator = login(c, "operator")
        token = household_login(c, "M-B", world.pins["M-B"])
    assert status(api, token) == 200
    with api.client(operator) as c:
        assert c.put(f"/api/v1/households/{hh}/pin", json={"pin": "9999"}).status_code == 204
    assert status(api, token) == 401
    with api.client() as c:
        token = household_login(c, "M-B", "9999")
    with api.client(operator) as c:
        assert c.post(f"/api/v1/households/{hh}/deactivate").status_code == 200
    assert status(api, token) == 401


def test_logout_ends_the_access_and_the_refresh_token(api: ApiServer) -> None:
    with api.client() as c:
        pair = full_login(c, "operator")
    with api.client(pair["access_token"]) as c:
        assert c.post("/api/v1/auth/logout").status_code == 204
    assert status(api, pair["access_token"]) == 401
    assert refresh(api, pair["refresh_token"]).status_code == 401


def test_refresh_tokens_rotate_and_a_replay_ends_the_session(api: ApiServer) -> None:
    with api.client() as c:
        first = full_login(c, "operator")
    r = refresh(api, first["refresh_token"])
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert status(api, second["access_token"]) == 200
    # the first refresh token again (say, stolen): refused, and the session is over
    assert refresh(api, first["refresh_token"]).status_code == 401
    assert refresh(api, second["refresh_token"]).status_code == 401
    assert status(api, second["access_token"]) == 401


def test_the_dashboard_refreshes_with_an_http_only_cookie(api: ApiServer) -> None:
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json={"username": "operator", "password": PASSWORD})
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Path=/api/v1/auth" in cookie
        assert r.headers["cache-control"] == "no-store"
        r = c.post("/api/v1/auth/refresh", json={})  # the client sends the cookie back
        assert r.status_code == 200, r.text
        assert status(api, r.json()["access_token"]) == 200


def test_a_stream_ticket_opens_one_stream_once(api: ApiServer, world: World) -> None:
    with api.client() as c:
        token = login(c, "operator")
        ticket = stream_ticket(c, token)
        with c.stream("GET", "/api/v1/stream", params={"ticket": ticket, "max_events": 1}) as r:
            assert r.status_code == 200
        r = c.get("/api/v1/stream", params={"ticket": ticket})
        assert r.status_code == 401  # used up
        expired = stream_ticket(c, token)
        engine = make_engine(api.app.state.api.settings.ledger_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(StreamTicket).values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            engine.dispose()
        assert c.get("/api/v1/stream", params={"ticket": expired}).status_code == 401


@pytest.mark.parametrize("how", ["logout", "deactivate"])
def test_an_open_stream_closes_when_its_login_ends(api: ApiServer, world: World, how: str) -> None:
    with api.client() as c:
        admin = login(c, "admin")
        token = login(c, "collector-b")
    with listen(api, token) as events:
        if how == "logout":
            with api.client(token) as c:
                assert c.post("/api/v1/auth/logout").status_code == 204
        else:
            with api.client(admin) as c:
                r = c.patch(f"/api/v1/users/{world.ids['collector-b']}", json={"active": False})
                assert r.status_code == 200
        got = until_event(events, lambda e: e[0] == "end", timeout_s=15)
        assert "session" in got[-1][1]["reason"] or "deactivated" in got[-1][1]["reason"]


def test_credentials_never_reach_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/stream?ticket=s3cr3t&types=fill", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "ticket=***&types=fill" in record.getMessage()
