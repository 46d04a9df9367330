"""Households: deterministic, plausible visits and weights."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from contract.topics import valid_device_id
from edge.firmware_bridge.cards.parsers import CARD_ID_PATTERN
from simulators.households import CATEGORIES, Population, sample_grams

STATIONS = ["st-bank01", "st-bank02"]
MONDAY = date(2026, 11, 30)


def test_deterministic_and_order_independent() -> None:
    a = Population(50, stations=STATIONS, seed=9)
    b = Population(50, stations=STATIONS, seed=9)
    assert [h.card_id for h in a.households] == [h.card_id for h in b.households]
    b.visits_on(date(2026, 12, 5))  # asking for another day first changes nothing
    assert a.visits_on(MONDAY) == b.visits_on(MONDAY)
    assert Population(50, stations=STATIONS, seed=10).visits_on(MONDAY) != a.visits_on(MONDAY)


def test_members_and_cards_are_unique_and_valid() -> None:
    import re

    people = Population(300, stations=STATIONS, seed=1)
    cards = [h.card_id for h in people.households]
    assert len(set(cards)) == 300
    assert all(re.fullmatch(CARD_ID_PATTERN, c) for c in cards)
    assert len({h.member_no for h in people.households}) == 300
    assert people.by_card(cards[5]) is people.households[5]
    assert all(valid_device_id(h.home_station) for h in people.households)


def test_visits_in_opening_hours_closed_on_sunday() -> None:
    people = Population(200, stations=STATIONS, seed=2)
    tz = ZoneInfo("Asia/Jakarta")
    visits = people.visits_on(MONDAY)
    assert 20 < len(visits) < 150  # 0.5-3 visits a week each
    assert visits == sorted(visits)
    assert all(7 <= v.at.astimezone(tz).hour < 16 for v in visits)
    assert all(v.at.astimezone(tz).date() == MONDAY for v in visits)
    assert all(v.items for v in visits)
    assert people.visits_on(date(2026, 12, 6)) == []  # Sunday


def test_visits_between_spans_days() -> None:
    people = Population(100, stations=STATIONS, seed=3)
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    end = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    visits = people.visits_between(start, end)
    assert all(start <= v.at < end for v in visits)
    assert len({v.at.date() for v in visits}) >= 3


def test_weights_per_category_are_plausible() -> None:
    rng = random.Random(4)
    medians = {c: statistics.median(sample_grams(c, rng) for _ in range(2000)) for c in CATEGORIES}
    assert medians["organic"] > medians["plastic-pet"] > medians["metal"]
    assert 2_500 < medians["organic"] < 3_500
    assert all(sample_grams("metal", rng) >= 50 for _ in range(500))


def test_validation() -> None:
    with pytest.raises(ValueError, match="size"):
        Population(0, stations=STATIONS)
    with pytest.raises(ValueError, match="station"):
        Population(5, stations=[])


def test_given_cards_and_random_visits() -> None:
    cards = [f"0A{i + 0x10000:08X}" for i in range(12)]
    people = Population(12, stations=STATIONS, seed=4, card_ids=cards)
    assert [h.card_id for h in people.households] == cards
    rng = random.Random(1)
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    visits = [people.random_visit(at, "st-bank02", rng) for _ in range(50)]
    assert all(v.household.card_id in cards and v.items for v in visits)
    assert all(v.station_id == "st-bank02" for v in visits)
    with pytest.raises(ValueError, match="distinct"):
        Population(3, stations=STATIONS, card_ids=["A", "A", "B"])
