"""Times on SQLite (:class:`cloud.models.base.UtcDateTime`): its one-step bind processing
writes the text SQLAlchemy's two steps wrote (process_bind_param, then the dialect's
``DATETIME`` format), so stored times compare and sort as before (issue 15).

mutant: the one step without ``astimezone(UTC)`` -> test_one_step_writes_sqlalchemys_text
mutant: the naive-datetime check left out -> test_a_naive_time_is_refused
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from cloud.models.base import UtcDateTime

SQLITE = sqlite.dialect()


def _times() -> list[datetime]:
    rng = random.Random(15)
    zones = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))]
    start = datetime(1000, 1, 2, tzinfo=UTC)
    out = [datetime(2026, 12, 2, 14, 0, tzinfo=UTC), datetime(9999, 12, 31, 12, tzinfo=UTC)]
    for _ in range(2_000):
        t = start + timedelta(seconds=rng.uniform(0, 2.5e11), microseconds=rng.randrange(10**6))
        out.append(
            t.astimezone(rng.choice(zones)).replace(
                microsecond=rng.choice([0, 7, 999_999, t.microsecond])
            )
        )
    return out


def test_one_step_writes_sqlalchemys_text() -> None:
    col = UtcDateTime()
    fast = col.dialect_impl(SQLITE).bind_processor(SQLITE)
    text = DATETIME().bind_processor(SQLITE)
    assert fast is not None
    assert text is not None
    assert fast(None) is None
    for t in _times():
        assert fast(t) == text(col.process_bind_param(t, SQLITE)), t


def test_a_naive_time_is_refused() -> None:
    fast = UtcDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert fast is not None
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 12, 2, 14, 0))


def test_postgresql_keeps_the_aware_time() -> None:
    pg = postgresql.dialect()
    process = UtcDateTime().dialect_impl(pg).bind_processor(pg)
    t = datetime(2026, 12, 2, 21, 0, tzinfo=timezone(timedelta(hours=7)))
    value = process(t) if process is not None else UtcDateTime().process_bind_param(t, pg)
    assert value == t
    assert value.tzinfo is UTC
