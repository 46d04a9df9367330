"""The clock rule (:mod:`cloud.clock`): a synced device clock counts unless too far ahead.

mutant: trust an unsynced clock (drop ``clock_synced and``) -> test_unsynced fails
mutant: no bound on a clock ahead (drop the MAX_CLOCK_AHEAD check) -> test_ahead fails
mutant: ``<`` for ``<=`` at the bound -> test_exactly_at_the_bound fails
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.clock import MAX_CLOCK_AHEAD, event_time

RX = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def test_a_synced_clock_in_the_past_counts() -> None:
    assert event_time(RX - timedelta(hours=3), True, RX) == RX - timedelta(hours=3)


def test_unsynced_clock_gives_the_receive_time() -> None:
    assert event_time(RX - timedelta(hours=3), False, RX) == RX


def test_ahead_beyond_the_bound_gives_the_receive_time() -> None:
    assert event_time(RX + MAX_CLOCK_AHEAD + timedelta(seconds=1), True, RX) == RX


def test_exactly_at_the_bound_is_still_trusted() -> None:
    assert event_time(RX + MAX_CLOCK_AHEAD, True, RX) == RX + MAX_CLOCK_AHEAD
