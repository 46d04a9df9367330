"""Fraud rules about places and rounds: weigh-ins outside a site's opening hours, a
station whose kg jumps, a collector whose door kilos do not reach the depot (see
:mod:`cloud.fraud.hits` for what they return)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date, datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.fraud.hits import DAY, Hit, Params, W, day_start, kg1, local_day
from cloud.models import Device, Site
from cloud.models.stock import DepotDelivery, DepotDeliveryWeighin, SiteOpeningHours, StockMovement
from cloud.stock import STATION_KINDS

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
                    "kg": kg1(sum(g for _, g, _ in found)),
                    "times": times,
                    "opening": opening,
                },
                None,
                site_id,
            )
        )
    return hits


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
        "kg_per_day": kg1(g_w / len(open_w)),
        "baseline_kg_per_day": kg1(g_b / len(open_b)),
        "day_ratio": round(per_day, 2),
        "weighin_ratio": round(per_weighin, 2),
        "weighins": n_w,
    }
    summary = (
        f"{figures['kg_per_day']:g} kg per open day against {figures['baseline_kg_per_day']:g} "
        f"({per_day:.2f}x); per weigh-in, categories alike, {per_weighin:.2f}x"
    )
    return figures, summary


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
                        f"collector {collector}: {kg1(door_g):g} kg weighed at the doors, "
                        f"{kg1(depot_g):g} kg reached the depot ({100 * gap / door_g:.0f} % short) "
                        f"within {days} days",
                        {
                            "door_kg": kg1(door_g),
                            "depot_kg": kg1(depot_g),
                            "gap_pct": round(100 * gap / door_g, 1),
                            "deliveries": hi - lo,
                        },
                        None,
                        items[hi - 1][3],
                    )
                )
    return hits
