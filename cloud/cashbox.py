"""Each site's cash box, day by day: opened with a float, closed with a count.

At the close of a day (local to the site: its ``timezone``, Asia/Jakarta by default)::

    expected = opening float + cash in (sales, top-ups) - cash out (deposits, other)
               - cash payouts paid at the site that day
               + cash repaid that day by the site's households that owed
                 (:func:`cloud.receivables.repay`)
    difference = counted - expected            (a difference needs a reason)

A closed day stays closed: only an administrator reopens it (with a reason, audited),
and no cash payout of that site can be paid on a closed day
(:func:`ensure_open_for_cash`, called by :func:`cloud.payouts.pay_payout`), so a count
once taken is never silently wrong. Cash payouts are the ledger's ``payout`` entries of
the site's households paid that day; sales cash is recorded as a ``sale`` movement
(the stock module's sales write it there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.errors import LedgerError, NotFound
from cloud.models import Household, JournalEntry, Posting, Site, utcnow
from cloud.models.admin import CashDay, CashMovement
from cloud.models.disbursement import Disbursement
from cloud.models.money import Payout, Receivable

MOVEMENT_SIGN = {"sale": 1, "top_up": 1, "bank_deposit": -1, "other": 0}
MAX_RP = 10_000_000_000


class CashboxError(LedgerError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Tally:
    site_id: int
    day: date
    status: str | None  # None: never opened
    opening_float_rp: int
    cash_in_rp: int
    cash_out_rp: int
    payouts_rp: int
    payouts: int
    repaid_rp: int = 0

    @property
    def expected_rp(self) -> int:
        return (
            self.opening_float_rp
            + self.cash_in_rp
            - self.cash_out_rp
            - self.payouts_rp
            + self.repaid_rp
        )


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def site_zone(site: Site) -> ZoneInfo:
    return ZoneInfo(site.timezone or "Asia/Jakarta")


def _site(session: Session, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"unknown site {site_id}")
    return site


def _day(session: Session, site_id: int, day: date, *, lock: bool = False) -> CashDay | None:
    q = select(CashDay).where(CashDay.site_id == site_id, CashDay.day == day)
    return session.scalar(q.with_for_update() if lock else q)


def open_day(session: Session, *, site_id: int, day: date, float_rp: int, by: str) -> CashDay:
    _site(session, site_id)
    if not 0 <= float_rp <= MAX_RP:
        raise CashboxError("the opening float is 0 or more rupiah", field="opening_float_rp")
    if _day(session, site_id, day) is not None:
        raise CashboxError(f"the cash box of {day} is already opened")
    row = CashDay(site_id=site_id, day=day, status="open", opening_float_rp=float_rp, opened_by=by)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="cashbox.open",
        subject=f"cashday:{row.id}",
        after={"day": day, "opening_float_rp": float_rp},
        site_id=site_id,
    )
    return row


def add_movement(
    session: Session,
    *,
    site_id: int,
    day: date,
    kind: str,
    amount_rp: int,
    note: str | None,
    by: str,
) -> CashMovement:
    """Cash into (``sale``, ``top_up``) or out of (``bank_deposit``) the box; ``other`` is
    signed by the caller. Only on an open day."""
    if kind not in MOVEMENT_SIGN:
        raise CashboxError(f"kind must be one of {', '.join(MOVEMENT_SIGN)}", field="kind")
    if amount_rp == 0 or abs(amount_rp) > MAX_RP or (MOVEMENT_SIGN[kind] and amount_rp < 0):
        raise CashboxError("a positive amount in rupiah (other: signed)", field="amount_rp")
    _site(session, site_id)  # (a site out of the caller's reach: not found)
    row = _day(session, site_id, day, lock=True)
    if row is None or row.status != "open":
        raise CashboxError(f"the cash box of {day} is not open")
    signed = amount_rp * (MOVEMENT_SIGN[kind] or 1)
    mv = CashMovement(site_id=site_id, day=day, kind=kind, amount_rp=signed, note=note, by=by)
    session.add(mv)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="cashbox.movement",
        subject=f"cashday:{row.id}",
        after={"kind": kind, "amount_rp": signed, "note": note},
        site_id=site_id,
    )
    return mv


def tally(session: Session, *, site_id: int, day: date) -> Tally:
    """What the box should hold now: float, movements and cash payouts of the day."""
    zone = site_zone(_site(session, site_id))
    row = _day(session, site_id, day)
    moves = session.execute(
        select(
            func.coalesce(func.sum(CashMovement.amount_rp).filter(CashMovement.amount_rp > 0), 0),
            func.coalesce(func.sum(CashMovement.amount_rp).filter(CashMovement.amount_rp < 0), 0),
        ).where(CashMovement.site_id == site_id, CashMovement.day == day)
    ).one()
    start, end = day_bounds(day, zone)
    paid = session.execute(
        select(func.coalesce(func.sum(Payout.amount_rp), 0), func.count(Payout.id))
        .join(Household, Household.id == Payout.household_id)
        .where(
            Household.site_id == site_id,
            Payout.status == "paid",
            Payout.paid_at >= start,
            Payout.paid_at < end,
            _is_cash(),
        )
    ).one()
    # cash repaid: the repayment entries' credits to the receivables of the site's households
    repaid = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_rp), 0))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Receivable, Receivable.account_id == Posting.account_id)
        .join(Household, Household.id == Receivable.household_id)
        .where(
            Household.site_id == site_id,
            JournalEntry.kind == "receivable_repayment",
            JournalEntry.created_at >= start,
            JournalEntry.created_at < end,
        )
    )
    return Tally(
        site_id=site_id,
        day=day,
        status=row.status if row else None,
        opening_float_rp=row.opening_float_rp if row else 0,
        cash_in_rp=int(moves[0]),
        cash_out_rp=-int(moves[1]),
        payouts_rp=int(paid[0]),
        payouts=int(paid[1]),
        repaid_rp=-int(repaid or 0),
    )


def _is_cash() -> ColumnElement[bool]:
    """A payout handed out at the counter (not by a bank transfer or a provider)."""
    return ~select(Disbursement.id).where(Disbursement.payout_id == Payout.id).exists()


def close_day(
    session: Session,
    *,
    site_id: int,
    day: date,
    counted_rp: int,
    reason: str | None,
    by: str,
) -> CashDay:
    """Close with the counted cash; a difference from the expected needs a reason."""
    _site(session, site_id)  # (a site out of the caller's reach: not found)
    row = _day(session, site_id, day, lock=True)
    if row is None:
        raise CashboxError(f"the cash box of {day} was never opened")
    if row.status != "open":
        raise CashboxError(f"the cash box of {day} is already closed")
    if not 0 <= counted_rp <= MAX_RP:
        raise CashboxError("the counted cash is 0 or more rupiah", field="counted_rp")
    t = tally(session, site_id=site_id, day=day)
    difference = counted_rp - t.expected_rp
    if difference and not (reason and reason.strip()):
        raise CashboxError(
            f"the count differs from the expected Rp {t.expected_rp} by Rp {difference}: "
            "give the reason",
            field="reason",
        )
    row.status, row.expected_rp, row.counted_rp = "closed", t.expected_rp, counted_rp
    row.difference_rp, row.reason = difference, (reason or "").strip()[:300] or None
    row.closed_by, row.closed_at = by, utcnow()
    session.flush()
    audit.record(
        session,
        actor=by,
        action="cashbox.close",
        subject=f"cashday:{row.id}",
        before={"status": "open"},
        after={
            "status": "closed",
            "expected_rp": t.expected_rp,
            "counted_rp": counted_rp,
            "difference_rp": difference,
            "reason": row.reason,
        },
        site_id=site_id,
    )
    return row


def reopen_day(
    session: Session, *, site_id: int, day: date, reason: str, by: str, by_role: str
) -> CashDay:
    """Only the administrator reopens a closed day (with a reason)."""
    if by_role != "admin":
        raise CashboxError("only the administrator reopens a closed day")
    row = _day(session, site_id, day, lock=True)
    if row is None or row.status != "closed":
        raise CashboxError(f"the cash box of {day} is not closed")
    if not reason.strip():
        raise CashboxError("reopening needs a reason", field="reason")
    before = {
        "status": "closed",
        "counted_rp": row.counted_rp,
        "difference_rp": row.difference_rp,
        "reason": row.reason,
    }
    row.status = "open"
    row.expected_rp = row.counted_rp = row.difference_rp = row.closed_at = None
    row.closed_by = row.reason = None
    session.flush()
    audit.record(
        session,
        actor=by,
        action="cashbox.reopen",
        subject=f"cashday:{row.id}",
        before=before,
        after={"status": "open", "reason": reason.strip()[:300]},
        site_id=site_id,
    )
    return row


def ensure_open_for_cash(session: Session, *, household_id: int, at: datetime) -> None:
    """Refuse a cash payout at a site whose cash box of that day is closed."""
    site_id = session.scalar(select(Household.site_id).where(Household.id == household_id))
    if site_id is None:
        return
    row = _day(session, site_id, local_day(at, site_zone(_site(session, site_id))))
    if row is not None and row.status == "closed":
        raise CashboxError(
            f"the cash box of {row.day} is closed: no cash payout until the administrator "
            "reopens it"
        )


def days(
    session: Session, *, site_id: int | None, limit: int, offset: int
) -> tuple[list[CashDay], int]:
    q = select(CashDay)
    if site_id is not None:
        q = q.where(CashDay.site_id == site_id)
    total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = session.scalars(
        q.order_by(CashDay.day.desc(), CashDay.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
