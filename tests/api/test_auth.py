"""Logging in, tokens that expire, deactivation, the login throttle, weak secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.api.settings import ApiSettings
from cloud.tokens import decode_access_token, issue_access_token
from tests.api.support import (
    PASSWORD,
    ApiServer,
    World,
    household_login,
    login,
    serve,
    settings_for,
)

pytestmark = pytest.mark.integration


def test_staff_and_household_logins_and_me(api: ApiServer, world: World) -> None:
    with api.client() as c:
        token = login(c, "operator")
        hh = household_login(c, "M-A", world.pins["M-A"])
    with api.client(token) as c:
        me = c.get("/api/v1/auth/me").json()
        assert (me["kind"], me["role"], me["name"]) == ("user", "operator", "operator")
    with api.client(hh) as c:
        me = c.get("/api/v1/auth/me").json()
        assert (me["kind"], me["role"], me["id"]) == (
            "household",
            "household",
            world.ids["household-a"],
        )


@pytest.mark.parametrize(
    "body",
    [
        {"username": "operator", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_wrong_credentials_are_401_problems(api: ApiServer, body: dict[str, str]) -> None:
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json=body)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401


def test_missing_expired_and_forged_tokens_are_refused(api: ApiServer, world: World) -> None:
    secret = api.app.state.api.jwt_secret
    uid = world.ids["operator"]
    with api.client() as c:  # a real session, so only the altered claim is wrong
        real = decode_access_token(login(c, "operator"), secret=secret)
    same = {"subject": f"user:{uid}", "version": real.version, "session_id": real.session_id}
    expired, _ = issue_access_token(
        role="operator",
        secret=secret,
        lifetime=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
        **same,
    )
    forged, _ = issue_access_token(
        role="operator", secret="not-the-secret" * 3, lifetime=timedelta(hours=1), **same
    )
    escalated, _ = issue_access_token(
        role="admin", secret=secret, lifetime=timedelta(hours=1), **same
    )
    url = f"/api/v1/households/{world.ids['household-a']}/balance"
    with api.client() as c:
        assert c.get(url).status_code == 401
    for token in (expired, forged, escalated, "not-a-jwt"):
        with api.client(token) as c:
            r = c.get(url)
            assert r.status_code == 401, token
            assert r.headers["www-authenticate"] == "Bearer"


def test_roles_are_enforced(api: ApiServer, world: World) -> None:
    with api.client() as c:
        collector = login(c, "collector-a")
        operator = login(c, "operator")
    with api.client(collector) as c:
        assert c.get("/api/v1/households").status_code == 403
    with api.client(operator) as c:  # operators may not create users or provision devices
        r = c.post(
            "/api/v1/users", json={"username": "x-user", "password": PASSWORD, "role": "admin"}
        )
        assert r.status_code == 403
        assert (
            c.post("/api/v1/devices", json={"device_id": "st-x1", "kind": "station"}).status_code
            == 403
        )


def test_deactivating_a_user_or_household_ends_its_tokens_at_once(
    api: ApiServer, world: World
) -> None:
    with api.client() as c:
        admin = login(c, "admin")
        col = login(c, "collector-b")
        hh = household_login(c, "M-B", world.pins["M-B"])
    with api.client(col) as c:
        assert c.get("/api/v1/auth/me").status_code == 200
    with api.client(admin) as c:
        r = c.patch(f"/api/v1/users/{world.ids['collector-b']}", json={"active": False})
        assert r.status_code == 200
        r = c.post(f"/api/v1/households/{world.ids['household-b']}/deactivate")
        assert r.status_code == 200
    for token in (col, hh):
        with api.client(token) as c:
            assert c.get("/api/v1/auth/me").status_code == 401
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json={"username": "collector-b", "password": PASSWORD})
        assert r.status_code == 401


def test_login_throttle_answers_429_with_retry_after(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    world = world_sqlite
    # a first delay longer than this test, whatever the machine's load
    settings = settings_for(sqlite_url, tmp_path, login_throttle={"base_delay_s": 60})
    with serve(settings) as api, api.client() as c:
        limit = api.app.state.api.throttle.pair.free
        bad = {"member_no": "M-A", "pin": "0000"}
        codes = [c.post("/api/v1/auth/household-login", json=bad).status_code for _ in range(limit)]
        assert codes == [401] * limit
        r = c.post(
            "/api/v1/auth/household-login", json={"member_no": "M-A", "pin": world.pins["M-A"]}
        )
        assert r.status_code == 429  # even the right PIN waits out the delay
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["type"].endswith("/too-many-logins")
        # the block is per member number + address: another household is unaffected
        assert household_login(c, "M-B", world.pins["M-B"])


def test_there_is_no_built_in_jwt_secret(tmp_path: Path) -> None:
    """No secret, a placeholder or a short one: the API refuses to start, in development
    too (mutant: a default secret in ApiSettings -> the first case passes -> fails)."""
    for env in ("development", "production"):
        with pytest.raises(ValidationError, match="jwt_secret"):
            ApiSettings(environment=env, mqtt={"password": "a-real-broker-password"})
        for secret in ("changeme", "dev-only-insecure-jwt-secret-not-for-production", "short"):
            with pytest.raises(ValidationError, match="jwt_secret"):
                ApiSettings(
                    environment=env, jwt_secret=secret, mqtt={"password": "a-real-broker-password"}
                )
    ok = ApiSettings(
        environment="production", jwt_secret="x" * 40, mqtt={"password": "a-real-broker-password"}
    )
    assert ok.redacted()["jwt_secret"] == "**********"
    assert ok.cors_origins == []  # CORS off by default
    assert ok.timezone == "Asia/Jakarta"


def test_settings_come_from_the_api_table_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "salinmas.toml"
    conf.write_text('[api]\nport = 9000\ntimezone = "Asia/Makassar"\n[api.mqtt]\nhost = "b"\n')
    monkeypatch.setenv("SALINMAS_API_ACCESS_TOKEN_LIFETIME_S", "600")
    monkeypatch.setenv("SALINMAS_API_JWT_SECRET", "y" * 40)
    s = ApiSettings.load(conf)
    assert (s.port, s.timezone, s.mqtt.host, s.access_token_lifetime_s) == (
        9000,
        "Asia/Makassar",
        "b",
        600,
    )
