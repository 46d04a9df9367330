"""How each fraud rule computes its figure: one function per rule, registered by code.

A detector reads what it needs for the local days ``first..last`` (and the look-back its
window needs) in a few grouped queries, and returns one :class:`Hit` per subject and
local day on which the rule's threshold is crossed. It decides nothing else: what
becomes of a hit (a new case, or part of one already raised) is :mod:`cloud.fraud.cases`.

Times: days are the programme's local days (``tz``); opening hours are in each site's
own time zone. Only weigh-ins whose device clock was synchronised are judged on their
time of day (an unsynchronised one carries its receive time, which says nothing about
when it was weighed).
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.models import Device, Household, Site, WeighinRecord
from cloud.models.stock import DepotDelivery, DepotDeliveryWeighin, SiteOpeningHours, StockMovement
from cloud.stock import STATION_KINDS

W = WeighinRecord
#: a site's median is only a yardstick with at least this many active households
MIN_NEIGHBOURS = 5
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    subject_kind: str  # household | card | station | collector
    subject_key: str
    day: date
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    household_id: int | None = None
    site_id: int | None = None


Params = dict[str, float]
Detector = Callable[[Session, Params, date, date, ZoneInfo], list[Hit]]


def day_start(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(), tz)


def local_day(t: datetime, tz: ZoneInfo) -> date:
    return t.astimezone(tz).date()


def _kg(g: float) -> float:
    return round(g / 1000, 1)


# --------------------------------------------------------------------------- cards


def card_two_stations(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    gap = timedelta(minutes=p["minutes"])
    rows = s.execute(
        select(W.card_id, W.effective_at, W.device_id, W.site_id, W.household_id, Site.code)
        .outerjoin(Site, Site.id == W.site_id)
        .where(
            W.card_id.is_not(None),
            W.status != "rejected",
            W.clock_synced,
            W.effective_at >= day_start(first, tz) - gap,
            W.effective_at < day_start(last + DAY, tz),
        )
        .order_by(W.card_id, W.effective_at, W.id)
    ).all()
    hits = []
    for card, group in groupby(rows, key=lambda r: r[0]):
        prev = None
        for r in group:
            if (
                prev is not None
                and r.device_id != prev.device_id
                and (not p["different_sites"] or r.site_id != prev.site_id)
                and r.effective_at - prev.effective_at <= gap
            ):
                d = local_day(r.effective_at, tz)
                mins = round((r.effective_at - prev.effective_at).total_seconds() / 60, 1)
                if first <= d <= last:
                    hits.append(
                        Hit(
                            "card_two_stations",
                            "card",
                            card,
                            d,
                            f"{card}: {prev.device_id} ({prev.code}) "
                            f"{prev.effective_at.astimezone(tz):%H:%M} -> {r.device_id} ({r.code}) "
                            f"{r.effective_at.astimezone(tz):%H:%M}, {mins:g} min",
                            {
                                "minutes": mins,
                                "stations": [prev.device_id, r.device_id],
                                "sites": [prev.code, r.code],
                            },
                            r.household_id or prev.household_id,
                            r.site_id,
                        )
                    )
            prev = r
    return hits


# --------------------------------------------------------------------------- hours


def outside_hours(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    hours: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for h in s.scalars(select(SiteOpeningHours)):
        hours[h.site_id][h.weekday] = (h.opens_min, h.closes_min)
    if not hours:
        return []
    zones = {sid: ZoneInfo(z) for sid, z in s.execute(select(Site.id, Site.timezone))}
    grace = p["grace_minutes"]
    rows = s.execute(
        select(W.device_id, W.site_id, W.effective_at, W.net_g)
        .join(Device, Device.device_id == W.device_id)
        .where(
            Device.kind.in_(STATION_KINDS),
            W.site_id.in_(list(hours)),
            W.clock_synced,
            W.status != "rejected",
            W.effective_at >= day_start(first, tz) - DAY,
            W.effective_at < day_start(last + 2 * DAY, tz),
        )
    )
    outside: dict[tuple[str, date], list[tuple[datetime, int, int]]] = defaultdict(list)
    for device_id, site, at, net_g in rows:
        site_id = int(site or 0)  # the query asked for sites with opening hours only
        local = at.astimezone(zones.get(site_id, tz))
        d = local.date()
        if not first <= d <= last:
            continue
        minute = local.hour * 60 + local.minute
        span = hours[site_id].get(local.weekday())
        if span is None or minute < span[0] - grace or minute >= span[1] + grace:
            outside[device_id, d].append((local, net_g, site_id))
    hits = []
    for (device_id, d), found in sorted(outside.items()):
        if len(found) < p["min_weighins"]:
            continue
        site_id = found[0][2]
        span = hours[site_id].get(d.weekday())
        opening = (
            f"{span[0] // 60:02d}:{span[0] % 60:02d}-{span[1] // 60:02d}:{span[1] % 60:02d}"
            if span
            else "closed"
        )
        times = [f"{t:%H:%M}" for t, _, _ in sorted(found)[:6]]
        hits.append(
            Hit(
                "outside_hours",
                "station",
                device_id,
                d,
                f"{device_id}: {len(found)} weigh-in(s) at {', '.join(times)} (open {opening})",
                {
                    "weighins": len(found),
                    "kg": _kg(sum(g for _, g, _ in found)),
                    "times": times,
                    "opening": opening,
                },
                None,
                site_id,
            )
        )
    return hits


# --------------------------------------------------------------------------- weights


def repeated_weights(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    days, repeats = int(p["days"]), int(p["repeats"])
    rows = s.execute(
        select(W.household_id, W.category_code, W.net_g, W.effective_at, W.site_id).where(
            W.status == "credited",
            W.household_id.is_not(None),
            W.net_g >= p["min_g"],
            W.effective_at >= day_start(first - (days - 1) * DAY, tz),
            W.effective_at < day_start(last + DAY, tz),
        )
    )
    groups: dict[tuple[int, str, int], list[tuple[date, int | None]]] = defaultdict(list)
    for hh, cat, g, at, site in rows:
        groups[int(hh or 0), cat, g].append((local_day(at, tz), site))
    hits = []
    for (hh, cat, g), seen in sorted(groups.items()):
        if len(seen) < repeats:
            continue
        ds = sorted(d for d, _ in seen)
        for d in sorted(set(ds)):
            n = bisect.bisect_right(ds, d) - bisect.bisect_right(ds, d - days * DAY)
            if first <= d <= last and n >= repeats:
                hits.append(
                    Hit(
                        "repeated_weights",
                        "household",
                        str(hh),
                        d,
                        f"household {hh}: {n} x {g} g of {cat} within {days} days",
                        {"net_g": g, "category": cat, "times": n, "days": days},
                        hh,
                        seen[0][1],
                    )
                )
    return hits


def _daily(rows: Any, first_day: date, n_days: int) -> dict[Any, list[int]]:
    """{key: grams per day} from (key, day, grams) rows, days counted from first_day."""
    out: dict[Any, list[int]] = defaultdict(lambda: [0] * n_days)
    for key, d, g in rows:
        i = (d - first_day).days
        if 0 <= i < n_days:
            out[key][i] += g
    return out


def household_outlier(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    days = int(p["days"])
    start = first - (days - 1) * DAY
    n = (last - start).days + 1
    rows = s.execute(
        select(W.household_id, Household.site_id, W.effective_at, W.net_g)
        .join(Household, Household.id == W.household_id)
        .where(
            W.status == "credited",
            W.reversal_entry_id.is_(None),
            W.effective_at >= day_start(start, tz),
            W.effective_at < day_start(last + DAY, tz),
        )
    )
    site_of: dict[int, int | None] = {}
    keyed = []
    for hh, site, at, g in rows:
        site_of[int(hh or 0)] = site
        keyed.append((int(hh or 0), local_day(at, tz), g))
    per_day = _daily(keyed, start, n)
    prefix = {hh: [0, *_running(v)] for hh, v in per_day.items()}
    hits = []
    d = first
    while d <= last:
        hi = (d - start).days + 1
        lo = hi - days
        by_site: dict[int | None, list[tuple[int, int]]] = defaultdict(list)
        for hh, pre in prefix.items():
            g = pre[hi] - pre[max(lo, 0)]
            if g > 0:
                by_site[site_of[hh]].append((hh, g))
        for site, amounts in by_site.items():
            if len(amounts) < MIN_NEIGHBOURS:
                continue
            median = statistics.median(g for _, g in amounts)
            for hh, g in amounts:
                if g >= p["factor"] * median and g >= p["min_kg"] * 1000:
                    hits.append(
                        Hit(
                            "household_outlier",
                            "household",
                            str(hh),
                            d,
                            f"household {hh}: {_kg(g):g} kg in {days} days, neighbours' median "
                            f"{_kg(median):g} kg ({g / median:.1f}x)",
                            {
                                "kg": _kg(g),
                                "median_kg": _kg(median),
                                "factor": round(g / median, 1),
                                "neighbours": len(amounts),
                                "days": days,
                            },
                            hh,
                            site,
                        )
                    )
        d += DAY
    return hits


def _running(values: list[int]) -> list[int]:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out


# --------------------------------------------------------------------------- stations


def station_jump(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    """A station's kg jumps: per weigh-in (the scale reads heavy) or per open day (volume).

    Per weigh-in is judged with the category mix held fixed: the window's weigh-ins at
    the baseline's mean weight per category give the kg expected; a ratio of actual to
    expected kg at or above ``ratio`` is a hit. Per open day, ``ratio_day`` (volume
    swings with the number of visitors, so its threshold is looser).
    """
    days, base = int(p["days"]), int(p["baseline_days"])
    start = first - (days + base - 1) * DAY
    n = (last - start).days + 1
    rows = s.execute(
        select(W.device_id, W.site_id, W.category_code, W.effective_at, W.net_g)
        .join(Device, Device.device_id == W.device_id)
        .where(
            Device.kind.in_(STATION_KINDS),
            W.status != "rejected",
            W.effective_at >= day_start(start, tz),
            W.effective_at < day_start(last + DAY, tz),
        )
    )
    site_of: dict[str, int | None] = {}
    # per station: per category: [grams per day], [weigh-ins per day]
    grams: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * n))
    count: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * n))
    for dev, site, cat, at, g in rows:
        i = (local_day(at, tz) - start).days
        if 0 <= i < n:
            site_of[dev] = site
            grams[dev][cat][i] += g
            count[dev][cat][i] += 1
    hits = []
    for dev in sorted(grams):
        d = first
        while d <= last:
            hi = (d - start).days + 1
            hit = _jump(
                grams[dev],
                count[dev],
                range(hi - days, hi),
                range(max(hi - days - base, 0), hi - days),
                base,
                p,
            )
            if hit is not None:
                figures, summary = hit
                hits.append(
                    Hit(
                        "station_jump",
                        "station",
                        dev,
                        d,
                        f"{dev}: {summary}",
                        figures,
                        None,
                        site_of[dev],
                    )
                )
            d += DAY
    return hits


def _jump(
    grams: dict[str, list[int]],
    count: dict[str, list[int]],
    win: range,
    ref: range,
    base: int,
    p: Params,
) -> tuple[dict[str, Any], str] | None:
    """The figures of one station's window against its baseline, if a threshold is crossed."""
    open_w = [i for i in win if any(c[i] for c in count.values())]
    open_b = [i for i in ref if any(c[i] for c in count.values())]
    if not open_w or len(open_b) * 2 < base:
        return None
    g_w = sum(g[i] for g in grams.values() for i in win)
    n_w = sum(c[i] for c in count.values() for i in win)
    g_b = sum(g[i] for g in grams.values() for i in ref)
    if n_w < p["min_weighins"] or g_w < p["min_kg"] * 1000 or g_b <= 0:
        return None
    expected = 0.0  # the window's weigh-ins at the baseline's mean weight per category
    for cat, c in count.items():
        n_cat_w, n_cat_b = sum(c[i] for i in win), sum(c[i] for i in ref)
        if n_cat_w and n_cat_b:
            expected += n_cat_w * sum(grams[cat][i] for i in ref) / n_cat_b
    covered = sum(g[i] for cat, g in grams.items() for i in win if sum(count[cat][j] for j in ref))
    per_weighin = covered / expected if expected else 0.0
    per_day = (g_w / len(open_w)) / (g_b / len(open_b))
    if per_weighin < p["ratio"] and per_day < p["ratio_day"]:
        return None
    figures = {
        "kg_per_day": _kg(g_w / len(open_w)),
        "baseline_kg_per_day": _kg(g_b / len(open_b)),
        "day_ratio": round(per_day, 2),
        "weighin_ratio": round(per_weighin, 2),
        "weighins": n_w,
    }
    summary = (
        f"{figures['kg_per_day']:g} kg per open day against {figures['baseline_kg_per_day']:g} "
        f"({per_day:.2f}x); per weigh-in, categories alike, {per_weighin:.2f}x"
    )
    return figures, summary


# --------------------------------------------------------------------------- assignment


def unassigned_assigned(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    """Weigh-ins kept unassigned, later assigned to one household, on many occasions.

    An occasion is one station on one local day: a household that forgot its card once
    and brought three bags is one occasion, not three.
    """
    days, count = int(p["days"]), int(p["count"])
    rows = s.execute(
        select(W.household_id, W.assigned_at, W.effective_at, W.device_id, W.net_g, W.site_id)
        .where(
            W.assigned_at.is_not(None),
            W.household_id.is_not(None),
            W.assigned_at >= day_start(first - (days - 1) * DAY, tz),
            W.assigned_at < day_start(last + DAY, tz),
        )
        .order_by(W.household_id, W.assigned_at)
    ).all()
    hits = []
    for hh, group in groupby(rows, key=lambda r: r[0]):
        items = [
            (
                local_day(r.assigned_at, tz),
                (r.device_id, local_day(r.effective_at, tz)),
                r.net_g,
                r.site_id,
            )
            for r in group
        ]
        ds = [i[0] for i in items]
        for d in sorted(set(ds)):
            lo, hi = bisect.bisect_right(ds, d - days * DAY), bisect.bisect_right(ds, d)
            occasions = len({i[1] for i in items[lo:hi]})
            if first <= d <= last and occasions >= count:
                kg = _kg(sum(i[2] for i in items[lo:hi]))
                hits.append(
                    Hit(
                        "unassigned_assigned",
                        "household",
                        str(hh),
                        d,
                        f"household {hh}: {hi - lo} unassigned weigh-ins ({kg:g} kg, {occasions} "
                        f"occasions) assigned within {days} days",
                        {"weighins": hi - lo, "occasions": occasions, "kg": kg, "days": days},
                        hh,
                        items[hi - 1][3],
                    )
                )
    return hits


# --------------------------------------------------------------------------- collectors


def collector_gap(s: Session, p: Params, first: date, last: date, tz: ZoneInfo) -> list[Hit]:
    days = int(p["days"])
    since, until = day_start(first - (days - 1) * DAY, tz), day_start(last + DAY, tz)
    D = DepotDelivery
    in_window = (D.delivered_at >= since, D.delivered_at < until)
    door = dict(
        s.execute(
            select(D.id, func.sum(W.net_g))
            .join(DepotDeliveryWeighin, DepotDeliveryWeighin.delivery_id == D.id)
            .join(W, W.id == DepotDeliveryWeighin.weighin_id)
            .where(*in_window)
            .group_by(D.id)
        ).all()
    )
    depot = dict(
        s.execute(
            select(D.id, func.sum(StockMovement.qty_g))
            .join(StockMovement, StockMovement.delivery_id == D.id)
            .where(*in_window)
            .group_by(D.id)
        ).all()
    )
    rows = s.execute(
        select(D.collector_id, D.id, D.delivered_at, D.site_id)
        .where(*in_window)
        .order_by(D.collector_id, D.delivered_at, D.id)
    ).all()
    hits = []
    for collector, group in groupby(rows, key=lambda r: r[0]):
        items = [
            (
                local_day(r.delivered_at, tz),
                int(door.get(r.id, 0) or 0),
                int(depot.get(r.id, 0) or 0),
                r.site_id,
            )
            for r in group
        ]
        ds = [i[0] for i in items]
        for d in sorted(set(ds)):
            lo, hi = bisect.bisect_right(ds, d - days * DAY), bisect.bisect_right(ds, d)
            door_g = sum(i[1] for i in items[lo:hi])
            depot_g = sum(i[2] for i in items[lo:hi])
            gap = door_g - depot_g
            if (
                first <= d <= last
                and door_g > 0
                and gap * 100 >= p["gap_pct"] * door_g
                and gap >= p["min_kg"] * 1000
            ):
                hits.append(
                    Hit(
                        "collector_gap",
                        "collector",
                        str(collector),
                        d,
                        f"collector {collector}: {_kg(door_g):g} kg weighed at the doors, "
                        f"{_kg(depot_g):g} kg reached the depot ({100 * gap / door_g:.0f} % short) "
                        f"within {days} days",
                        {
                            "door_kg": _kg(door_g),
                            "depot_kg": _kg(depot_g),
                            "gap_pct": round(100 * gap / door_g, 1),
                            "deliveries": hi - lo,
                        },
                        None,
                        items[hi - 1][3],
                    )
                )
    return hits


DETECTORS: dict[str, Detector] = {
    "card_two_stations": card_two_stations,
    "outside_hours": outside_hours,
    "repeated_weights": repeated_weights,
    "household_outlier": household_outlier,
    "station_jump": station_jump,
    "unassigned_assigned": unassigned_assigned,
    "collector_gap": collector_gap,
}
