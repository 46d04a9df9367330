"""Fixtures for the cloud tests: a migrated ledger database, a seeded programme, a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cloud import households, postings, pricing
from cloud.db import make_engine, session_factory
from cloud.devices import register_device
from cloud.ingest import IngestWorker
from cloud.models import ProcessedEvent, WeighinRecord
from cloud.pickups import register_bin
from tests.cloud.mqtt_support import ingest_settings
from tests.support.services import MosquittoServer

#: price of the seeded category, rupiah per kg
PET_RP_PER_KG = 3_000
PRICES_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(ledger_url: str, migrate_ledger: Callable[[str], None]) -> Iterator[Engine]:
    migrate_ledger(ledger_url)
    eng = make_engine(ledger_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


def seed_bin(session: Session, bin_id: str) -> str:
    """A bin device and its bin of the same id at site ``bank01`` (committed); its id."""
    register_device(session, device_id=bin_id, kind="bin", site="bank01")
    register_bin(session, bin_id=bin_id, site="bank01", device_id=bin_id)
    session.commit()
    return bin_id


def seed_programme(session: Session, *, stations: tuple[str, ...] = ("st-bank01",)) -> int:
    """A site, a category with a price, a household with card ``CARD-1``; its id."""
    pricing.ensure_category(session, code="plastic-pet", name_id="Plastik PET", name_en="PET")
    pricing.ensure_category(session, code="organic", name_id="Organik", name_en="Organic")
    pricing.set_price(
        session, category="plastic-pet", rp_per_kg=PET_RP_PER_KG, effective_from=PRICES_FROM
    )
    pricing.set_price(session, category="organic", rp_per_kg=500, effective_from=PRICES_FROM)
    hh = households.register_household(session, member_no="M-0001", name="Ibu Sari", site="bank01")
    households.link_card(session, card_id="CARD-1", household_id=hh.id, by="test")
    for st in stations:
        register_device(session, device_id=st, kind="station", site="bank01")
    session.commit()
    return hh.id


@pytest.fixture
def household_id(session: Session) -> int:
    return seed_programme(session)


@pytest.fixture
def worker(
    mosquitto: MosquittoServer, ledger_url: str, engine: Engine, tmp_path: Path
) -> Iterator[IngestWorker]:
    """An ingest worker in this process, subscribed (telemetry in ``tmp_path``); its
    write-behind of device and bin state runs every 0.5 s (5 s in production), so a test
    waiting for a bin's state waits for that, not for the interval."""
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, state_write_interval_s=0.5)
    with IngestWorker(settings) as w:
        assert w.wait_subscribed(10)
        yield w


def credited(engine: Engine) -> int:
    """How many weigh-ins the ledger holds (credited, unassigned or rejected)."""
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(WeighinRecord)) or 0)


def assert_credited_once(engine: Engine, household_id: int, n: int, amount_rp: int) -> None:
    """``n`` distinct weigh-ins, each credited once at ``amount_rp``; the ledger balances."""
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(WeighinRecord)) == n
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == n
        assert s.scalar(select(func.count(func.distinct(WeighinRecord.event_id)))) == n
        assert postings.funds(s, household_id=household_id).balance_rp == n * amount_rp
        assert postings.postings_total(s) == 0
