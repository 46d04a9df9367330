"""Which domain events are told to whom: one function per event, called by the domain
inside the event's own transaction (crediting, corrections, payouts, pickups, alerts,
cash at the door).

Each builds the notification's idempotency key from the event's identity —
``weighin_credited:<event id>``, ``reversal:<event id>``, ``payout_paid:<payout id>``,
``alert:<alert id>`` ... — so the same event, however often it is processed (a weigh-in
delivered three times, a retried request), is told once. The facts stored are plain
numbers and ids; the words are made when the message is sent (:mod:`.compose`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.models import Alert, Pickup, WeighinRecord
from cloud.models.auth import User
from cloud.models.money import Payout
from cloud.notifications.outbox import Outgoing, enqueue_many
from cloud.notifications.templates import load_templates
from cloud.postings import funds
from contract.codes import format_code


@dataclass(frozen=True, slots=True)
class CreditFacts:
    """A credit just posted (in entry order within its batch)."""

    event_id: str
    household_id: int
    site_id: int | None
    net_g: int
    category: str
    amount_rp: int
    price_rp_per_kg: int | None
    effective_at: datetime
    #: the receipt's verification code (the public verification page), told with it
    verification_code: str | None = None


def weighins_credited(
    session: Session, credits: Sequence[CreditFacts], balances: Mapping[int, int]
) -> None:
    """Tell households their credits, each with the balance right after it.

    ``balances``: each household's balance after all of ``credits``, as
    :func:`cloud.crediting.post_credits` read it with the accounts locked (crediting and
    corrections hold them to the commit), so it is exact; each credit gets its running
    balance from it (a household credited twice in one batch gets two balances).
    """
    if not credits:
        return
    balance = balances
    later: dict[int, int] = defaultdict(int)
    items: list[Outgoing] = []
    for c in reversed(credits):
        after = balance[c.household_id] - later[c.household_id]
        later[c.household_id] += c.amount_rp
        data = {
            "event_id": c.event_id,
            "net_g": c.net_g,
            "category": c.category,
            "amount_rp": c.amount_rp,
            "price_rp_per_kg": c.price_rp_per_kg,
            "balance_rp": after,
            "at": c.effective_at.isoformat(),
        }
        if c.verification_code is not None:
            data["verification_code"] = format_code(c.verification_code)
        key = f"weighin_credited:{c.event_id}"
        items.append(Outgoing("weighin_credited", key, data, c.household_id, c.site_id))
    enqueue_many(session, items[::-1])


def weighin_reversed(session: Session, rec: WeighinRecord, *, reason: str) -> None:
    if rec.household_id is None:
        return
    data = {
        "event_id": rec.event_id,
        "amount_rp": rec.amount_rp,
        "reason": reason[:120],
        "balance_rp": funds(session, household_id=rec.household_id).balance_rp,
    }
    enqueue_many(
        session,
        [Outgoing("reversal", f"reversal:{rec.event_id}", data, rec.household_id, rec.site_id)],
    )


def payout_approved(session: Session, p: Payout) -> None:
    data = {"payout_id": p.id, "amount_rp": p.amount_rp}
    enqueue_many(session, [Outgoing("payout_ready", f"payout_ready:{p.id}", data, p.household_id)])


def payout_paid(session: Session, p: Payout) -> None:
    data = {
        "payout_id": p.id,
        "amount_rp": p.amount_rp,
        "balance_rp": funds(session, household_id=p.household_id).balance_rp,
        "at": (p.paid_at.isoformat() if p.paid_at else None),
    }
    enqueue_many(session, [Outgoing("payout_paid", f"payout_paid:{p.id}", data, p.household_id)])


def _pickup_data(p: Pickup, **more: Any) -> dict[str, Any]:
    return {"pickup_id": p.id, "category": p.category_code or "-", **more}


def pickup_opened(session: Session, p: Pickup) -> None:
    """A household's pickup request was scheduled (bins' pickups tell no household)."""
    if p.household_id is None:
        return
    due = p.due_at.isoformat() if p.due_at else p.opened_at.isoformat()
    data = _pickup_data(p, due_at=due)
    key = f"pickup_scheduled:{p.id}"
    enqueue_many(session, [Outgoing("pickup_scheduled", key, data, p.household_id, p.site_id)])


def pickup_assigned(session: Session, p: Pickup) -> None:
    """A collector took the household's pickup: on the way (a new collector: told again)."""
    if p.household_id is None or p.collector_id is None:
        return
    collector = session.get(User, p.collector_id)
    name = collector.display_name if collector is not None else "-"
    key = f"pickup_on_the_way:{p.id}:{p.collector_id}"
    enqueue_many(
        session,
        [
            Outgoing(
                "pickup_on_the_way", key, _pickup_data(p, collector=name), p.household_id, p.site_id
            )
        ],
    )


def pickup_completed(session: Session, p: Pickup) -> None:
    if p.household_id is None:
        return
    data = _pickup_data(p, collected_g=p.collected_g)
    enqueue_many(
        session,
        [Outgoing("pickup_completed", f"pickup_completed:{p.id}", data, p.household_id, p.site_id)],
    )


def cash_paid_at_door(
    session: Session, p: Pickup, *, event_id: str, amount_rp: int, at: datetime
) -> None:
    """The household took its doorstep credit in cash (told after that credit's own
    notice, with the balance once the cash is out; keyed by the completion's event id)."""
    if p.household_id is None:
        return
    balance = funds(session, household_id=p.household_id).balance_rp
    data = _pickup_data(
        p, event_id=event_id, amount_rp=amount_rp, at=at.isoformat(), balance_rp=balance
    )
    enqueue_many(
        session,
        [Outgoing("doorstep_cash", f"doorstep_cash:{event_id}", data, p.household_id, p.site_id)],
    )


def alert_raised(session: Session, alert: Alert, details: Mapping[str, Any] | None = None) -> None:
    """Tell the site's operators of a new alert whose kind has a template (bin full,
    device offline); other alerts stay on the dashboard only."""
    tpl = load_templates().events.get(alert.kind)
    if tpl is None or tpl.audience != "operators":
        return
    data: dict[str, Any] = {"subject": alert.subject, "since": alert.raised_at.isoformat()}
    data["bin_id" if alert.kind == "bin_full" else "device_id"] = alert.subject
    data.update(details or {})
    enqueue_many(session, [Outgoing(alert.kind, f"alert:{alert.id}", data, None, alert.site_id)])
