"""200 clients for 15 s on PostgreSQL: reads and writes, no 5xx, /health always answers.

Runs :mod:`bench.api_load` (the API as its own process, 200 keep-alive clients looping
over balances, statements, household lists and payout requests, /health probed every
50 ms on its own connection) and asserts on what it saw. The figures (requests per
second, p99s) are printed, never asserted: performance belongs to ``bench/``. The load is
the bench's (200 closed-loop clients, the same mix), held for 15 s: every client is past
its login and in its loop within the first seconds, so a 5xx or an unanswered /health
under this load shows up in 15 s as in 60; the minute-long run is the bench's
(``python -m bench.api_load``, docs/benchmarks.md).

The admission queue wait is raised to 30 s here: the test runs on a 2-core machine shared
with other jobs, where 200 clients can queue for seconds without anything being wrong;
what must never happen is a 5xx or an unanswered /health. The separate overload case
gives the API 2 slots and a 50 ms wait: 503 with ``Retry-After`` is then expected, and
still no other 5xx and no unanswered /health.

Mutants (applied by hand, each fails a test here):
  mutant: AdmissionMiddleware admits everything -> no 503 in the overload case -> fails
  mutant: 503 sent without Retry-After (header dropped in gate.py) -> fails
  mutant: balance read on the event loop (run_db removed in accounts.py) -> /health
          probes wait behind database calls; with the overload case's 200 clients the
          probe exceeds its bound or the pool times out (500) -> fails
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bench.api_load import prepare, run_load
from tests.support.ledgers import LedgerTemplates
from tests.support.services import PostgresServer

pytestmark = pytest.mark.integration

PATIENT = "[api.admission]\nqueue_wait_s = 30\n"
#: how long the 200 clients run (the bench's default run is 60 s)
SECONDS = 15


@pytest.fixture
def prepared(
    postgres: PostgresServer, ledger_templates: LedgerTemplates
) -> tuple[str, list[tuple[int, str, str]]]:
    """A copy of one ledger prepared for both tests (30 households: ~10 s of PIN hashing
    and crediting on a loaded host, a copy ~0.2 s)."""
    return ledger_templates.create_postgres(
        postgres, f"api_load_{uuid.uuid4().hex[:8]}", "api_load", lambda url: prepare(url, 30)
    )


@pytest.mark.timeout(900)  # 15 s of load plus seeding and start-up, on a shared 2-core host
def test_200_clients_for_15_seconds_no_5xx_and_health_answers(
    prepared: tuple[str, list[tuple[int, str, str]]], tmp_path: Path
) -> None:
    url, hhs = prepared
    res = run_load(url, tmp_path, hhs, clients=200, seconds=SECONDS, settings=PATIENT)
    summary = res.summary()
    print(summary)
    assert not res.server_errors, res.server_errors[:5]
    assert res.retry_after_503 == res.bare_503 == 0
    assert not res.health_failures, res.health_failures[:5]
    assert len(res.health_ms) > SECONDS  # probed all along (every 50 ms + latency)
    # reads and writes both went through
    assert res.statuses["balance 200"] > 0
    assert res.statuses["statement 200"] > 0
    assert res.statuses["payout 201"] > 0


def test_deliberate_overload_answers_503_with_retry_after_only(
    prepared: tuple[str, list[tuple[int, str, str]]], tmp_path: Path
) -> None:
    url, hhs = prepared
    res = run_load(url, tmp_path, hhs, clients=200, seconds=10, overload=True)
    print(res.summary())
    assert res.retry_after_503 > 0
    assert res.bare_503 == 0
    assert not res.server_errors, res.server_errors[:5]
    assert not res.health_failures, res.health_failures[:5]
