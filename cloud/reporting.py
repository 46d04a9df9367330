"""Programme reports: weigh-ins and payouts summed per household, site, collector,
category or month over a period (the days are the programme's local days).

Credited weigh-ins that were not reversed count; payouts count when paid. Per collector:
the pickups each completed and the weight they collected (doorstep weigh-ins by
collectors are credited through the station path and count under their site). Months are
calendar months in the programme's time zone. Every query is one aggregate per group
(per month: one per month of the period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.models import Household, Pickup, Site, WasteCategory, WeighinRecord
from cloud.models.auth import User
from cloud.models.money import Payout

DIMENSIONS = ("household", "site", "collector", "category", "month")


@dataclass(frozen=True, slots=True)
class SummaryRow:
    key: str
    label: str
    weighins: int = 0
    net_g: int = 0
    amount_rp: int = 0
    payouts_rp: int = 0
    pickups: int = 0


def bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(), zone).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC),
    )


def _credited(start: datetime, end: datetime, site_id: int | None) -> Any:
    W = WeighinRecord
    where = [
        W.status == "credited",
        W.reversal_entry_id.is_(None),
        W.effective_at >= start,
        W.effective_at < end,
    ]
    if site_id is not None:
        where.append(W.site_id == site_id)
    return where


def _sums() -> tuple[Any, ...]:
    W = WeighinRecord
    return (
        func.count(W.id),
        func.coalesce(func.sum(W.net_g), 0),
        func.coalesce(func.sum(W.amount_rp), 0),
    )


def _paid(start: datetime, end: datetime) -> Any:
    return [Payout.status == "paid", Payout.paid_at >= start, Payout.paid_at < end]


def summary(
    session: Session,
    *,
    by: str,
    first: date,
    last: date,
    zone: ZoneInfo,
    site_id: int | None = None,
) -> list[SummaryRow]:
    start, end = bounds(first, last, zone)
    W = WeighinRecord
    if by == "household":
        rows = session.execute(
            select(W.household_id, Household.member_no, Household.name, *_sums())
            .join(Household, Household.id == W.household_id)
            .where(*_credited(start, end, site_id))
            .group_by(W.household_id, Household.member_no, Household.name)
        ).all()
        paid_q = (
            select(Payout.household_id, func.sum(Payout.amount_rp))
            .join(Household, Household.id == Payout.household_id)
            .where(*_paid(start, end))
            .group_by(Payout.household_id)
        )
        if site_id is not None:
            paid_q = paid_q.where(Household.site_id == site_id)
        paid: dict[int, int] = {h: int(v or 0) for h, v in session.execute(paid_q)}
        out = {
            str(h): SummaryRow(str(h), f"{m} · {n}", c, int(g), int(a), int(paid.pop(h, 0) or 0))
            for h, m, n, c, g, a in rows
        }
        if paid:
            for h, m, n in session.execute(
                select(Household.id, Household.member_no, Household.name).where(
                    Household.id.in_(list(paid))
                )
            ):
                out[str(h)] = SummaryRow(str(h), f"{m} · {n}", payouts_rp=int(paid[h] or 0))
        return sorted(out.values(), key=lambda r: r.label)
    if by == "site":
        rows = session.execute(
            select(W.site_id, Site.code, Site.name, *_sums())
            .outerjoin(Site, Site.id == W.site_id)
            .where(*_credited(start, end, site_id))
            .group_by(W.site_id, Site.code, Site.name)
        ).all()
        paid_by_site: dict[int | None, Any] = dict(
            session.execute(
                select(Household.site_id, func.sum(Payout.amount_rp))
                .join(Household, Household.id == Payout.household_id)
                .where(*_paid(start, end))
                .group_by(Household.site_id)
            ).all()
        )
        return [
            SummaryRow(
                str(s or "-"),
                f"{code} · {name}" if code else "(tanpa lokasi)",
                c,
                int(g),
                int(a),
                int(paid_by_site.get(s, 0) or 0),
            )
            for s, code, name, c, g, a in rows
        ]
    if by == "category":
        rows = session.execute(
            select(W.category_code, WasteCategory.name_id, *_sums())
            .outerjoin(WasteCategory, WasteCategory.code == W.category_code)
            .where(*_credited(start, end, site_id))
            .group_by(W.category_code, WasteCategory.name_id)
            .order_by(W.category_code)
        ).all()
        return [SummaryRow(code, name or code, c, int(g), int(a)) for code, name, c, g, a in rows]
    if by == "collector":
        P = Pickup
        q = (
            select(
                P.collector_id,
                User.display_name,
                func.count(P.id),
                func.coalesce(func.sum(P.collected_g), 0),
            )
            .join(User, User.id == P.collector_id)
            .where(P.status == "done", P.completed_at >= start, P.completed_at < end)
            .group_by(P.collector_id, User.display_name)
            .order_by(User.display_name)
        )
        if site_id is not None:
            q = q.where(Pickup.site_id == site_id)
        return [
            SummaryRow(str(u), name, net_g=int(g or 0), pickups=int(n or 0))
            for u, name, n, g in session.execute(q)
        ]
    if by == "month":
        out_m = []
        month = date(first.year, first.month, 1)
        while month <= last:
            nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            s, e = bounds(max(month, first), min(nxt - timedelta(days=1), last), zone)
            c, g, a = session.execute(select(*_sums()).where(*_credited(s, e, site_id))).one()
            pq = select(func.coalesce(func.sum(Payout.amount_rp), 0)).where(*_paid(s, e))
            if site_id is not None:
                pq = pq.join(Household, Household.id == Payout.household_id).where(
                    Household.site_id == site_id
                )
            paid_rp = int(session.scalar(pq) or 0)
            out_m.append(
                SummaryRow(f"{month:%Y-%m}", f"{month:%Y-%m}", int(c), int(g), int(a), paid_rp)
            )
            month = nxt
        return out_m
    raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")
