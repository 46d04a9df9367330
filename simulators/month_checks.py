"""What a simulated month must show, computed from independent records of the ledger.

:func:`reconcile` answers, for the ledger as it stands:

* per category: the stock (sum of movements) against *credited in − sold − losses*,
  each taken from its own record — station kilos from the credited weigh-ins, doorstep
  kilos from the depot deliveries, sold kilos from the sales, losses from the loss and
  count movements — and whether they are equal, exactly;
* the ledger: journal entries whose postings do not sum to zero (must be none), and the
  programme's accounts against the weigh-ins, sales and payouts behind them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.models import Account, Device, Posting, WeighinRecord
from cloud.models.money import Payout
from cloud.models.stock import DepotDelivery, Sale, StockMovement
from cloud.postings import CASH_ACCOUNT, PURCHASES_ACCOUNT, SALES_ACCOUNT, postings_total
from cloud.stock import STATION_KINDS


def _by_category(session: Session, q: Any) -> dict[str, int]:
    return {c: int(g or 0) for c, g in session.execute(q)}


def stock_identity(session: Session) -> dict[str, dict[str, int | bool]]:
    """Per category: stock vs credited in − sold − losses (and the terms)."""
    M, W = StockMovement, WeighinRecord
    level = _by_category(
        session, select(M.category_code, func.sum(M.qty_g)).group_by(M.category_code)
    )
    station_in = _by_category(
        session,
        select(W.category_code, func.sum(W.net_g))
        .join(Device, Device.device_id == W.device_id)
        .where(
            W.status == "credited",
            W.household_id.is_not(None),
            W.site_id.is_not(None),
            W.reversal_entry_id.is_(None),
            Device.kind.in_(STATION_KINDS),
        )
        .group_by(W.category_code),
    )
    delivered = _by_category(
        session,
        select(M.category_code, func.sum(M.qty_g))
        .join(DepotDelivery, DepotDelivery.id == M.delivery_id)
        .group_by(M.category_code),
    )
    sold = _by_category(
        session, select(Sale.category_code, func.sum(Sale.qty_g)).group_by(Sale.category_code)
    )
    lost = _by_category(
        session,
        select(M.category_code, func.sum(-M.qty_g))
        .where(M.kind.in_(("loss", "count")))
        .group_by(M.category_code),
    )
    out: dict[str, dict[str, int | bool]] = {}
    for cat in sorted({*level, *station_in, *delivered, *sold, *lost}):
        expected = (
            station_in.get(cat, 0) + delivered.get(cat, 0) - sold.get(cat, 0) - lost.get(cat, 0)
        )
        out[cat] = {
            "stock_g": level.get(cat, 0),
            "station_in_g": station_in.get(cat, 0),
            "doorstep_in_g": delivered.get(cat, 0),
            "sold_g": sold.get(cat, 0),
            "lost_g": lost.get(cat, 0),
            "equal": level.get(cat, 0) == expected,
        }
    return out


def ledger_checks(session: Session) -> dict[str, Any]:
    """Unbalanced entries (must be none) and the programme's accounts reconciled."""
    unbalanced = session.execute(
        select(Posting.entry_id).group_by(Posting.entry_id).having(func.sum(Posting.amount_rp) != 0)
    ).all()
    balances: dict[str, int] = defaultdict(int)
    for code, kind, total in session.execute(
        select(Account.code, Account.kind, func.sum(Posting.amount_rp))
        .join(Posting, Posting.account_id == Account.id)
        .group_by(Account.code, Account.kind)
    ):
        balances["household" if kind == "household" else code] += int(total or 0)
    W = WeighinRecord
    credited_rp = int(
        session.scalar(
            select(func.coalesce(func.sum(W.amount_rp), 0)).where(
                W.entry_id.is_not(None), W.reversal_entry_id.is_(None)
            )
        )
        or 0
    )
    sales_rp = int(session.scalar(select(func.coalesce(func.sum(Sale.amount_rp), 0))) or 0)
    paid_rp = int(
        session.scalar(
            select(func.coalesce(func.sum(Payout.amount_rp), 0)).where(Payout.status == "paid")
        )
        or 0
    )
    return {
        "unbalanced_entries": len(unbalanced),
        "postings_total": postings_total(session),
        "purchases_rp": balances[PURCHASES_ACCOUNT],
        "credited_rp": credited_rp,
        "sales_rp": -balances[SALES_ACCOUNT],
        "sales_recorded_rp": sales_rp,
        "cash_rp": balances[CASH_ACCOUNT],
        "cash_expected_rp": sales_rp - paid_rp,
        "households_owed_rp": -balances["household"],
        "households_expected_rp": credited_rp - paid_rp,
        "reconciles": (
            not unbalanced
            and balances[PURCHASES_ACCOUNT] == credited_rp
            and -balances[SALES_ACCOUNT] == sales_rp
            and balances[CASH_ACCOUNT] == sales_rp - paid_rp
            and -balances["household"] == credited_rp - paid_rp
        ),
    }


def reconcile(session: Session) -> dict[str, Any]:
    return {"stock": stock_identity(session), "ledger": ledger_checks(session)}
