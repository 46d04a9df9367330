"""Money through the API, on SQLite and PostgreSQL: payouts never exceed the balance,
even when raced; Idempotency-Key replays; reversals restore the balance exactly."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cloud import postings
from cloud.db import make_engine, session_factory
from cloud.models import WeighinRecord
from tests.api.support import ApiServer, World, login, serve, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def money_api(seeded_ledger_url: tuple[str, World], tmp_path: Path):  # type: ignore[no-untyped-def]
    url, world = seeded_ledger_url
    with serve(settings_for(url, tmp_path)) as server:
        yield server, world, url


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _balance(c: httpx.Client, hh: int) -> dict[str, int]:
    r = c.get(f"/api/v1/households/{hh}/balance")
    assert r.status_code == 200, r.text
    body: dict[str, int] = r.json()
    return body


def _postings_total(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return postings.postings_total(s)
    finally:
        engine.dispose()


def test_concurrent_payouts_never_drive_a_balance_negative(money_api) -> None:  # type: ignore[no-untyped-def]
    api, world, url = money_api
    hh = world.ids["household-a"]
    with api.client() as anon:
        token = login(anon, "operator")
    with api.client(token) as c:
        start = _balance(c, hh)
    assert start == {
        "household_id": hh,
        "balance_rp": 11_250,
        "held_rp": 1_000,
        "available_rp": 10_250,
    }

    amount, threads_n = 3_000, 8
    barrier = threading.Barrier(threads_n)
    results: list[int] = []
    lock = threading.Lock()

    def request_one() -> None:
        with api.client(token) as c:
            barrier.wait()
            r = c.post(
                f"/api/v1/households/{hh}/payouts", json={"amount_rp": amount}, headers=_key()
            )
            with lock:
                results.append(r.status_code)

    threads = [threading.Thread(target=request_one) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    counts = Counter(results)
    assert counts[201] == 10_250 // amount  # exactly 3 fit in the available balance
    assert counts[422] == threads_n - counts[201]

    with api.client(token) as c:
        after = _balance(c, hh)
        assert after["available_rp"] == 10_250 - 3 * amount >= 0
        held = c.get("/api/v1/payouts", params={"status": "requested", "household_id": hh}).json()
        # approve and pay every held payout, concurrently
        ids = [p["id"] for p in held]

    def settle(pid: int) -> None:
        with api.client(token) as c:
            assert c.post(f"/api/v1/payouts/{pid}/approve", headers=_key()).status_code == 200
            r = c.post(f"/api/v1/payouts/{pid}/pay", headers=_key())
            assert r.status_code == 200, r.text

    threads = [threading.Thread(target=settle, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with api.client(token) as c:
        final = _balance(c, hh)
    paid = 1_000 + 3 * amount
    assert final == {
        "household_id": hh,
        "balance_rp": 11_250 - paid,
        "held_rp": 0,
        "available_rp": 11_250 - paid,
    }
    assert final["balance_rp"] >= 0
    assert _postings_total(url) == 0


def test_the_same_idempotency_key_returns_the_same_result(money_api) -> None:  # type: ignore[no-untyped-def]
    api, world, _ = money_api
    hh = world.ids["household-a"]
    with api.client() as anon:
        token = login(anon, "operator")
    key = {"Idempotency-Key": "payout-2026-11-29-0001"}
    with api.client(token) as c:
        first = c.post(f"/api/v1/households/{hh}/payouts", json={"amount_rp": 2_500}, headers=key)
        again = c.post(f"/api/v1/households/{hh}/payouts", json={"amount_rp": 2_500}, headers=key)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers.get("Idempotent-Replayed") == "true"
        mine = [
            p for p in c.get(f"/api/v1/households/{hh}/payouts").json() if p["amount_rp"] == 2_500
        ]
        assert len(mine) == 1  # one payout, not two
        assert _balance(c, hh)["held_rp"] == 1_000 + 2_500

        other = c.post(f"/api/v1/households/{hh}/payouts", json={"amount_rp": 9}, headers=key)
        assert other.status_code == 422
        assert other.headers["content-type"].startswith("application/problem+json")
        assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"

        pid = first.json()["id"]
        pay_key = {"Idempotency-Key": "pay-0001-xyz"}
        assert c.post(f"/api/v1/payouts/{pid}/approve", headers=_key()).status_code == 200
        paid1 = c.post(f"/api/v1/payouts/{pid}/pay", headers=pay_key)
        paid2 = c.post(f"/api/v1/payouts/{pid}/pay", headers=pay_key)
        assert paid1.status_code == paid2.status_code == 200
        assert paid1.content == paid2.content
        assert _balance(c, hh)["balance_rp"] == 11_250 - 2_500  # debited once
        # a new key for the same payout: refused by the state machine, not paid twice
        assert c.post(f"/api/v1/payouts/{pid}/pay", headers=_key()).status_code == 409


def test_a_reversal_restores_the_balance_exactly(money_api) -> None:  # type: ignore[no-untyped-def]
    api, world, url = money_api
    hh = world.ids["household-b"]
    with api.client() as anon:
        token = login(anon, "operator")
    with api.client(token) as c:
        before = _balance(c, hh)["balance_rp"]
        wid = world.ids["weighin-unassigned"]
        r = c.post(f"/api/v1/weighins/{wid}/assign", json={"household_id": hh}, headers=_key())
        assert r.status_code == 200, r.text
        credit = r.json()["amount_rp"]
        assert credit == 3_750  # 1,250 g at Rp 3,000/kg
        assert _balance(c, hh)["balance_rp"] == before + credit

        key = _key()
        rev = c.post(
            f"/api/v1/weighins/{wid}/reverse", json={"reason": "wrong household"}, headers=key
        )
        assert rev.status_code == 200, rev.text
        assert rev.json()["balance_rp"] == before
        assert _balance(c, hh)["balance_rp"] == before
        replay = c.post(
            f"/api/v1/weighins/{wid}/reverse", json={"reason": "wrong household"}, headers=key
        )
        assert replay.content == rev.content
        again = c.post(
            f"/api/v1/weighins/{wid}/reverse", json={"reason": "wrong household"}, headers=_key()
        )
        assert again.status_code == 409
        assert _balance(c, hh)["balance_rp"] == before

        lines = c.get(f"/api/v1/households/{hh}/statement").json()["lines"]
        assert [ln["kind"] for ln in lines][-2:] == ["weighin_credit", "reversal"]
        assert lines[-1]["amount_rp"] == -credit
        assert lines[-1]["weighin"]["id"] == wid
        assert lines[-1]["weighin"]["reversed"] is True
    assert _postings_total(url) == 0


def test_payout_beyond_the_available_balance_is_refused_with_the_field(money_api) -> None:  # type: ignore[no-untyped-def]
    api, world, _ = money_api
    hh = world.ids["household-a"]
    with api.client() as anon:
        token = login(anon, "operator")
    with api.client(token) as c:
        r = c.post(f"/api/v1/households/{hh}/payouts", json={"amount_rp": 10_251}, headers=_key())
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "body.amount_rp"
        r = c.post(f"/api/v1/households/{hh}/payouts", json={"amount_rp": 10_250}, headers=_key())
        assert r.status_code == 201
        assert _balance(c, hh)["available_rp"] == 0


def test_statement_shows_the_weighin_behind_each_credit(api: ApiServer, world: World) -> None:
    hh = world.ids["household-a"]
    with api.client() as anon:
        token = login(anon, "operator")
    with api.client(token) as c:
        st = c.get(f"/api/v1/households/{hh}/statement").json()
        # a window after every posting: nothing in it, and the balance on both ends
        empty = c.get(
            f"/api/v1/households/{hh}/statement",
            params={"since": "2199-01-01T00:00:00Z", "until": "2199-02-01T00:00:00Z"},
        ).json()
    assert (empty["opening_balance_rp"], empty["lines"], empty["closing_balance_rp"]) == (
        11_250,
        [],
        11_250,
    )
    credits = [ln for ln in st["lines"] if ln["kind"] == "weighin_credit"]
    assert len(credits) == 3
    for ln in credits:
        assert ln["amount_rp"] == 3_750
        assert ln["weighin"]["net_g"] == 1_250
        assert ln["weighin"]["price_rp_per_kg"] == 3_000
    assert st["closing_balance_rp"] == 11_250
    engine = make_engine(api.app.state.api.settings.ledger_url)
    try:
        with session_factory(engine)() as s:
            ids = set(s.scalars(select(WeighinRecord.id).where(WeighinRecord.household_id == hh)))
    finally:
        engine.dispose()
    assert {ln["weighin"]["id"] for ln in credits} == ids
