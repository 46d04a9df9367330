"""The regency model (simulators/regency.py), its wire encoder and the bench's seeder.

mutant: the encoder drops a field (or reorders one) -> not byte-equal to to_json -> fails
mutant: card_id wraps its household index (i % 1000) -> cards collide -> fails
mutant: weigh-ins outside the window kept -> the window test fails
mutant: the seeded opening balances credit without the matching debit -> ledger unbalanced
        -> seed() raises -> fails
mutant: household accounts seeded with another code than register_household's -> fails
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bench.regency_seed import seed
from cloud.db import make_engine, session_factory
from cloud.households import household_for_card, register_household
from cloud.models import Account, Bin, Device
from cloud.postings import funds, postings_total
from contract.models import Fill, Health, Weighin, parse_payload, to_json
from contract.topics import valid_device_id
from simulators.regency import TZ, Regency, RegencyConfig
from simulators.regency_devices import SW_VERSION, WireEncoder
from tests.support.services import PostgresServer

SMALL = RegencyConfig(households=3_000, stations=400, bins=700, collectors=30, seed=3)


def test_the_regency_is_laid_out_whole_and_deterministically() -> None:
    r, again = Regency(SMALL), Regency(SMALL)
    assert len(r.sites) > 300  # one waste bank per desa/kelurahan of Banyumas
    assert sum(len(s.households) for s in r.sites) == SMALL.households
    assert sum(len(s.stations) for s in r.sites) == SMALL.stations
    assert sum(len(s.bins) for s in r.sites) == SMALL.bins
    assert len(r.collector_site) == SMALL.collectors
    assert all(len(s.code) <= 40 for s in r.sites)
    assert len({s.code for s in r.sites}) == len(r.sites)
    ids = [r.station_id(j) for j in range(SMALL.stations)] + [
        r.bin_id(k) for k in range(SMALL.bins)
    ]
    ids += [r.collector_device(c) for c in range(SMALL.collectors)]
    assert all(valid_device_id(d) for d in ids)
    assert len(set(ids)) == len(ids)
    cards = {r.card_id(i) for i in range(SMALL.households)}
    assert len(cards) == SMALL.households
    assert list(r.households())[:50] == list(again.households())[:50]
    for i in (0, 1234, SMALL.households - 1):
        s = r.site_of_household(i)
        assert i in s.households
        assert r.home_station(i) in s.stations


def test_a_day_of_weighins_is_about_a_seventh_of_the_households_in_opening_hours() -> None:
    r = Regency(SMALL)
    day = datetime(2026, 11, 30, tzinfo=TZ)
    plans = r.weighins(day, day + timedelta(days=1))
    assert 0.8 < len(plans) / (SMALL.households / 7) < 1.2
    assert [p.t for p in plans] == sorted(p.t for p in plans)
    assert {datetime.fromtimestamp(p.t, TZ).hour for p in plans} <= set(range(7, 16))
    window = r.weighins(day + timedelta(hours=8), day + timedelta(hours=9))
    assert window == [p for p in plans if 8 <= datetime.fromtimestamp(p.t, TZ).hour < 9]
    assert r.weighins(day, day + timedelta(days=1)) == plans  # deterministic
    levels = [r.fill_level(5, day.timestamp() + 300 * m) for m in range(2000)]
    assert 0 <= min(levels) < 5
    assert 80 < max(levels) <= 100


def test_the_doorstep_pickups_due_in_a_window_include_those_asked_before_it() -> None:
    """An hour's window picks up requests asked up to six hours earlier: the replay of the
    busiest hour weighs bags at the door (before, it replayed only the window's requests,
    picked up 2-6 hours later: none).

    A window's requests are the day's: the same households, bags and collectors
    whatever the window (the bags were drawn only for requests inside it, so each window
    drew a different day).

    mutant: doorstep_due reads only the window's requests -> none due -> fails
    mutant: the bags drawn after the window check again -> the window's list differs from
            the day's -> fails
    """
    r = Regency(RegencyConfig(households=30_000, stations=400, bins=700, collectors=30, seed=3))
    day = datetime(2026, 11, 30, tzinfo=TZ)
    whole = r.doorstep(day, day + timedelta(days=1))
    start, end = day + timedelta(hours=10), day + timedelta(hours=11)
    assert r.doorstep(start, end) == [
        d for d in whole if start.timestamp() <= d.requested < end.timestamp()
    ]
    due = r.doorstep_due(start, end)
    assert due == [d for d in whole if start.timestamp() <= d.done < end.timestamp()]
    assert due, "the busiest hours pick up some requests"
    assert any(d.requested < start.timestamp() for d in due)
    assert all(d.requested >= start.timestamp() - 6 * 3600 for d in due)


def test_wire_payloads_are_byte_for_byte_the_contracts_own() -> None:
    boot = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
    enc = WireEncoder(["st-0001", "bin-00001"], boot_at=boot, seq_base=41)
    t = boot + 3725.0045
    dt = datetime.fromtimestamp(t, UTC)
    bid = uuid.UUID(enc._boot[0])
    base = dict(clock_synced=True, device_time=dt, mono_ms=3725004, boot_id=bid)
    w = enc.weighin(0, t, "1B00005A17", "organic", 1230)
    assert w == to_json(
        Weighin(
            **base,
            device_id="st-0001",
            seq=42,
            event_id="st-0001:42",
            card_id="1B00005A17",
            category="organic",
            net_g=1230,
            division_g=10,
            protocol="mtsics",
            stable_ms=1200,
        )
    )
    h = enc.health(0, t)
    assert h == to_json(
        Health(
            **base,
            device_id="st-0001",
            seq=43,
            event_id="st-0001:43",
            sw_version=SW_VERSION,
            uptime_s=3725,
            load1=0.2,
            mem_used_pct=38.5,
            disk_free_pct=71.0,
            outbox_depth=0,
            outbox_capacity=50_000,
        )
    )
    f = enc.fill(1, t, 55.5, 445)
    base["boot_id"] = uuid.UUID(enc._boot[1])
    assert f == to_json(
        Fill(
            **base,
            device_id="bin-00001",
            seq=42,
            event_id="bin-00001:42",
            bin_id="bin-00001",
            fill_pct=55.5,
            distance_mm=445,
        )
    )
    for kind, payload in (("weighin", w), ("health", h), ("fill", f)):
        parse_payload(kind, payload)  # the strict contract takes it


@pytest.mark.integration
def test_seeding_through_the_models_gives_a_ledger_the_domain_reads(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database(f"regency_{uuid.uuid4().hex[:8]}")
    r = Regency(SMALL)
    report = seed(url, r, now=datetime.now(UTC))
    assert report.rows["households"] == SMALL.households
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            assert postings_total(s) == 0
            hh = household_for_card(s, card_id=r.card_id(17))
            assert hh is not None
            assert hh.member_no == r.member_no(17)
            assert funds(s, household_id=hh.id).balance_rp == r.opening_balance(17)
            acc = s.scalar(select(Account).where(Account.household_id == hh.id))
            assert acc is not None
            assert acc.code == f"household:{hh.id}"
            assert s.get(Device, r.station_id(0)) is not None
            scale = s.get(Device, r.collector_device(SMALL.collectors - 1))
            assert scale is not None
            assert scale.kind == "station"
            b = s.get(Bin, r.bin_id(0))
            assert b is not None
            assert b.armed
            assert b.threshold_pct == 80.0
            new = register_household(s, member_no="X-1", name="after the seed")
            s.commit()  # the sequences continue after the seeded ids
            assert new.id == SMALL.households + 1
    finally:
        engine.dispose()
