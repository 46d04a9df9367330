"""Fraud rules about households and their cards: a card at two sites within minutes,
repeated identical weights, a household far above its neighbours, unassigned weigh-ins
later assigned to one household (see :mod:`cloud.fraud.hits` for what they return)."""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from datetime import date, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.fraud.hits import DAY, Hit, Params, W, day_start, kg1, local_day
from cloud.models import Household, Site

#: a site's median is only a yardstick with at least this many active households
MIN_NEIGHBOURS = 5


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
                            f"household {hh}: {kg1(g):g} kg in {days} days, neighbours' median "
                            f"{kg1(median):g} kg ({g / median:.1f}x)",
                            {
                                "kg": kg1(g),
                                "median_kg": kg1(median),
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
                kg = kg1(sum(i[2] for i in items[lo:hi]))
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
