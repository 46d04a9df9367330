"""The whole regency: Kabupaten Banyumas served by one programme, as data and as a day.

:class:`Regency` lays out ~550,000 households over one site (waste bank) per desa and
kelurahan of the 27 kecamatan (:mod:`simulators.regency_names`, ~330 sites), each site
with its scale stations, bins and collectors in proportion to its households (2,000
stations, 20,000 bins and 300 collectors by default), a member card per household and a
year of price history. Then, for any time window, what the regency does:

- :meth:`Regency.weighins`: each household weighs in about once a week (a chance of
  1/7 a day), one bag at its home station at an hour drawn from the waste banks' opening
  hours (:data:`simulators.households.OPENING_HOURS`: ~78,600 weigh-ins a day, the busiest
  hour ~15,600);
- :meth:`Regency.fill_level`: every bin fills at its own rate (full in 2-6 days) and is
  emptied by its collector at 85-99 %; it reports every 5 minutes (``BIN_REPORT_S``) at
  its own phase;
- :meth:`Regency.doorstep`: JEKNYONG, plastic picked up at the door: a household asks
  (0.5 % of them a day), a collector of its kecamatan comes 2-6 hours later and weighs
  one or two bags;
- :meth:`Regency.payouts`: 1 % of the households a day withdraw part of their savings at
  their waste bank.

Everything is a pure function of the seed and the time: the same window gives the same
events whichever process asks (the bench's device shards, its operator desk and its
seeder each build their own :class:`Regency`). No I/O here.

Example::

    r = Regency(RegencyConfig(households=10_000, stations=40, bins=400, collectors=6))
    day = datetime(2026, 12, 1, tzinfo=r.tz)
    plans = r.weighins(day, day + timedelta(days=1))      # ~1,430 WeighinPlan
    r.fill_level(0, day.timestamp())                       # bin 0's level, percent
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from simulators.households import _FAMILY, _GIVEN, BAGS, CATEGORIES, OPENING_HOURS, sample_grams
from simulators.regency_names import KECAMATAN

TZ = ZoneInfo("Asia/Jakarta")
#: a bin reports its level this often (the edge's default sample interval is 60 s; a
#: regency-wide fleet reports every 5 minutes, as the issue asks)
BIN_REPORT_S = 300
#: what a bin sensor's empty depth reads (mm), for ``distance_mm``
EMPTY_DEPTH_MM = 1000
#: base price (rupiah per kg) of each category a year ago
BASE_PRICES = {
    "organic": 500,
    "plastic-pet": 3500,
    "plastic-mixed": 1500,
    "paper": 1800,
    "metal": 4000,
    "glass": 300,
}
#: JEKNYONG collects plastic only
DOORSTEP_CATEGORIES = ("plastic-pet", "plastic-mixed")
#: a doorstep request is picked up 2 to this many hours after it was asked
DOORSTEP_DONE_WITHIN_H = 6
#: a station's scale division (grams); the edge captures nothing below 20 d
DIVISION_G = 10


@dataclass(frozen=True)
class RegencyConfig:
    households: int = 550_000
    stations: int = 2_000
    bins: int = 20_000
    collectors: int = 300
    seed: int = 0
    #: chance a household weighs in on a given day (about once a week)
    weighin_per_day: float = 1 / 7
    doorstep_per_day: float = 0.005
    payout_per_day: float = 0.01

    def __post_init__(self) -> None:
        sites = sum(len(k.desa) for k in KECAMATAN)
        if self.households < sites or self.stations < sites or self.bins < sites:
            raise ValueError(f"need at least one household, station and bin per site ({sites})")
        if self.collectors < 1:
            raise ValueError("need at least one collector")


@dataclass(frozen=True)
class Site:
    index: int
    code: str
    name: str
    kecamatan: int  # index into KECAMATAN
    lat: float
    lon: float
    households: range
    stations: range
    bins: range


class WeighinPlan(NamedTuple):
    t: float  # epoch seconds
    station: int
    household: int
    category: str
    net_g: int


class DoorstepPlan(NamedTuple):
    requested: float  # epoch seconds
    done: float  # when the collector weighs it (may lie after the window)
    household: int
    collector: int
    bags: tuple[tuple[str, int], ...]


class PayoutPlan(NamedTuple):
    t: float
    household: int
    #: share of the available balance asked for (the teller rounds to Rp 1.000)
    share: float


class BinPlan(NamedTuple):
    phase_s: float
    rate_pct_per_h: float
    empty_at_pct: float
    offset_pct: float
    category: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _spread(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """``total`` split in proportion to ``weights``, each at least ``minimum`` (largest
    remainders), so the parts add up exactly."""
    base = [minimum] * len(weights)
    rest = total - minimum * len(weights)
    wsum = sum(weights)
    exact = [rest * w / wsum for w in weights]
    parts = [b + int(e) for b, e in zip(base, exact, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _ranges(counts: list[int]) -> list[range]:
    out, start = [], 0
    for n in counts:
        out.append(range(start, start + n))
        start += n
    return out


class Regency:
    """The regency's sites, households, devices and collectors (see the module docs)."""

    def __init__(self, config: RegencyConfig | None = None) -> None:
        self.config = c = config or RegencyConfig()
        self.tz = TZ
        rng = random.Random(f"regency:{c.seed}")
        places = [(k, d) for k, kec in enumerate(KECAMATAN) for d in kec.desa]
        weights = [
            KECAMATAN[k].population_k / len(KECAMATAN[k].desa) * rng.uniform(0.7, 1.3)
            for k, _ in places
        ]
        hh = _ranges(_spread(c.households, weights))
        st = _ranges(_spread(c.stations, weights))
        bn = _ranges(_spread(c.bins, weights))
        self.sites: list[Site] = []
        for i, ((k, desa), h, s, b) in enumerate(zip(places, hh, st, bn, strict=True)):
            kec = KECAMATAN[k]
            code = f"{_slug(kec.name)[:16]}-{_slug(desa)[:20]}"
            self.sites.append(
                Site(
                    i,
                    code,
                    f"Bank Sampah {desa}, {kec.name}",
                    k,
                    round(kec.lat + rng.uniform(-0.03, 0.03), 5),
                    round(kec.lon + rng.uniform(-0.03, 0.03), 5),
                    h,
                    s,
                    b,
                )
            )
        if len({s.code for s in self.sites}) != len(self.sites):
            raise ValueError("site codes are not unique")
        self._hh_starts = [s.households.start for s in self.sites]
        self._st_starts = [s.stations.start for s in self.sites]
        self._bin_starts = [s.bins.start for s in self.sites]
        # collectors per kecamatan, in proportion to its households; each belongs to
        # (and is counted at) one of its kecamatan's sites
        kec_hh = [0.0] * len(KECAMATAN)
        for site in self.sites:
            kec_hh[site.kecamatan] += len(site.households)
        per_kec = _spread(c.collectors, kec_hh, minimum=1 if c.collectors >= len(KECAMATAN) else 0)
        self.collector_site: list[int] = []
        self._kec_collectors: list[range] = _ranges(per_kec)
        for k, n in enumerate(per_kec):
            sites = [s.index for s in self.sites if s.kecamatan == k]
            self.collector_site += [sites[j % len(sites)] for j in range(n)]
        self.bins = [self._bin_plan(rng) for _ in range(c.bins)]

    # ----------------------------------------------------------------- identities

    def site_of_household(self, i: int) -> Site:
        return self.sites[bisect.bisect_right(self._hh_starts, i) - 1]

    def site_of_station(self, j: int) -> Site:
        return self.sites[bisect.bisect_right(self._st_starts, j) - 1]

    def site_of_bin(self, k: int) -> Site:
        return self.sites[bisect.bisect_right(self._bin_starts, k) - 1]

    def home_station(self, i: int) -> int:
        s = self.site_of_household(i)
        return s.stations.start + (i - s.households.start) % len(s.stations)

    @staticmethod
    def station_id(j: int) -> str:
        return f"st-{j + 1:04d}"

    @staticmethod
    def bin_id(k: int) -> str:
        return f"bin-{k + 1:05d}"

    @staticmethod
    def collector_username(c: int) -> str:
        return f"kolektor-{c + 1:03d}"

    @staticmethod
    def collector_device(c: int) -> str:
        """The collector's portable scale (a station device) that weighs at the door."""
        return f"col-{c + 1:03d}"

    @staticmethod
    def member_no(i: int) -> str:
        return f"BMS-{i + 1:07d}"

    @staticmethod
    def card_id(i: int) -> str:
        """Household ``i``'s RDM6300 card: version 0x1B, a 32-bit tag unique per household
        (an odd multiplier is a bijection modulo 2**32)."""
        return f"1B{(i * 2654435761 + 0x5A17) % 2**32:08X}"

    def collectors_of_site(self, site: int) -> range:
        return self._kec_collectors[self.sites[site].kecamatan]

    # ----------------------------------------------------------------- households

    def households(self) -> Iterator[tuple[int, str, str, str, str, int]]:
        """``(index, member_no, name, card_id, address, site index)`` of every household,
        in index order (one random stream: call once per seeding)."""
        rand = random.Random(f"households:{self.config.seed}").random
        names = [f"{g} {f}" for g in _GIVEN for f in _FAMILY]
        for s in self.sites:
            desa = KECAMATAN[s.kecamatan].desa[s.index - self._first_site(s.kecamatan)]
            places = [
                f"RT {rt:02d}/RW {rw:02d}, {desa}, {KECAMATAN[s.kecamatan].name}"
                for rt in range(1, 13)
                for rw in range(1, 9)
            ]
            for i in s.households:
                name = names[int(rand() * len(names))]
                address = places[int(rand() * len(places))]
                yield i, self.member_no(i), name, self.card_id(i), address, s.index

    def _first_site(self, kecamatan: int) -> int:
        return next(s.index for s in self.sites if s.kecamatan == kecamatan)

    def opening_balance(self, i: int) -> int:
        """Household ``i``'s savings when the simulation starts (rupiah, median ~Rp 30.000)."""
        rng = random.Random(i * 7919 + self.config.seed)
        return max(0, round(300 * math.exp(rng.gauss(0.0, 1.0))) * 100)

    # ----------------------------------------------------------------- prices

    def price_history(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """A year of versions per category: ``(category, rp_per_kg, effective_from)``,
        one every 1-3 weeks, a random walk of a few percent around the base price."""
        rng = random.Random(f"prices:{self.config.seed}")
        out = []
        start = (now - timedelta(days=365)).replace(microsecond=0)
        for cat in CATEGORIES:
            t, price = start, BASE_PRICES[cat]
            while t < now:
                out.append((cat, price, t.astimezone(UTC)))
                t += timedelta(days=rng.randint(7, 21), hours=rng.randint(0, 23))
                price = max(50, round(price * rng.uniform(0.94, 1.07) / 50) * 50)
        return out

    # ----------------------------------------------------------------- a window

    def _days(self, start: datetime, end: datetime) -> Iterator[date]:
        d = start.astimezone(self.tz).date()
        while datetime.combine(d, time(), self.tz) < end:
            yield d
            d += timedelta(days=1)

    def _local(self, d: date, seconds: float) -> float:
        return datetime.combine(d, time(), self.tz).timestamp() + seconds

    def weighins(self, start: datetime, end: datetime) -> list[WeighinPlan]:
        """Every station weigh-in with ``start <= t < end``, in time order."""
        c = self.config
        hours, weights = list(OPENING_HOURS), list(OPENING_HOURS.values())
        cats = list(CATEGORIES)
        shares = [BAGS[k][2] for k in cats]
        lo, hi = start.timestamp(), end.timestamp()
        out: list[WeighinPlan] = []
        for d in self._days(start, end):
            rng = random.Random(f"weighins:{c.seed}:{d.toordinal()}")
            p, rand = c.weighin_per_day, rng.random
            for i in range(c.households):
                if rand() >= p:
                    continue
                t = self._local(d, rng.choices(hours, weights)[0] * 3600 + rand() * 3600)
                cat = rng.choices(cats, shares)[0]
                grams = max(20 * DIVISION_G, round(sample_grams(cat, rng), -1))
                if lo <= t < hi:
                    out.append(WeighinPlan(t, self.home_station(i), i, cat, grams))
        out.sort()
        return out

    def doorstep(self, start: datetime, end: datetime) -> list[DoorstepPlan]:
        """JEKNYONG requests made with ``start <= requested < end``, in time order."""
        c = self.config
        lo, hi = start.timestamp(), end.timestamp()
        out: list[DoorstepPlan] = []
        for d in self._days(start, end):
            rng = random.Random(f"doorstep:{c.seed}:{d.toordinal()}")
            for i in range(c.households):
                if rng.random() >= c.doorstep_per_day:
                    continue
                asked = self._local(d, rng.uniform(6, 18) * 3600)
                done = asked + rng.uniform(2, DOORSTEP_DONE_WITHIN_H) * 3600
                # every draw made whatever the window, so that a window's requests are
                # the day's (the same household, bags and collector)
                bags = tuple(
                    (cat, max(20 * DIVISION_G, round(sample_grams("plastic", rng) * 3, -1)))
                    for cat in rng.sample(DOORSTEP_CATEGORIES, rng.randint(1, 2))
                )
                pick = rng.random()
                collectors = self.collectors_of_site(self.site_of_household(i).index)
                if not collectors or not lo <= asked < hi:
                    continue
                out.append(
                    DoorstepPlan(asked, done, i, collectors[int(pick * len(collectors))], bags)
                )
        out.sort()
        return out

    def doorstep_due(self, start: datetime, end: datetime) -> list[DoorstepPlan]:
        """JEKNYONG requests picked up with ``start <= done < end`` (asked up to
        :data:`DOORSTEP_DONE_WITHIN_H` hours before ``start``), in order of request."""
        earliest = start - timedelta(hours=DOORSTEP_DONE_WITHIN_H)
        lo, hi = start.timestamp(), end.timestamp()
        return [d for d in self.doorstep(earliest, end) if lo <= d.done < hi]

    def payouts(self, start: datetime, end: datetime) -> list[PayoutPlan]:
        """Cash withdrawals asked at a teller with ``start <= t < end``, in time order."""
        c = self.config
        hours, weights = list(OPENING_HOURS), list(OPENING_HOURS.values())
        lo, hi = start.timestamp(), end.timestamp()
        out: list[PayoutPlan] = []
        for d in self._days(start, end):
            rng = random.Random(f"payouts:{c.seed}:{d.toordinal()}")
            for i in range(c.households):
                if rng.random() >= c.payout_per_day:
                    continue
                t = self._local(d, rng.choices(hours, weights)[0] * 3600 + rng.random() * 3600)
                if lo <= t < hi:
                    out.append(PayoutPlan(t, i, rng.uniform(0.2, 1.0)))
        out.sort()
        return out

    # ----------------------------------------------------------------- devices over time

    def _bin_plan(self, rng: random.Random) -> BinPlan:
        cat = rng.choices(list(CATEGORIES), [BAGS[k][2] for k in CATEGORIES])[0]
        days_to_full = rng.uniform(2, 6)
        return BinPlan(
            phase_s=rng.uniform(0, BIN_REPORT_S),
            rate_pct_per_h=90 / (24 * days_to_full),
            empty_at_pct=rng.uniform(85, 99),
            offset_pct=rng.uniform(0, 100),
            category=cat,
        )

    def fill_level(self, k: int, t: float) -> float:
        """Bin ``k``'s level (percent) at epoch second ``t``: it fills at its rate and is
        emptied whenever it reaches its emptying level (a sawtooth), with sensor noise."""
        b = self.bins[k]
        level = (b.offset_pct + b.rate_pct_per_h * t / 3600) % b.empty_at_pct
        noise = ((int(t) * 2654435761 + k * 40503) % 1000) / 1000 - 0.5  # +-0.5 %
        return round(min(100.0, max(0.0, level + noise)), 1)

    def health_phases(self, devices: int) -> list[float]:
        """Each device's heartbeat phase (seconds into its interval), one per device."""
        rng = random.Random(f"health:{self.config.seed}")
        return [rng.random() for _ in range(devices)]
