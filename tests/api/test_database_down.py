"""PostgreSQL goes away under the API: 503 with ``Retry-After``, never a 500; back, 200.

The balance (answered by the fast path on the event loop, :mod:`cloud.api.fastread`) and
an ORM route both meet a stopped database as "unavailable, retry": the API's own hot
reads raise :class:`~cloud.api.fastread.DatabaseUnavailable` (the driver's error would
otherwise be an unhandled 500), the ORM's errors are SQLAlchemy's ``OperationalError``.
When the database is back, the next requests are answered on fresh connections.

Mutants (each applied by hand, each fails here):
  mutant: the ``DatabaseUnavailable`` handler removed from cloud/api/errors.py -> 500
  mutant: the loop's connect error left as psycopg's own -> 500
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import _seed
from tests.api.support import household_login, serve, settings_for
from tests.support.services import PostgresServer

pytestmark = pytest.mark.integration


def _until(ask: httpx.Client, path: str, auth: dict[str, str], status: int) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        r = ask.get(path, headers=auth)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_a_stopped_database_answers_503_and_a_restarted_one_200(tmp_path: Path) -> None:
    pg = PostgresServer().start()
    try:
        url = pg.create_database(f"down_{uuid.uuid4().hex[:8]}")
        world = _seed(url)
        hh = world.ids["household-a"]
        with serve(settings_for(url, tmp_path)) as api, httpx.Client(base_url=api.url) as c:
            token = household_login(c, "M-A", world.pins["M-A"])
            auth = {"Authorization": f"Bearer {token}"}
            balance = f"/api/v1/households/{hh}/balance"
            payouts = f"/api/v1/households/{hh}/payouts"
            assert c.get(balance, headers=auth).status_code == 200
            assert c.get(payouts, headers=auth).status_code == 200

            pg.crash()  # down at once, every connection cut
            for path in (balance, payouts, balance):
                r = c.get(path, headers=auth)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"]
                assert r.json()["type"].endswith("database-unavailable")
            time.sleep(2.2)  # the caller's cached row expires: its token is read again
            r = c.get(balance, headers=auth)
            assert r.status_code == 503, r.text

            pg.start()
            assert _until(c, balance, auth, 200).status_code == 200
            assert _until(c, payouts, auth, 200).status_code == 200
    finally:
        pg.stop()
