"""Stock moved only by events, on SQLite and PostgreSQL (``session`` is parametrised).

mutant: crediting._write_new without its weighins_into_stock call -> station_weighin fails
mutant: WeighedIn.enters_stock without the station-kind test -> doorstep test fails (in twice)
mutant: WeighedIn.enters_stock without its credited/household tests -> unassigned test fails
mutant: assign_weighin without its weighin_into_stock call -> unassigned test fails
mutant: reverse_weighin without its reversal_out_of_stock call -> reversal test fails
mutant: take_out with ``>=`` instead of ``>`` -> selling exactly the stock fails
mutant: available_from ignoring later movements -> back-dated sale test fails
mutant: record_sale posting cash without the sales account -> post_entry refuses: sale test
mutant: stock_movements sign check dropped from the model/migration -> sign test fails
mutant: deliver_to_depot without the already-delivered check -> PK still refuses; the
        message test fails (the error would be a bare IntegrityError, retried as a race)
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud import corrections, crediting, deliveries, sales, stock
from cloud.db import make_engine, migrate, session_factory
from cloud.errors import LedgerError
from cloud.households import ensure_site
from cloud.models import Device, JournalEntry, Posting, Site, WeighinRecord
from cloud.models.stock import DepotDelivery, Sale, StockMovement
from cloud.postings import SALES_ACCOUNT, postings_total, programme_account
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import T0, weighin
from tests.support.services import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

RECEIVED = T0 + timedelta(seconds=30)
SOLD_AT = T0 + timedelta(hours=6)


def _site(session: Session) -> int:
    return int(session.scalars(select(Site.id).where(Site.code == "bank01")).one())


def _level(session: Session, category: str = "plastic-pet") -> int:
    return stock.level(session, site_id=_site(session), category=category)


def _credit(session: Session, seq: int, **kw: Any) -> int:
    crediting.credit_weighin(session, event=weighin(seq=seq, **kw), received_at=RECEIVED)
    ev = f"{kw.get('device_id', 'st-bank01')}:{seq}"
    return int(session.scalars(select(WeighinRecord.id).where(WeighinRecord.event_id == ev)).one())


def _sell(session: Session, qty_g: int, at: object = SOLD_AT, **kw: object) -> Sale:
    args: dict[str, object] = dict(
        site_id=_site(session),
        category="plastic-pet",
        buyer="CV Daur Ulang",
        qty_g=qty_g,
        rp_per_kg=4_500,
        amount_rp=qty_g * 4_500 // 1000,
        ticket_no="WB-7",
        by="op",
        sold_at=at,
    )
    args.update(kw)
    return sales.record_sale(session, **args)  # type: ignore[arg-type]


def test_station_weighin_enters_stock_in_the_credits_transaction(
    session: Session, household_id: int
) -> None:
    _credit(session, 1, net_g=1250)
    assert _level(session) == 1250  # visible inside the crediting transaction
    session.rollback()  # the credit never happened: neither did its stock
    assert _level(session) == 0
    wid = _credit(session, 1, net_g=1250)
    crediting.credit_weighin(session, event=weighin(seq=1, net_g=1250), received_at=RECEIVED)
    session.commit()  # a redelivery credits nothing, and stocks nothing
    mv = session.scalars(select(StockMovement)).one()
    assert (mv.kind, mv.qty_g, mv.weighin_id, mv.effective_at) == (
        "weighin",
        1250,
        wid,
        T0 + timedelta(seconds=1),
    )


def test_unassigned_waits_then_enters_when_assigned(session: Session, household_id: int) -> None:
    wid = _credit(session, 2, card_id="UNKNOWN", net_g=800)
    _credit(session, 3, category="no-such-category")  # rejected: never in stock
    session.commit()
    unassigned = session.get(WeighinRecord, wid)
    assert unassigned is not None
    stock.weighin_into_stock(session, unassigned)  # the hook itself leaves it out, whoever calls
    assert _level(session) == 0
    assert stock.unassigned_waiting(session) == {(_site(session), "plastic-pet"): 800}
    corrections.assign_weighin(session, weighin_id=wid, household_id=household_id, by="op")
    session.commit()
    assert _level(session) == 800
    assert stock.unassigned_waiting(session) == {}


def test_a_reversed_credit_leaves_stock(session: Session, household_id: int) -> None:
    wid = _credit(session, 4, net_g=2000)
    session.commit()
    entry = corrections.reverse_weighin(session, weighin_id=wid, reason="scale error", by="op")
    session.commit()
    assert _level(session) == 0
    out = session.scalars(
        select(StockMovement).where(StockMovement.kind == "weighin_reversal")
    ).one()
    assert (out.qty_g, out.effective_at, out.created_by) == (-2000, entry.effective_at, "op")


def test_doorstep_weighin_enters_stock_at_the_depot_once(
    session: Session, household_id: int
) -> None:
    session.add(
        Device(device_id="ph-col01", kind="collector", site_id=_site(session), revoked=False)
    )
    door = _credit(session, 1, device_id="ph-col01", net_g=5000)
    station = _credit(session, 9, net_g=1000)
    session.commit()
    assert _level(session) == 1000  # the door's kilos are with the collector

    def deliver() -> DepotDelivery:
        return deliveries.deliver_to_depot(
            session,
            site_id=_site(session),
            collector_id=7,
            by="user:col",
            delivered_g={"plastic-pet": 4600},
            weighin_ids=[door],
            event_id="ph-col01:d1",
        )

    d, again = deliver(), deliver()  # a retry from the phone is the same delivery
    session.commit()
    assert again.id == d.id
    assert _level(session) == 5600
    with pytest.raises(LedgerError, match="delivered already"):
        deliveries.deliver_to_depot(
            session,
            site_id=_site(session),
            collector_id=7,
            by="c",
            delivered_g={"plastic-pet": 1},
            weighin_ids=[door],
        )
    session.rollback()
    with pytest.raises(LedgerError, match="station's"):
        deliveries.deliver_to_depot(
            session,
            site_id=_site(session),
            collector_id=7,
            by="c",
            delivered_g={"plastic-pet": 1},
            weighin_ids=[station],
        )


def test_a_sale_never_takes_stock_below_zero(session: Session, household_id: int) -> None:
    _credit(session, 1, net_g=3000)
    session.commit()
    with pytest.raises(stock.InsufficientStock, match=r"3\.001 kg of plastic-pet .* only 3 kg"):
        _sell(session, 3001)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Sale)) == 0
    assert postings_total(session) == 0
    assert _level(session) == 3000
    _sell(session, 3000)  # exactly what is there
    session.commit()
    assert _level(session) == 0
    with pytest.raises(stock.InsufficientStock):
        _sell(session, 5, ticket_no="WB-8")


def test_a_backdated_sale_cannot_undercut_a_later_one(session: Session, household_id: int) -> None:
    _credit(session, 1, net_g=3000)
    _sell(session, 2000)  # at SOLD_AT: 1 kg left from then on
    session.commit()
    with pytest.raises(stock.InsufficientStock):  # 3 kg there at T0+1h, but 2 are sold later
        _sell(session, 1500, at=T0 + timedelta(hours=1), ticket_no="WB-9")
    session.rollback()
    _sell(session, 1000, at=T0 + timedelta(hours=1), ticket_no="WB-9")
    session.commit()
    assert _level(session) == 0


def test_a_sale_posts_its_revenue_and_margin_is_a_query(
    session: Session, household_id: int
) -> None:
    _credit(session, 1, net_g=4000)  # Rp 12,000 to the household
    sale = _sell(session, 4000, amount_rp=17_500)  # a buyer's deduction: not 4 x 4,500
    session.commit()
    lines = session.execute(
        select(Posting.account_id, Posting.amount_rp).where(Posting.entry_id == sale.entry_id)
    ).all()
    revenue = programme_account(session, SALES_ACCOUNT).id
    assert sorted(a for _, a in lines) == [-17_500, 17_500]
    assert (revenue, -17_500) in lines
    assert session.get(JournalEntry, sale.entry_id).kind == "sale"  # type: ignore[union-attr]
    assert postings_total(session) == 0
    (m,) = sales.margins(session, months=[T0.date()], tz=ZoneInfo("Asia/Jakarta"))
    assert (m.category, m.bought_g, m.purchases_rp, m.sold_g, m.revenue_rp, m.margin_rp) == (
        "plastic-pet",
        4000,
        12_000,
        4000,
        17_500,
        5_500,
    )


def test_sale_input_is_checked(session: Session, household_id: int) -> None:
    _credit(session, 1, net_g=3000)
    for kw, field in (
        ({"buyer": " "}, "buyer"),
        ({"ticket_no": None}, "ticket_no"),
        ({"scale_device_id": "st-bank01"}, "ticket_no"),
        ({"ticket_no": None, "scale_device_id": "st-elsewhere"}, "scale_device_id"),
        ({"amount_rp": -1}, "amount_rp"),
    ):
        with pytest.raises(sales.SaleError) as err:
            _sell(session, 100, **kw)
        assert err.value.field == field
    _sell(session, 100, ticket_no=None, scale_device_id="st-bank01")  # the site's own scale


def test_losses_transfers_and_counts(session: Session, household_id: int) -> None:
    _credit(session, 1, net_g=10_000)
    site2 = ensure_site(session, code="bank02").id
    session.commit()
    here = _site(session)
    stock.record_loss(
        session, site_id=here, category="plastic-pet", qty_g=500, reason="sorting_reject", by="op"
    )
    stock.transfer(
        session, from_site_id=here, to_site_id=site2, category="plastic-pet", qty_g=4000, by="op"
    )
    with pytest.raises(stock.InsufficientStock):
        stock.transfer(
            session,
            from_site_id=here,
            to_site_id=site2,
            category="plastic-pet",
            qty_g=6000,
            by="op",
        )
    with pytest.raises(LedgerError, match="reason"):
        stock.record_loss(
            session, site_id=here, category="plastic-pet", qty_g=1, reason="theft?", by="op"
        )
    count = stock.record_count(
        session, site_id=here, category="plastic-pet", counted_g=5_200, by="op"
    )
    session.commit()
    assert count is not None
    assert count.qty_g == -300
    assert (
        stock.record_count(session, site_id=here, category="plastic-pet", counted_g=5_200, by="op")
        is None
    )
    assert (_level(session), stock.level(session, site_id=site2, category="plastic-pet")) == (
        5_200,
        4_000,
    )


def test_the_database_checks_each_kinds_sign(session: Session, household_id: int) -> None:
    session.add(
        StockMovement(
            site_id=_site(session),
            category_code="plastic-pet",
            kind="sale",
            qty_g=500,
            effective_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_two_sales_of_the_same_kilos_one_waits_and_is_refused(postgres: PostgresServer) -> None:
    """PostgreSQL: the second sale waits at the site's lock, then sees the kilos gone.

    mutant: lock_sites without with_for_update -> the second sale does not wait (and
    both sell the same 3 kg)
    """
    url = postgres.create_database("stock_lock")
    migrate(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    try:
        with factory() as s:
            seed_programme(s)
            _credit(s, 1, net_g=3000)
            s.commit()
        outcome: list[BaseException | None] = []
        done = threading.Event()

        def second() -> None:
            try:
                with factory() as s:
                    _sell(s, 2000, ticket_no="WB-2")
                    s.commit()
                outcome.append(None)
            except BaseException as exc:  # reported below, not lost in the thread
                outcome.append(exc)
            finally:
                done.set()

        with factory() as first:
            _sell(first, 2000)
            thread = threading.Thread(target=second)
            thread.start()
            wait_until(lambda: done.is_set() or _waiting_for_sites(engine), 30, "the second sale")
            assert not done.is_set(), outcome  # it waited ...
            first.commit()
        thread.join(30)
        assert isinstance(outcome[0], stock.InsufficientStock), outcome  # ... and was refused
        with factory() as s:
            assert _level(s) == 1000
    finally:
        engine.dispose()


def _waiting_for_sites(engine: Engine) -> bool:
    with engine.connect() as c:
        q = text("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return any("FROM sites" in q and "FOR UPDATE" in q for q in c.scalars(q))
