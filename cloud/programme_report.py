"""The monthly programme report: what the agency (DLH Banyumas) reports upward.

For one local month (optionally one site): kilos by category credited to households,
households active, rupiah credited and paid out in cash, sales revenue and margin per
category, the mass balance per site and category with its flags, and the fraud cases
still open. Every figure comes from the ledger's own queries (:mod:`cloud.massbalance`,
:func:`cloud.sales.margins`); :mod:`cloud.report_html` renders it for print.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.fraud.cases import list_cases
from cloud.massbalance import Balance, mass_balance
from cloud.models import Household, Site, WasteCategory, WeighinRecord, utcnow
from cloud.models.fraud import FraudCase, PayoutHold
from cloud.models.money import Payout
from cloud.sales import margins, month_bounds


@dataclass(frozen=True, slots=True)
class CategoryLine:
    category: str
    name_id: str
    name_en: str
    credited_g: int
    purchases_rp: int
    sold_g: int
    revenue_rp: int
    closing_g: int

    @property
    def margin_rp(self) -> int:
        return self.revenue_rp - self.purchases_rp


@dataclass
class ProgrammeReport:
    month: date
    site_code: str | None
    generated_at: datetime
    households_registered: int = 0
    households_active: int = 0
    weighins: int = 0
    credited_g: int = 0
    purchases_rp: int = 0
    paid_out_rp: int = 0
    payouts: int = 0
    sold_g: int = 0
    revenue_rp: int = 0
    categories: list[CategoryLine] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)
    open_cases: list[FraudCase] = field(default_factory=list)
    cases_raised: int = 0
    cases_confirmed: int = 0
    holds_active: int = 0
    #: credited grams per local day and category, for the chart
    daily: dict[date, dict[str, int]] = field(default_factory=dict)

    @property
    def margin_rp(self) -> int:
        return self.revenue_rp - self.purchases_rp

    @property
    def flagged(self) -> list[Balance]:
        return [b for b in self.balances if b.flags]


def monthly_report(
    session: Session, *, month: date, tz: ZoneInfo, site_id: int | None = None
) -> ProgrammeReport:
    """The report of local ``month`` (any day in it), for one site or the programme."""
    start, end = month_bounds(month, tz)
    code = session.scalar(select(Site.code).where(Site.id == site_id)) if site_id else None
    rep = ProgrammeReport(month.replace(day=1), code, utcnow())
    W = WeighinRecord
    credited = (
        W.status == "credited",
        W.household_id.is_not(None),
        W.effective_at >= start,
        W.effective_at < end,
        *((W.site_id == site_id,) if site_id else ()),
    )
    rep.households_active, rep.weighins = session.execute(
        select(func.count(func.distinct(W.household_id)), func.count()).where(*credited)
    ).one()
    hh = select(func.count()).select_from(Household).where(Household.active)
    rep.households_registered = int(
        session.scalar(hh.where(Household.site_id == site_id) if site_id else hh) or 0
    )
    for at, cat, g in session.execute(
        select(W.effective_at, W.category_code, W.net_g).where(*credited)
    ):
        day = rep.daily.setdefault(at.astimezone(tz).date(), defaultdict(int))
        day[cat] += g
    paid = select(func.count(), func.coalesce(func.sum(Payout.amount_rp), 0)).where(
        Payout.status == "paid", Payout.paid_at >= start, Payout.paid_at < end
    )
    if site_id:
        paid = paid.join(Household, Household.id == Payout.household_id).where(
            Household.site_id == site_id
        )
    n, rp = session.execute(paid).one()
    rep.payouts, rep.paid_out_rp = int(n or 0), int(rp or 0)

    rep.balances = mass_balance(session, start=start, end=end, site_id=site_id)
    money = {m.category: m for m in margins(session, months=[month], tz=tz, site_id=site_id)}
    names = {c.code: c for c in session.scalars(select(WasteCategory))}
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for b in rep.balances:
        per_cat[b.category][0] += b.credited_g
        per_cat[b.category][1] += b.closing_g
    for cat in sorted(set(per_cat) | set(money)):
        m = money.get(cat)
        c = names.get(cat)
        rep.categories.append(
            CategoryLine(
                cat,
                c.name_id if c else cat,
                c.name_en if c else cat,
                per_cat[cat][0],
                m.purchases_rp if m else 0,
                m.sold_g if m else 0,
                m.revenue_rp if m else 0,
                per_cat[cat][1],
            )
        )
    rep.credited_g = sum(c.credited_g for c in rep.categories)
    rep.purchases_rp = sum(c.purchases_rp for c in rep.categories)
    rep.sold_g = sum(c.sold_g for c in rep.categories)
    rep.revenue_rp = sum(c.revenue_rp for c in rep.categories)

    rep.open_cases = list_cases(session, status="open", site_id=site_id, limit=1000)
    F = FraudCase
    in_month = (
        F.raised_at >= start,
        F.raised_at < end,
        *((F.site_id == site_id,) if site_id else ()),
    )
    rep.cases_raised = int(
        session.scalar(select(func.count()).select_from(F).where(*in_month)) or 0
    )
    rep.cases_confirmed = int(
        session.scalar(
            select(func.count()).select_from(F).where(*in_month, F.status == "confirmed")
        )
        or 0
    )
    rep.holds_active = int(
        session.scalar(
            select(func.count()).select_from(PayoutHold).where(PayoutHold.released_at.is_(None))
        )
        or 0
    )
    return rep
