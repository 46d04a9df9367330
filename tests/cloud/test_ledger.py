"""Ledger crediting on SQLite and PostgreSQL: idempotency, rounding, unassigned, reversal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from cloud import corrections, crediting, errors, households, postings, pricing
from cloud.db import session_factory
from cloud.models import AppendOnlyError, JournalEntry, Posting, ProcessedEvent, WeighinRecord
from contract import ReceiptStatus
from tests.cloud.conftest import PET_RP_PER_KG, PRICES_FROM
from tests.cloud.factories import T0, weighin

pytestmark = pytest.mark.integration

RECEIVED = T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("net_g", "rp_per_kg", "expected"),
    [(1250, 3000, 3750), (1, 500, 1), (1, 499, 0), (333, 1500, 500), (3, 1500, 5), (0, 9, 0)],
)
def test_amount_rounds_half_up(net_g: int, rp_per_kg: int, expected: int) -> None:
    assert pricing.amount_for(net_g, rp_per_kg) == expected


def test_credit_posts_balanced_entry_and_balance(session: Session, household_id: int) -> None:
    receipt = crediting.credit_weighin(session, event=weighin(net_g=1250), received_at=RECEIVED)
    session.commit()
    assert receipt.status is ReceiptStatus.CREDITED
    assert receipt.amount_rp == 3750
    assert receipt.price_rp_per_kg == PET_RP_PER_KG
    assert receipt.member_no == "M-0001"
    assert postings.funds(session, household_id=household_id).balance_rp == 3750
    assert postings.postings_total(session) == 0
    rec = session.scalars(select(WeighinRecord)).one()
    assert rec.frames == ["53205320202020312e323530206b670d0a"]
    assert rec.effective_at == weighin().device_time


def test_redelivery_returns_same_receipt_and_credits_once(
    session: Session, household_id: int
) -> None:
    ev = weighin(seq=7)
    receipts = [
        crediting.credit_weighin(session, event=ev, received_at=RECEIVED + timedelta(minutes=i))
        for i in range(3)
    ]
    session.commit()
    assert receipts[0] == receipts[1] == receipts[2]
    assert postings.funds(session, household_id=household_id).balance_rp == 3750
    assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_price_is_versioned_by_effective_time(session: Session, household_id: int) -> None:
    pricing.set_price(
        session, category="plastic-pet", rp_per_kg=4000, effective_from=T0 + timedelta(hours=1)
    )
    before = crediting.credit_weighin(session, event=weighin(seq=1), received_at=RECEIVED)
    after = crediting.credit_weighin(
        session,
        event=weighin(seq=2, device_time=T0 + timedelta(hours=2)),
        received_at=T0 + timedelta(hours=2),
    )
    assert (before.price_rp_per_kg, after.price_rp_per_kg) == (3000, 4000)
    assert (before.amount_rp, after.amount_rp) == (3750, 5000)


def test_unsynced_clock_prices_at_receive_time(session: Session, household_id: int) -> None:
    pricing.set_price(
        session, category="plastic-pet", rp_per_kg=4000, effective_from=T0 + timedelta(hours=1)
    )
    # the device claims an old time, but its clock was never synchronised
    r = crediting.credit_weighin(
        session,
        event=weighin(seq=3, clock_synced=False, device_time=PRICES_FROM),
        received_at=T0 + timedelta(hours=2),
    )
    assert r.price_rp_per_kg == 4000
    rec = session.scalars(select(WeighinRecord)).one()
    assert rec.effective_at == T0 + timedelta(hours=2)


def test_unknown_card_is_kept_unassigned_then_assigned(session: Session, household_id: int) -> None:
    r = crediting.credit_weighin(
        session, event=weighin(seq=4, card_id="NOPE-9"), received_at=RECEIVED
    )
    r2 = crediting.credit_weighin(session, event=weighin(seq=5, card_id=None), received_at=RECEIVED)
    session.commit()
    assert r.status is ReceiptStatus.UNASSIGNED
    assert r.amount_rp == 0
    assert r2.status is ReceiptStatus.UNASSIGNED
    assert postings.funds(session, household_id=household_id).balance_rp == 0
    pending = corrections.unassigned_weighins(session)
    assert [w.event_id for w in pending] == ["st-bank01:4", "st-bank01:5"]

    corrections.assign_weighin(
        session, weighin_id=pending[0].id, household_id=household_id, by="op"
    )
    session.commit()
    assert postings.funds(session, household_id=household_id).balance_rp == 3750
    with pytest.raises(errors.LedgerError):
        corrections.assign_weighin(
            session, weighin_id=pending[0].id, household_id=household_id, by="op"
        )
    # the device's receipt for a redelivery is still the one it got first
    again = crediting.credit_weighin(
        session, event=weighin(seq=4, card_id="NOPE-9"), received_at=RECEIVED
    )
    assert again == r


def test_unknown_category_or_missing_price_is_rejected(session: Session, household_id: int) -> None:
    pricing.ensure_category(session, code="glass", name_id="Kaca", name_en="Glass")
    no_cat = crediting.credit_weighin(
        session, event=weighin(seq=8, category="metal"), received_at=RECEIVED
    )
    no_price = crediting.credit_weighin(
        session, event=weighin(seq=9, category="glass"), received_at=RECEIVED
    )
    assert no_cat.status is ReceiptStatus.REJECTED
    assert "metal" in (no_cat.reason or "")
    assert no_price.status is ReceiptStatus.REJECTED
    assert "no price" in (no_price.reason or "")
    assert postings.postings_total(session) == 0
    assert postings.funds(session, household_id=household_id).balance_rp == 0


def test_reversal_restores_balance_exactly(session: Session, household_id: int) -> None:
    crediting.credit_weighin(session, event=weighin(seq=1, net_g=2000), received_at=RECEIVED)
    crediting.credit_weighin(session, event=weighin(seq=2, net_g=1250), received_at=RECEIVED)
    session.commit()
    wrong = session.scalars(select(WeighinRecord).where(WeighinRecord.seq == 1)).one()
    n_postings = session.scalar(select(func.count()).select_from(Posting))
    corrections.reverse_weighin(session, weighin_id=wrong.id, reason="scale not zeroed", by="op")
    session.commit()
    assert postings.funds(session, household_id=household_id).balance_rp == 3750
    assert postings.postings_total(session) == 0
    assert session.scalar(select(func.count()).select_from(Posting)) == (n_postings or 0) + 2
    with pytest.raises(errors.LedgerError):
        corrections.reverse_weighin(session, weighin_id=wrong.id, reason="again", by="op")
    lines = postings.statement(session, household_id=household_id).lines
    assert [ln.amount_rp for ln in lines] == [6000, 3750, -6000]
    assert [ln.balance_rp for ln in lines] == [6000, 9750, 3750]
    assert lines[0].weighin_id == wrong.id


def test_card_relink_moves_future_credits(session: Session, household_id: int) -> None:
    other = households.register_household(session, member_no="M-0002", name="Pak Budi")
    households.link_card(session, card_id="CARD-1", household_id=other.id, by="op")
    crediting.credit_weighin(session, event=weighin(seq=1), received_at=RECEIVED)
    session.commit()
    assert postings.funds(session, household_id=other.id).balance_rp == 3750
    assert postings.funds(session, household_id=household_id).balance_rp == 0


def test_batch_with_duplicates_inside(session: Session, household_id: int) -> None:
    events = [weighin(seq=s) for s in (1, 2, 1, 3, 2)]
    receipts = crediting.credit_batch(session, events, received_at=RECEIVED)
    assert receipts[0] == receipts[2]
    assert receipts[1] == receipts[4]
    assert postings.funds(session, household_id=household_id).balance_rp == 3 * 3750
    again = crediting.credit_batch(session, events[:2], received_at=RECEIVED + timedelta(hours=1))
    assert again == receipts[:2]


def test_large_batch_costs_a_fixed_number_of_statements(
    engine: Engine, session: Session, household_id: int
) -> None:
    """1,200 weigh-ins (several IN-list chunks) of every outcome, two households, repeats.

    Each credit lands once on the right account and is linked both ways to its own
    entry, and the batch costs a few dozen statements, not a few per weigh-in.
    """
    other = households.register_household(session, member_no="M-0002", name="Pak Budi")
    households.link_card(session, card_id="CARD-2", household_id=other.id, by="test")
    session.commit()

    def kind_of(seq: int) -> dict[str, Any]:
        if seq % 13 == 0:
            return {"category": "metal"}  # rejected: unknown category
        if seq % 10 == 0:
            return {"card_id": None}  # unassigned
        if seq % 7 == 0:
            return {"card_id": "NOPE-9"}  # unassigned
        return {"card_id": "CARD-2"} if seq % 3 == 0 else {}

    events = [weighin(seq=s, net_g=1000 + s, **kind_of(s)) for s in range(1, 1201)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        receipts = crediting.credit_batch(session, [*events, *events[:5]], received_at=RECEIVED)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    # 26: reads, inserts, the journal head (2), the notifications (6); ~5 per weigh-in before
    assert len(statements) <= 30, statements
    assert receipts[1200:] == receipts[:5]
    credited = [(e, r) for e, r in zip(events, receipts[:1200], strict=True) if r.amount_rp > 0]
    assert all(r.status is ReceiptStatus.CREDITED for _, r in credited)
    assert len(credited) == sum(r.status is ReceiptStatus.CREDITED for r in receipts[:1200])
    for hh, card in ((household_id, "CARD-1"), (other.id, "CARD-2")):
        expected = sum(r.amount_rp for e, r in credited if e.card_id == card)
        assert postings.funds(session, household_id=hh).balance_rp == expected > 0
    assert postings.postings_total(session) == 0
    linked = session.scalar(
        select(func.count())
        .select_from(WeighinRecord)
        .join(JournalEntry, JournalEntry.id == WeighinRecord.entry_id)
        .where(JournalEntry.weighin_id == WeighinRecord.id)
    )
    with_entry = session.scalar(
        select(func.count()).select_from(WeighinRecord).where(WeighinRecord.entry_id.is_not(None))
    )
    assert linked == with_entry == len(credited)
    assert crediting.credit_batch(session, events, received_at=RECEIVED) == receipts[:1200]


def test_two_workers_racing_on_the_same_events(engine: Engine, household_id: int) -> None:
    """Two sessions credit overlapping batches at once: each event is credited once."""
    factory = session_factory(engine)
    events = [weighin(seq=s) for s in range(1, 201)]
    results: dict[int, list[object]] = {}
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        batch = events if i == 0 else list(reversed(events))
        with factory() as s:
            barrier.wait()
            for start in range(0, len(batch), 50):
                results.setdefault(i, []).extend(
                    crediting.credit_batch(s, batch[start : start + 50], received_at=RECEIVED)
                )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    by_id_0 = {r.event_id: r for r in results[0]}  # type: ignore[attr-defined]
    by_id_1 = {r.event_id: r for r in results[1]}  # type: ignore[attr-defined]
    assert by_id_0 == by_id_1
    assert len(by_id_0) == 200
    with factory() as s:
        assert postings.funds(s, household_id=household_id).balance_rp == 200 * 3750
        assert postings.postings_total(s) == 0
        assert s.scalar(select(func.count()).select_from(WeighinRecord)) == 200


def test_naive_datetimes_are_refused(session: Session, household_id: int) -> None:
    with pytest.raises(errors.LedgerError, match="naive"):
        pricing.set_price(
            session, category="organic", rp_per_kg=1, effective_from=datetime(2026, 1, 2)
        )


def test_receive_time_is_stored_utc(session: Session, household_id: int) -> None:
    crediting.credit_weighin(session, event=weighin(seq=1), received_at=RECEIVED)
    session.commit()
    session.expire_all()
    rec = session.scalars(select(WeighinRecord)).one()
    assert rec.received_at == RECEIVED
    assert rec.received_at.tzinfo == UTC


def test_ledger_rows_are_append_only(session: Session, household_id: int) -> None:
    crediting.credit_weighin(session, event=weighin(seq=1), received_at=RECEIVED)
    session.commit()
    posting = session.scalars(select(Posting)).first()
    assert posting is not None
    posting.amount_rp += 1
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(Posting)).first())
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    assert postings.funds(session, household_id=household_id).balance_rp == 3750


def test_a_statement_window_without_postings_still_has_its_balances(
    session: Session, household_id: int
) -> None:
    """Opening = balance before the window, closing = after it, even when it is empty.

    mutant: statement's opening left at 0 when ``since`` is given -> the empty future
    window opens at Rp 0.
    mutant: closing_rp = 0 for an empty window -> the empty windows close at Rp 0.
    """
    crediting.credit_weighin(session, event=weighin(seq=1, net_g=1000), received_at=RECEIVED)
    session.commit()
    mid = datetime.now(UTC)
    crediting.credit_weighin(session, event=weighin(seq=2, net_g=2000), received_at=RECEIVED)
    session.commit()
    hour = timedelta(hours=1)

    def window(since: datetime | None, until: datetime | None) -> tuple[int, int, int]:
        s = postings.statement(session, household_id=household_id, since=since, until=until)
        return s.opening_rp, len(s.lines), s.closing_rp

    first, total = 3000, 9000  # Rp 3,000/kg PET
    assert window(mid + hour, mid + 2 * hour) == (total, 0, total)  # nothing since
    assert window(mid - 2 * hour, mid - hour) == (0, 0, 0)  # nothing yet
    assert window(mid, mid + hour) == (first, 1, total)  # the second credit only
    assert window(None, mid) == (0, 1, first)
    assert window(None, None) == (0, 2, total)
