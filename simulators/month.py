"""A simulated month of a waste-bank programme, for stock, mass balance and fraud rules.

Households (:class:`simulators.households.Population`) bring sorted waste to scale
stations at two sites; collectors pick up plastic at the door (a phone-connected scale)
and deliver their load to the depot each afternoon; every Saturday the operators sell
what is on hand to offtakers (after weighing out the sorting rejects) and count what
is left; organic waste dries while it waits; some households forget their card and
the operator assigns those weigh-ins at the end of the day; some withdraw cash.

It runs at accelerated time by calling the domain directly — the same functions the
ingest and the API call (:func:`cloud.crediting.credit_batch` for every weigh-in,
station or doorstep, :mod:`cloud.corrections`, :mod:`cloud.stock`,
:mod:`cloud.sales`, :mod:`cloud.payouts`) — not through the broker: a month of
weigh-ins takes seconds, not a month. The simulator keeps its own *physical* truth
(what is really in each store room), which the ledger never sees.

Injected frauds (:data:`FRAUDS`): ``card_clone`` (a household's card copied and used at
a station of the other site minutes after the household's own visit, twice),
``inflating_station`` (one station reads 30 % heavy for a week, days 14-20),
``skimming_collector`` (one collector delivers 80 % of what was weighed at the doors).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import corrections, crediting, deliveries, households, payouts, pricing, sales, stock
from cloud.auth import create_user
from cloud.devices import register_device
from cloud.massbalance import set_allowed_loss
from cloud.models import Device, WeighinRecord
from cloud.models.stock import SiteOpeningHours
from cloud.postings import funds
from contract import Weighin
from simulators.households import Household, Population, Visit, sample_grams

FRAUDS = ("card_clone", "inflating_station", "skimming_collector")
TZ = ZoneInfo("Asia/Jakarta")
#: category: (name, price paid to households, price offtakers pay, per kg; allowed loss bp)
PRICES: dict[str, tuple[str, int, int, int]] = {
    "organic": ("Organik", 500, 800, 1500),
    "plastic-pet": ("Plastik PET", 3000, 4500, 200),
    "plastic-mixed": ("Plastik campur", 1500, 2300, 200),
    "paper": ("Kertas", 1800, 2600, 300),
    "metal": ("Logam", 6000, 8000, 200),
    "glass": ("Kaca", 300, 500, 200),
}
BUYERS = {
    "organic": "Peternak maggot BSF Kedungbanteng",
    "paper": "UD Kertas Purwokerto",
    "metal": "Pengepul Logam Sokaraja",
    "glass": "Pengepul Logam Sokaraja",
}
DRYING_PER_DAY = 0.012  # organic waste loses water while it waits
REJECTS = 0.01  # sorting rejects of dry categories at a sale
DIVISION_G = 5
BOOT = uuid.UUID("00000000-0000-4000-8000-00000000a11e")


@dataclass
class MonthConfig:
    first_day: date = date(2026, 11, 2)  # a Monday
    days: int = 30
    households: int = 600
    sites: tuple[str, ...] = ("bank01", "bank02")
    stations_per_site: int = 2
    seed: int = 1
    frauds: tuple[str, ...] = FRAUDS
    doorstep_every: int = 7  # every n-th household also gets a weekly doorstep pickup


@dataclass
class MonthResult:
    weighins: int = 0
    doorstep_weighins: int = 0
    deliveries: int = 0
    sales: int = 0
    payouts: int = 0
    assigned: int = 0
    #: the injected frauds' subjects, e.g. {"card_clone": "card:XYZ"}
    injected: dict[str, str] = field(default_factory=dict)
    #: what is physically on hand at the end (grams, per site and category)
    physical: dict[str, dict[str, int]] = field(default_factory=dict)


class Month:
    """One simulated month on an empty, migrated ledger (``session`` commits per day)."""

    def __init__(self, session: Session, cfg: MonthConfig) -> None:
        unknown = set(cfg.frauds) - set(FRAUDS)
        if unknown:
            raise ValueError(f"unknown fraud(s) {sorted(unknown)}; known: {FRAUDS}")
        self.s, self.cfg = session, cfg
        self.rng = random.Random(cfg.seed)
        self.stations = [
            f"st-{site}-{i + 1}" for site in cfg.sites for i in range(cfg.stations_per_site)
        ]
        self.site_of_station = {st: st.split("-")[1] for st in self.stations}
        self.people = Population(cfg.households, stations=self.stations, seed=cfg.seed)
        self.result = MonthResult()
        self.physical: dict[str, dict[str, float]] = {s: defaultdict(float) for s in cfg.sites}
        self.seq: dict[str, int] = defaultdict(int)
        self.site_ids: dict[str, int] = {}
        self.hh_ids: dict[str, int] = {}
        self.collectors: dict[str, int] = {}
        self.victim: Household | None = None  # the household whose card is copied
        self.inflating = self.stations[0] if "inflating_station" in cfg.frauds else None
        self.skimming = cfg.sites[-1] if "skimming_collector" in cfg.frauds else None

    # ------------------------------------------------------------------ set-up

    def setup(self) -> None:
        s, cfg = self.s, self.cfg
        for code, (name, rp, _, bp) in PRICES.items():
            pricing.ensure_category(s, code=code, name_id=name, name_en=code)
            pricing.set_price(
                s, category=code, rp_per_kg=rp, effective_from=datetime(2026, 1, 1, tzinfo=UTC)
            )
            set_allowed_loss(s, category=code, bp=bp, by="sim")
        for site in cfg.sites:
            sid = households.ensure_site(s, code=site, name=f"Bank Sampah {site[-2:]}").id
            self.site_ids[site] = sid
            s.add_all(
                SiteOpeningHours(site_id=sid, weekday=d, opens_min=7 * 60, closes_min=16 * 60)
                for d in range(6)
            )
            user = create_user(
                s,
                username=f"jeknyong-{site}",
                password="collector-password",
                role="collector",
                site_id=sid,
            )
            self.collectors[site] = user.id
            # a collector's phone scale: not a station, so its weigh-ins enter stock at the depot
            s.add(Device(device_id=f"ph-{site}", kind="collector", site_id=sid, revoked=False))
        for st in self.stations:
            register_device(s, device_id=st, kind="station", site=self.site_of_station[st])
        for h in self.people.households:
            site = self.site_of_station[h.home_station]
            hh = households.register_household(s, member_no=h.member_no, name=h.name, site=site)
            households.link_card(s, card_id=h.card_id, household_id=hh.id, by="sim")
            self.hh_ids[h.card_id] = hh.id
        s.commit()

    # ------------------------------------------------------------------ weigh-ins

    def _event(self, device: str, at: datetime, card: str | None, cat: str, g: int) -> Weighin:
        self.seq[device] += 1
        n = self.seq[device]
        return Weighin(
            device_id=device,
            seq=n,
            event_id=f"{device}:{n}",
            device_time=at,
            clock_synced=True,
            boot_id=BOOT,
            mono_ms=n * 1000,
            card_id=card,
            category=cat,
            net_g=g,
            division_g=DIVISION_G,
            protocol="mtsics",
        )

    def _read(self, station: str, grams: int, day_no: int) -> int:
        """What the station's scale reads for ``grams`` (honest, or 30 % heavy)."""
        if station == self.inflating and 14 <= day_no <= 20:
            grams = round(grams * 1.3)
        return max(DIVISION_G, round(grams / DIVISION_G) * DIVISION_G)

    def station_day(self, day: date, day_no: int) -> list[tuple[int, str]]:
        """Credit the day's station visits; returns (weigh-in id, true card) kept unassigned."""
        # a doorstep household is at home for the collector on its pickup day
        visits = [
            v for v in self.people.visits_on(day) if self._pickup_day(v.household) != day.weekday()
        ]
        clones = (
            self._clone_visits(visits)
            if "card_clone" in self.cfg.frauds and day_no in (9, 16)
            else []
        )
        events, times, cards = [], [], []
        for v in sorted(visits + clones):
            # a forgotten card keeps the weigh-ins unassigned; the copied card's owner has it
            forgot = self.rng.random() < 0.03 and v not in clones and v.household != self.victim
            for i, (cat, grams) in enumerate(v.items):
                at = v.at + timedelta(seconds=40 * i)
                g = max(DIVISION_G, round(grams / DIVISION_G) * DIVISION_G)
                card = None if forgot else v.household.card_id
                events.append(
                    self._event(v.station_id, at, card, cat, self._read(v.station_id, g, day_no))
                )
                times.append(at + timedelta(seconds=2))
                cards.append(v.household.card_id)
                self.physical[self.site_of_station[v.station_id]][cat] += g
        crediting.credit_batch(self.s, events, received_at=times)
        self.result.weighins += len(events)
        return [(w, cards[i]) for i, w in enumerate(self._ids(events)) if events[i].card_id is None]

    def _clone_visits(self, visits: Sequence[Visit]) -> list[Visit]:
        """The copied card: used at the other site's station minutes after its owner."""
        own = [v for v in visits if v.station_id.startswith(f"st-{self.cfg.sites[0]}")]
        if self.victim is None and own:
            self.victim = min(own, key=lambda v: v.household.member_no).household
        own = [v for v in own if v.household == self.victim]
        if not own:
            return []
        victim = own[0]
        other = next(
            st
            for st in self.stations
            if self.site_of_station[st] != self.site_of_station[victim.station_id]
        )
        self.result.injected["card_clone"] = f"card:{victim.household.card_id}"
        cat = victim.household.sorts[0]
        return [
            Visit(
                victim.at + timedelta(minutes=8),
                other,
                victim.household,
                ((cat, sample_grams(cat, self.rng)),),
            )
        ]

    def _ids(self, events: Sequence[Weighin]) -> list[int]:
        W = WeighinRecord
        q = select(W.event_id, W.id).where(W.event_id.in_([e.event_id for e in events]))
        rows = dict(self.s.execute(q).all())
        return [rows[e.event_id] for e in events]

    def _pickup_day(self, h: Household) -> int | None:
        """The weekday a doorstep household's plastic is picked up (None: no pickups)."""
        n = self.cfg.doorstep_every
        return h.index // n % 6 if h.index % n == 0 else None

    def doorstep_day(self, day: date, day_no: int) -> None:
        """Each site's collector visits the doorstep households of this weekday, then delivers."""
        for site in self.cfg.sites:
            calls = [
                h
                for h in self.people.households
                if self._pickup_day(h) == day.weekday()
                and self.site_of_station[h.home_station] == site
            ]
            if not calls:
                continue
            device = f"ph-{site}"
            events, times = [], []
            door: dict[str, int] = defaultdict(int)
            for k, h in enumerate(calls):
                at = datetime.combine(day, time(9), TZ).astimezone(UTC) + timedelta(minutes=12 * k)
                for cat in ("plastic-pet", "plastic-mixed"):
                    g = max(
                        DIVISION_G,
                        round(sample_grams(cat, self.rng) * 2.5 / DIVISION_G) * DIVISION_G,
                    )
                    events.append(self._event(device, at, h.card_id, cat, g))
                    times.append(at + timedelta(seconds=5))
                    door[cat] += g
            crediting.credit_batch(self.s, events, received_at=times)
            keep = 0.8 if site == self.skimming else 1.0
            if site == self.skimming:
                self.result.injected["skimming_collector"] = f"collector:{self.collectors[site]}"
            delivered = {
                c: round(g * keep * (1 - 0.004 * self.rng.random())) for c, g in door.items()
            }
            for c, g in delivered.items():
                self.physical[site][c] += g
            deliveries.deliver_to_depot(
                self.s,
                site_id=self.site_ids[site],
                collector_id=self.collectors[site],
                delivered_g=delivered,
                weighin_ids=self._ids(events),
                by=f"user:jeknyong-{site}",
                at=datetime.combine(day, time(15, 30), TZ),
                event_id=f"{device}:{day}",
            )
            self.result.doorstep_weighins += len(events)
            self.result.deliveries += 1

    # ------------------------------------------------------------------ the day's end

    def assign(self, waiting: list[tuple[int, str]]) -> None:
        for weighin_id, card in waiting:
            corrections.assign_weighin(
                self.s, weighin_id=weighin_id, household_id=self.hh_ids[card], by="user:operator"
            )
            self.result.assigned += 1

    def dry(self) -> None:
        for site in self.cfg.sites:
            self.physical[site]["organic"] *= 1 - DRYING_PER_DAY

    def sell_and_count(self, day: date) -> None:
        """Saturday: weigh out rejects, sell what is on hand, count what is left."""
        at = datetime.combine(day, time(16, 30), TZ)
        for site in self.cfg.sites:
            sid = self.site_ids[site]
            for cat in sorted(self.physical[site]):
                on_hand = int(self.physical[site][cat])
                if on_hand <= 0:
                    continue
                if cat != "organic":
                    rejects = int(on_hand * REJECTS * self.rng.uniform(0.5, 1.5))
                    if rejects > 0:
                        stock.record_loss(
                            self.s,
                            site_id=sid,
                            category=cat,
                            qty_g=rejects,
                            reason="sorting_reject",
                            by="user:operator",
                            at=at,
                        )
                        on_hand -= rejects
                sold = on_hand // 10 * 10
                if sold > 0:
                    price = PRICES[cat][2]
                    sales.record_sale(
                        self.s,
                        site_id=sid,
                        category=cat,
                        buyer=BUYERS.get(cat, "CV Daur Ulang Banyumas"),
                        qty_g=sold,
                        rp_per_kg=price,
                        amount_rp=pricing.amount_for(sold, price),
                        by="user:operator",
                        sold_at=at + timedelta(minutes=5),
                        **(
                            {"ticket_no": f"WB-{site}-{day:%m%d}-{cat}"}
                            if cat == "organic"
                            else {"scale_device_id": f"st-{site}-1"}
                        ),
                    )
                    self.result.sales += 1
                left = on_hand - sold
                stock.record_count(
                    self.s,
                    site_id=sid,
                    category=cat,
                    counted_g=left,
                    by="user:operator",
                    at=at + timedelta(minutes=10),
                )
                self.physical[site][cat] = float(left)

    def withdrawals(self) -> None:
        """Saturday: some households take their savings in cash."""
        for h in self.people.households:
            hh = self.hh_ids[h.card_id]
            if self.rng.random() >= 0.3:
                continue
            amount = funds(self.s, household_id=hh).available_rp
            if amount >= 20_000:
                p = payouts.request_payout(
                    self.s, household_id=hh, amount_rp=amount, by="user:cashier"
                )
                payouts.approve_payout(
                    self.s,
                    payout_id=p.id,
                    by="user:operator",
                    two_person_from_rp=payouts.DEFAULT_TWO_PERSON_RP,
                )
                payouts.pay_payout(
                    self.s,
                    payout_id=p.id,
                    by="user:cashier",
                    two_person_from_rp=payouts.DEFAULT_TWO_PERSON_RP,
                )
                self.result.payouts += 1

    # ------------------------------------------------------------------ run

    def run(self) -> MonthResult:
        self.setup()
        if self.inflating:
            self.result.injected["inflating_station"] = f"station:{self.inflating}"
        for day_no in range(self.cfg.days):
            day = self.cfg.first_day + timedelta(days=day_no)
            waiting = self.station_day(day, day_no) if day.weekday() != 6 else []
            if day.weekday() != 6:
                self.doorstep_day(day, day_no)
            self.assign(waiting)
            self.s.commit()
            if day.weekday() == 5 or day_no == self.cfg.days - 1:
                self.sell_and_count(day)
                self.withdrawals()
                self.s.commit()
            self.dry()
        self.result.physical = {
            s: {c: int(g) for c, g in v.items()} for s, v in self.physical.items()
        }
        return self.result


def simulate(session: Session, cfg: MonthConfig) -> MonthResult:
    """Run one month (see the module docstring) on ``session``'s empty, migrated ledger."""
    return Month(session, cfg).run()
