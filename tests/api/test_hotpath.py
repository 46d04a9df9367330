"""The balance lookup's fast path (:mod:`cloud.api.hotpath`) answers as the route does.

Two APIs serve one seeded ledger, one with ``fast_balance`` and one without; every caller
(each role of both sites, a household, no token, a forged or malformed one) asks for
every kind of account id (its own, another site's, none, out of range, with a query
string, by HEAD). The status, the headers and the body must be the same from both: the
fast path answers the plain success and leaves every refusal to the route. Its counter
shows it really answered the successes (and nothing else).

Mutants (each applied by hand, each fails here):
  mutant: the fast path skips the reach rule (token and role only) -> admin's 200 for an
          unknown household where the route says 404
  mutant: the fast path skips the role rule (token and reach only) -> a collector's 200
          where the route says 403
  mutant: the fast path remembers a (token, household) it once admitted -> the
          logged-out token answered 200 (401 expected)
  mutant: the fast path answers ``text/plain`` -> the headers differ
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.api.hotpath import HotReads
from tests.api.support import ApiServer, World, household_login, login, serve, settings_for

pytestmark = pytest.mark.integration

STAFF = ("admin", "auditor", "operator", "cashier", "collector-a", "operator-2", "cashier-2")
#: headers that differ between two servers by nature
VARYING = {"date", "server"}


@pytest.fixture
def pair(
    seeded_ledger_url: tuple[str, World], tmp_path: Path
) -> Iterator[tuple[ApiServer, ApiServer, World]]:
    url, world = seeded_ledger_url
    for name in ("fast", "slow"):
        (tmp_path / name).mkdir()
    with (
        serve(settings_for(url, tmp_path / "fast", fast_balance=True)) as fast,
        serve(settings_for(url, tmp_path / "slow", fast_balance=False)) as slow,
    ):
        yield fast, slow, world


def _hot(server: ApiServer) -> HotReads | None:
    """The app's :class:`HotReads` layer, if it has one."""
    layer: Any = server.app.middleware_stack
    while layer is not None:
        if isinstance(layer, HotReads):
            return layer
        layer = getattr(layer, "app", None)
    return None


def _answer(r: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in r.headers.items() if k not in VARYING)
    return r.status_code, headers, r.content


def test_every_caller_and_id_gets_the_routes_answer(
    pair: tuple[ApiServer, ApiServer, World],
) -> None:
    fast, slow, world = pair
    with fast.client() as c:
        tokens: dict[str, str | None] = {u: login(c, u) for u in STAFF}
        tokens["household-a"] = household_login(c, "M-A", world.pins["M-A"])
    tokens["nobody"] = None
    a, c_ = world.ids["household-a"], world.ids["household-c"]
    paths = [f"/api/v1/households/{hid}/balance" for hid in (a, c_, 999_999)]
    paths += [
        "/api/v1/households/0/balance",
        f"/api/v1/households/{2**31}/balance",
        f"/api/v1/households/{a}/balance?x=1",
        f"/api/v1/households/0{a}/balance",
    ]
    malformed = {
        "forged": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "bare": {"Authorization": "Bearer"},
    }
    successes = 0
    before = _hot(fast)
    assert before is not None
    assert _hot(slow) is None
    with (
        httpx.Client(base_url=fast.url, timeout=30) as f,
        httpx.Client(base_url=slow.url, timeout=30) as s,
    ):
        cases: list[tuple[str, dict[str, str]]] = [
            (who, {"Authorization": f"Bearer {tok}"} if tok else {}) for who, tok in tokens.items()
        ]
        cases += list(malformed.items())
        cases.append(("lowercase", {"Authorization": f"bearer {tokens['admin']}"}))
        for who, headers in cases:
            for path in paths:
                for method in ("GET", "HEAD"):
                    got = _answer(f.request(method, path, headers=headers))
                    want = _answer(s.request(method, path, headers=headers))
                    assert got == want, (who, method, path)
                    if got[0] == 200 and method == "GET" and "?" not in path and "/0" not in path:
                        successes += 1
    assert successes >= 8  # staff of site 1 and programme-wide staff, and the household
    assert before.answered == successes


def test_a_logged_out_token_is_refused_by_the_fast_path(
    pair: tuple[ApiServer, ApiServer, World],
) -> None:
    fast, _, world = pair
    path = f"/api/v1/households/{world.ids['household-a']}/balance"
    with fast.client() as c:
        token = household_login(c, "M-A", world.pins["M-A"])
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get(path, headers=auth).status_code == 200
        assert c.post("/api/v1/auth/logout", headers=auth).status_code in (200, 204)
        r = c.get(path, headers=auth)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == "application/problem+json"
