"""The login throttle: counted before checked, by account and by source, no lockout.

Addresses are simulated the way a reverse proxy reports them: the test server trusts
127.0.0.1 as its proxy and each request carries ``X-Forwarded-For``.

Mutants (each applied by hand, each fails a test here):
  mutant: reserve() skips the "source" key (only pair/account/network counted) -> PIN
          spraying across 48 member numbers sees no 429 -> fails
  mutant: reserve() no longer refuses delayed keys (``wait`` ignored) -> fails
  mutant: the attempt is counted after the hash check instead of before (reserve moved
          after verify) -> 30 parallel guesses all reach the hash -> fails
  mutant: Limit.delay ignores max_delay (no cap) -> the owner's Retry-After exceeds the
          account cap -> fails
  mutant: client_address takes the leftmost X-Forwarded-For hop -> rotating a spoofed
          leftmost value escapes the source limit -> fails
  mutant: client_address believes X-Forwarded-For from any peer -> fails (unit test)
  mutant: the secret is verified inside the reserve transaction (write lock held) ->
          the probe cannot take SQLite's write lock during verification -> fails
  mutant: _dummy_hash computed at import -> the import probe sees it cached -> fails
  mutant: network_of uses /32 (the address itself) -> the /24 cap never trips -> fails
"""

from __future__ import annotations

import concurrent.futures as cf
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.clientaddr import client_address, parse_networks
from cloud.auth import verify_secret
from tests.api.support import ApiServer, World, serve, settings_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PROXY = {"trusted_proxies": ["127.0.0.1/32"]}
HH_LOGIN = "/api/v1/auth/household-login"


def attempt(api: ApiServer, member_no: str, pin: str, address: str) -> httpx.Response:
    with api.client() as c:
        return c.post(
            HH_LOGIN,
            json={"member_no": member_no, "pin": pin},
            headers={"X-Forwarded-For": address},
        )


@pytest.fixture
def throttled(
    seeded_ledger_url: tuple[str, World], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ApiServer, World, str]]:
    url, world = seeded_ledger_url
    # a long first delay, so no delay runs out while a test runs (exact counts)
    limits = {"base_delay_s": 60, **getattr(request, "param", {})}
    # a patient admission queue: argon2 on a busy 2-core box must not turn into 503s here
    settings = settings_for(
        url, tmp_path, **PROXY, login_throttle=limits, admission={"queue_wait_s": 60}
    )
    with serve(settings) as server:
        yield server, world, url


def test_pin_spraying_from_one_address_is_limited(
    throttled: tuple[ApiServer, World, str],
) -> None:
    api, _, _ = throttled
    codes = Counter(
        attempt(api, f"M-SPRAY-{i}", "0000", "203.0.113.7").status_code for i in range(48)
    )
    free = api.app.state.api.throttle.source.free
    assert codes[401] == free  # every member number tried once: only the source counts
    assert codes[429] == 48 - free


@pytest.mark.parametrize(
    "throttled",
    [{"pair_free": 3, "account_free": 4, "account_max_delay_s": 2, "base_delay_s": 1}],
    indirect=True,
)
def test_strangers_cannot_lock_the_owner_out(throttled: tuple[ApiServer, World, str]) -> None:
    api, world, _ = throttled
    for n in range(12):  # strangers, each from its own address, guess household A's PIN
        r = attempt(api, "M-A", "0000", f"198.51.{n}.9")
        assert r.status_code in (401, 429)
    r = attempt(api, "M-A", world.pins["M-A"], "192.0.2.10")  # the owner, at home
    if r.status_code == 429:  # slowed down at most by the account's cap, never locked out
        assert 1 <= int(r.headers["retry-after"]) <= 2
        wait_until(
            lambda: attempt(api, "M-A", world.pins["M-A"], "192.0.2.10").status_code == 200,
            10,
            "the owner's login",
        )
    else:
        assert r.status_code == 200


@pytest.mark.parametrize("throttled", [{"network_free": 6}], indirect=True)
def test_a_whole_address_range_is_capped(throttled: tuple[ApiServer, World, str]) -> None:
    api, _, _ = throttled
    for n in range(6):  # six addresses of one /24, one wrong guess each
        assert attempt(api, f"M-NET-{n}", "0000", f"198.51.100.{n + 1}").status_code == 401
    assert attempt(api, "M-NET-X", "0000", "198.51.100.200").status_code == 429
    assert attempt(api, "M-NET-Y", "0000", "198.51.101.200").status_code == 401  # next /24


def test_parallel_guesses_are_counted_before_the_hash_is_checked(
    throttled: tuple[ApiServer, World, str],
) -> None:
    """30 guesses at once on one account from one address (SQLite and PostgreSQL)."""
    api, _, _ = throttled
    barrier = threading.Barrier(30)

    def guess(_: int) -> int:
        with api.client() as c:
            barrier.wait()
            return c.post(
                HH_LOGIN,
                json={"member_no": "M-A", "pin": "0000"},
                headers={"X-Forwarded-For": "203.0.113.50"},
            ).status_code

    with cf.ThreadPoolExecutor(30) as pool:
        codes = Counter(pool.map(guess, range(30)))
    assert codes[401] == api.app.state.api.throttle.pair.free  # checked: 5, not 20 of 30
    assert codes[429] == 30 - codes[401], codes


def test_a_spoofed_leftmost_forwarded_hop_changes_nothing(
    throttled: tuple[ApiServer, World, str],
) -> None:
    api, _, _ = throttled
    codes = Counter()
    for i in range(30):  # the client invents a new leftmost hop each time
        with api.client() as c:
            r = c.post(
                HH_LOGIN,
                json={"member_no": "M-A", "pin": "0000"},
                headers={"X-Forwarded-For": f"10.9.{i}.1, 203.0.113.99"},
            )
        codes[r.status_code] += 1
    assert codes[429] > 0
    assert codes[401] == api.app.state.api.throttle.pair.free


def test_forwarded_headers_are_believed_only_from_trusted_proxies() -> None:
    nets = parse_networks(["10.0.0.0/8", "2001:db8::/32"])
    assert client_address("10.0.0.2", "6.6.6.6, 203.0.113.9", nets) == "203.0.113.9"
    assert client_address("10.0.0.2", "203.0.113.9, 10.0.0.7", nets) == "203.0.113.9"
    assert client_address("198.51.100.7", "203.0.113.9", nets) == "198.51.100.7"
    assert client_address("10.0.0.2", "garbage, 203.0.113.9", nets) == "203.0.113.9"
    assert client_address("10.0.0.2", "203.0.113.9, garbage", nets) == "10.0.0.2"
    assert client_address("10.0.0.2", None, nets) == "10.0.0.2"
    assert client_address("2001:db8::1", "2001:db9::5", nets) == "2001:db9::5"
    assert client_address("198.51.100.7", "203.0.113.9", []) == "198.51.100.7"


def test_the_secret_is_checked_outside_any_write_transaction(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    """While a login's argon2 verification runs, another writer can take SQLite's lock."""
    from cloud.api.app import create_app

    app = create_app(settings_for(sqlite_url, tmp_path))
    db = sqlite_url.removeprefix("sqlite:///")
    probes: list[bool] = []

    def probing_verify(secret: str, encoded: str | None) -> bool:
        conn = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # fails at once if a write lock is held
            conn.execute("ROLLBACK")
            probes.append(True)
        except sqlite3.OperationalError:
            probes.append(False)
        finally:
            conn.close()
        return verify_secret(secret, encoded)

    app.state.api.verify = probing_verify
    with serve(app.state.api.settings, app=app) as api, api.client() as c:
        for pin in ("0000", world_sqlite.pins["M-A"]):
            c.post(HH_LOGIN, json={"member_no": "M-A", "pin": pin})
        r = c.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "x" * 12})
        assert r.status_code == 401
    assert probes == [True, True, True]


def test_no_password_hash_is_computed_at_import() -> None:
    code = "import cloud.auth as a; print(a._dummy_hash.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
