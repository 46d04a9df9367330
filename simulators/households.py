"""A population of households bringing sorted waste to the waste bank's scale stations.

Each :class:`Household` has a member number, a member card (an RDM6300 card id), a home
station and habits: how often it comes and which categories it sorts. On any day,
:meth:`Population.visits_on` says who comes, when (opening hours, with the morning and
afternoon peaks of a Banyumas waste bank; closed on Sundays) and with what: one bag per
category, its weight drawn from a per-category log-normal distribution (organic waste
comes in kilos, metal in a few hundred grams).

Everything is deterministic for a seed, and a day's visits do not depend on which other
days were asked for first.

Example::

    people = Population(40, stations=["st-bank01", "st-bank02"], seed=7)
    for visit in people.visits_on(date(2026, 12, 1)):
        print(visit.at, visit.household.member_no, visit.station_id, visit.items)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from simulators.cards import card_id_from_tag

#: waste categories (contract slugs) the population sorts into by default
CATEGORIES: tuple[str, ...] = ("organic", "plastic-pet", "plastic-mixed", "paper", "metal", "glass")

#: per category: (median kg of one bag, log-normal sigma, share of households sorting it)
BAGS: dict[str, tuple[float, float, float]] = {
    "organic": (3.0, 0.45, 0.55),
    "plastic": (0.9, 0.55, 0.90),
    "plastic-pet": (0.7, 0.55, 0.85),
    "plastic-mixed": (1.1, 0.55, 0.70),
    "paper": (1.6, 0.55, 0.60),
    "metal": (0.45, 0.65, 0.35),
    "glass": (1.4, 0.50, 0.25),
}

#: visits per local opening hour (07:00-15:59): mornings before the heat, and after Asr
OPENING_HOURS: dict[int, float] = {
    7: 1.0,
    8: 2.2,
    9: 2.0,
    10: 1.4,
    11: 0.8,
    12: 0.4,
    13: 0.6,
    14: 1.2,
    15: 1.5,
}

_GIVEN = (
    "Sari",
    "Budi",
    "Wati",
    "Agus",
    "Siti",
    "Joko",
    "Dewi",
    "Eko",
    "Rina",
    "Bambang",
    "Yuli",
    "Hadi",
    "Tuti",
    "Slamet",
    "Ani",
    "Teguh",
    "Endang",
    "Wahyu",
    "Lestari",
    "Darto",
)
_FAMILY = (
    "Susanto",
    "Wibowo",
    "Rahayu",
    "Prasetyo",
    "Nugroho",
    "Utami",
    "Santoso",
    "Purnomo",
    "Hartono",
    "Kusuma",
    "Setiawan",
    "Handayani",
)


def sample_grams(category: str, rng: random.Random) -> int:
    """The weight of one bag of ``category`` in grams (log-normal, at least 50 g)."""
    median_kg, sigma, _ = BAGS.get(category, (1.0, 0.6, 0.5))
    kg = median_kg * math.exp(rng.gauss(0.0, sigma))
    return max(50, min(40_000, round(kg * 1000)))


@dataclass(frozen=True)
class Household:
    """One member household of the programme."""

    index: int
    member_no: str
    name: str
    card_id: str
    home_station: str
    visits_per_week: float
    sorts: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Visit:
    """A household at a station: one bag per category, weighed one after another."""

    at: datetime
    station_id: str
    household: Household = field(compare=False)
    items: tuple[tuple[str, int], ...] = field(compare=False)


class Population:
    """``size`` households spread over ``stations``, deterministic for ``seed``."""

    def __init__(
        self,
        size: int,
        *,
        stations: Sequence[str],
        seed: int = 0,
        tz: str = "Asia/Jakarta",
        categories: Sequence[str] = CATEGORIES,
        member_prefix: str = "BMS",
        card_ids: Sequence[str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if not stations:
            raise ValueError("at least one station is needed")
        if card_ids is not None and len(set(card_ids)) != size:
            raise ValueError(f"card_ids must be {size} distinct ids")
        unknown = [c for c in categories if not c.replace("-", "").replace("_", "").isalnum()]
        if unknown or not categories:
            raise ValueError(f"categories must be slugs, got {list(categories)}")
        self.seed = seed
        self.tz = ZoneInfo(tz)
        self.stations = tuple(stations)
        self.categories = tuple(categories)
        rng = random.Random(seed)
        tags = rng.sample(range(1_000_000, 99_999_999), size)
        cards = (
            list(card_ids)
            if card_ids is not None
            else [card_id_from_tag(t, version=0x1B) for t in tags]
        )
        self.households = [self._household(i, cards[i], rng, member_prefix) for i in range(size)]
        self._by_card = {h.card_id: h for h in self.households}

    def _household(self, i: int, card_id: str, rng: random.Random, prefix: str) -> Household:
        sorts = tuple(c for c in self.categories if rng.random() < BAGS.get(c, (0, 0, 0.5))[2])
        return Household(
            index=i,
            member_no=f"{prefix}-{i + 1:05d}",
            name=f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}",
            card_id=card_id,
            home_station=self.stations[i % len(self.stations)],
            visits_per_week=round(rng.uniform(0.5, 3.0), 2),
            sorts=sorts or (self.categories[0],),
        )

    def by_card(self, card_id: str) -> Household | None:
        return self._by_card.get(card_id)

    def random_visit(self, at: datetime, station_id: str, rng: random.Random) -> Visit:
        """A visit by a random household (the busier ones more often) at ``at``."""
        weights = [h.visits_per_week for h in self.households]
        h = rng.choices(self.households, weights)[0]
        items = tuple((c, sample_grams(c, rng)) for c in h.sorts if rng.random() < 0.8)
        return Visit(at, station_id, h, items or ((h.sorts[0], sample_grams(h.sorts[0], rng)),))

    def visits_on(self, day: date) -> list[Visit]:
        """Every visit on local calendar ``day``, in time order."""
        if day.weekday() == 6:  # closed on Sundays
            return []
        hours = list(OPENING_HOURS)
        weights = list(OPENING_HOURS.values())
        visits = []
        for h in self.households:
            rng = random.Random(f"{self.seed}:{day.toordinal()}:{h.index}")
            if rng.random() >= h.visits_per_week / 6:
                continue
            hour = rng.choices(hours, weights)[0]
            local = datetime.combine(day, time(hour), self.tz) + timedelta(
                seconds=rng.randrange(3600)
            )
            station = h.home_station if rng.random() < 0.9 else rng.choice(self.stations)
            items = tuple((c, sample_grams(c, rng)) for c in h.sorts if rng.random() < 0.8) or (
                (h.sorts[0], sample_grams(h.sorts[0], rng)),
            )
            visits.append(Visit(local.astimezone(UTC), station, h, items))
        return sorted(visits)

    def visits_between(self, start: datetime, end: datetime) -> list[Visit]:
        """Visits with ``start <= at < end`` (aware datetimes), in time order."""
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        out: list[Visit] = []
        day = first
        while day <= last:
            out.extend(v for v in self.visits_on(day) if start <= v.at < end)
            day += timedelta(days=1)
        return out
