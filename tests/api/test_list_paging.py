"""The operational lists page from the server (GET /bins, /devices, /pickups, /weighins
with ``offset``): page boundaries, filters, capped totals, the caller's site only, and the
older bare list without ``offset``. On both databases (the indexes of migration 0019).

Mutants (applied by hand, each fails a test here):
  mutant: scope.py's Bin rule admits every row (``lambda c: c.bin_id.is_not(None)``) ->
          the operator's bin pages count and list site 2's -> test_pages_* fails
  mutant: scope.py's Device rule admits every row -> the operator's device pages list
          site 2's -> test_pages_* fails
  mutant: ``listed`` reads the page with ``session.connection().execute`` (Core: no
          scope criteria) -> every list leaks site 2's rows -> test_pages_* fails
  mutant: ``listed`` drops ``.offset`` (paginate_capped's) -> page 2 repeats page 1 -> fails
  mutant: the weigh-in list's ``order_by(id.desc())`` removed -> oldest first -> fails
  mutant: ``pickups_query`` ignores ``completed_since`` -> yesterday's done pickup on
          today's board -> test_filters fails
  mutant: ``bins_query`` ``full`` filter inverted/dropped -> test_filters fails
  mutant: the map area's ``lon <= east`` dropped -> a bin east of the area listed -> fails
  mutant: the list's cap ignored (``cap=10**9``) -> the total is exact past the cap -> fails
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from cloud import crediting, pickups
from cloud.api.routes import bins as bins_route
from cloud.api.routes import weighins as weighins_route
from cloud.db import make_engine, session_factory
from cloud.devices import register_device
from cloud.models import Bin, Device
from tests.api.support import ApiServer, World, login, serve, settings_for
from tests.cloud.factories import T0, weighin

pytestmark = pytest.mark.integration

V = "/api/v1"
#: list path -> the key of its rows
LISTS = {"bins": "bin_id", "devices": "device_id", "pickups": "id", "weighins": "id"}


def _more(url: str) -> None:
    """Site 1 gets 11 more bins (with their sensors; lat -7.4, lon 109.0 + i/100, the
    even ones full), 13 more weigh-ins at its station and 11 manual pickups (one of them
    done yesterday, one done now); site 2 three more bins and weigh-ins."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with session_factory(engine)() as s:
            for code, n in (("bank01", 11), ("bank02", 3)):
                for i in range(n):
                    bid = f"bn-{code}-{i:02d}"
                    register_device(s, device_id=bid, kind="bin", site=code)
                    pickups.register_bin(s, bin_id=bid, device_id=bid, site=code)
                    s.execute(
                        update(Bin)
                        .where(Bin.bin_id == bid)
                        .values(lat=-7.4, lon=109.0 + i / 100, fill_pct=90.0 if i % 2 else 10.0)
                    )
                    s.execute(
                        update(Device)
                        .where(Device.device_id == bid)
                        .values(online=bool(i % 3), lat=-7.4, lon=109.0 + i / 100)
                    )
            for seq in range(100, 113):
                crediting.credit_weighin(
                    s, event=weighin(seq=seq, card_id="CARD-B"), received_at=now
                )
            for seq in range(100, 103):
                crediting.credit_weighin(
                    s,
                    event=weighin(device_id="st-bank02", seq=seq, card_id="CARD-D"),
                    received_at=now,
                )
            for i in range(11):
                p = pickups.open_pickup(
                    s, bin_id=f"bn-bank01-{i:02d}", due_at=now + timedelta(hours=i), priority=i % 2
                )
                if i == 0:
                    s.flush()
                    p.status, p.completed_at = "done", now - timedelta(days=1)
                elif i == 1:
                    p.status, p.completed_at = "done", now
            s.commit()
    finally:
        engine.dispose()


@pytest.fixture
def served(seeded_ledger_url: tuple[str, World], tmp_path: Path) -> Iterator[ApiServer]:
    url, _ = seeded_ledger_url
    _more(url)
    with serve(settings_for(url, tmp_path)) as server:
        yield server


def _get(api: ApiServer, token: str, path: str, **query: Any) -> Any:
    with api.client(token) as c:
        r = c.get(f"{V}/{path}", params=query)
        assert r.status_code == 200, r.text
        return r.json()


def _walk(api: ApiServer, token: str, path: str, size: int, **query: Any) -> tuple[list[Any], int]:
    """Every row's key, page by page of ``size``, and the total the pages agreed on."""
    key, got, totals, offset = LISTS[path], [], set(), 0
    while True:
        page = _get(api, token, path, limit=size, offset=offset, **query)
        assert page["total_exact"]
        assert (page["limit"], page["offset"]) == (size, offset)
        assert len(page["items"]) <= size
        got += [x[key] for x in page["items"]]
        totals.add(page["total"])
        if len(page["items"]) < size:
            break
        offset += size
        assert offset < 1000, "the pages never end"
    assert len(totals) == 1, totals
    return got, totals.pop()


def test_pages_hold_every_row_within_reach_once_in_order(
    served: ApiServer, seeded_ledger_url: tuple[str, World]
) -> None:
    ids = seeded_ledger_url[1].ids
    site1, site2 = ids["site"], ids["site-2"]
    with served.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
    for path, key in LISTS.items():
        # the bare list (no offset) is the older answer, and the order the pages follow
        bare = [x[key] for x in _get(served, admin, path, limit=1000, site_id=site1)]
        assert len(bare) > 10, path
        mine, total = _walk(served, op, path, 5)
        assert mine == bare, path  # site 1's only, each once, in order
        assert total == len(bare), path
        everyone, total_all = _walk(served, admin, path, 7)
        theirs = [x[key] for x in _get(served, admin, path, limit=1000, site_id=site2)]
        assert total_all == len(everyone), path
        assert set(everyone) == set(bare) | set(theirs), path
        assert theirs, path
        assert not set(theirs) & set(mine), path
        # another site's, asked for by name: nothing, counted as nothing
        out = _get(served, op, path, site_id=site2, offset=0)
        assert (out["items"], out["total"]) == ([], 0), path
        # past the end: an empty page with the total
        end = _get(served, op, path, limit=5, offset=total)
        assert (end["items"], end["total"]) == ([], total), path
    newest_first = [x["id"] for x in _get(served, op, "weighins", offset=0, limit=500)["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
    due = [x["due_at"] for x in _get(served, op, "pickups", offset=0, limit=500)["items"]]
    dated = [d for d in due if d is not None]
    assert dated == sorted(dated)
    assert due[: len(dated)] == dated  # undated last


def test_filters_and_capped_totals(
    served: ApiServer, seeded_ledger_url: tuple[str, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seeded_ledger_url[1].ids
    with served.client() as c:
        op = login(c, "operator")
    full = _get(served, op, "bins", offset=0, full="true")
    assert {b["bin_id"] for b in full["items"]} == {f"bn-bank01-{i:02d}" for i in (1, 3, 5, 7, 9)}
    assert full["total"] == 5
    not_full = _get(served, op, "bins", offset=0, full="false")["total"]
    assert not_full == 12 - 5  # (the seed's bin has no level yet: not full)
    # the map's visible area: lon 109.015 .. 109.045 holds bins 2, 3, 4
    area = _get(served, op, "bins", offset=0, bbox="-7.5,109.015,-7.3,109.045")
    assert [b["bin_id"] for b in area["items"]] == [f"bn-bank01-{i:02d}" for i in (2, 3, 4)]
    on_map = _get(served, op, "devices", offset=0, bbox="-7.5,109.015,-7.3,109.045")["total"]
    assert on_map == 3
    offline = _get(served, op, "devices", offset=0, online="false", kind="bin")
    assert {d["device_id"] for d in offline["items"]} == {"bn-bin01"} | {
        f"bn-bank01-{i:02d}" for i in (0, 3, 6, 9)
    }
    stations = _get(served, op, "devices", offset=0, kind="station")["items"]
    assert [d["device_id"] for d in stations] == ["st-bank01"]
    # today's board: done since the start of today (yesterday's left out)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    done = _get(served, op, "pickups", offset=0, status="done", completed_since=since)
    assert [p["bin_id"] for p in done["items"]] == ["bn-bank01-01"]
    assert _get(served, op, "pickups", offset=0, status="done")["total"] == 2
    assert _get(served, op, "pickups", offset=0, status=["open", "assigned"])["total"] == 9 + 2
    unassigned = _get(served, op, "weighins", offset=0, status="unassigned")["items"]
    assert [w["id"] for w in unassigned] == [ids["weighin-unassigned"]]
    hh_b = _get(served, op, "weighins", offset=0, household_id=ids["household-b"], limit=5)
    assert (hh_b["total"], len(hh_b["items"])) == (13, 5)
    # a common match is counted up to the cap ("more than"); a page past it to its end
    monkeypatch.setattr(weighins_route, "WEIGHIN_COUNT_CAP", 10)
    capped = _get(served, op, "weighins", offset=0, limit=5)
    assert (capped["total"], capped["total_exact"], len(capped["items"])) == (10, False, 5)
    far = _get(served, op, "weighins", offset=10, limit=10)
    assert (far["total"], far["total_exact"]) == (17, True)
    monkeypatch.setattr(bins_route, "BIN_COUNT_CAP", 3)
    bins = _get(served, op, "bins", offset=0, limit=2)
    assert (bins["total"], bins["total_exact"]) == (3, False)


def test_weighins_by_member_number_and_day_within_reach(served: ApiServer) -> None:
    """The weigh-in history's filters: a household by its member number (as typed, in
    lower case too), paged newest first, narrowed by a date range; another site's
    household is not found by an operator (the administrator finds it).

    mutant: the route ignores ``member_no`` -> every weigh-in within reach (18) -> fails
    mutant: ``member_no`` matched only as typed (no upper-casing) -> "m-b" finds 0 -> fails
    mutant: the ``member_no`` subquery and the weigh-ins out of scope (scope.py's
            WeighinRecord and Household rules admit every row) -> the operator finds M-C's
            -> fails (either rule alone passes here: the other still hides them)
    mutant: ``until`` dropped -> seq 110..112 in the day's range -> fails
    """
    with served.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
    page1 = _get(served, op, "weighins", offset=0, limit=10, member_no="M-B")
    assert (page1["total"], page1["total_exact"], len(page1["items"])) == (13, True, 10)
    page2 = _get(served, op, "weighins", offset=10, limit=10, member_no="m-b")
    assert (page2["total"], len(page2["items"])) == (13, 3)
    ids = [w["id"] for w in page1["items"] + page2["items"]]
    assert ids == sorted(set(ids), reverse=True)
    # a date range [since, until): M-B's were weighed at T0 + 100 s .. T0 + 112 s
    window = {
        "since": (T0 + timedelta(seconds=105)).isoformat(),
        "until": (T0 + timedelta(seconds=110)).isoformat(),
    }
    narrowed = _get(served, op, "weighins", offset=0, member_no="M-B", **window)
    assert [w["seq"] for w in narrowed["items"]] == [109, 108, 107, 106, 105]
    # another site's household: not found by the operator, found by the administrator
    assert _get(served, op, "weighins", offset=0, member_no="M-C")["total"] == 0
    assert _get(served, op, "weighins", offset=0, member_no="M-NOBODY")["total"] == 0
    theirs = _get(served, admin, "weighins", offset=0, member_no="M-C")
    assert theirs["total"] == 2
    assert {w["device_id"] for w in theirs["items"]} == {"st-bank02"}


def test_bad_paging_is_refused_and_the_bare_list_stays(api: ApiServer) -> None:
    with api.client() as c:
        c.headers["Authorization"] = f"Bearer {login(c, 'operator')}"
        for path in LISTS:
            assert c.get(f"{V}/{path}", params={"offset": 0, "limit": 501}).status_code == 422
            assert isinstance(c.get(f"{V}/{path}", params={"limit": 501}).json(), list)
            assert isinstance(c.get(f"{V}/{path}").json(), list)
        for bad in ("1,2,3", "-7.3,109,-7.5,109.4", "91,0,92,1", "a,b,c,d"):
            assert c.get(f"{V}/bins", params={"bbox": bad}).status_code == 422, bad
        r = c.get(f"{V}/pickups", params={"offset": 0, "completed_since": "2026-01-01T00:00"})
        assert r.status_code == 422


def test_the_overview_counts_devices_online_within_reach(api: ApiServer, world: World) -> None:
    """mutant: the overview counts revoked devices -> fails"""
    engine = make_engine(api.app.state.api.settings.ledger_url)
    try:
        with session_factory(engine)() as s:
            s.execute(update(Device).where(Device.device_id == "st-bank01").values(online=True))
            register_device(s, device_id="st-gone", kind="station", site="bank01")
            s.execute(update(Device).where(Device.device_id == "st-gone").values(revoked=True))
            s.commit()
    finally:
        engine.dispose()
    with api.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
    mine = _get(api, op, "overview")["total"]
    every = _get(api, admin, "overview")["total"]
    assert (mine["devices"], mine["devices_online"]) == (2, 1)
    assert (every["devices"], every["devices_online"]) == (4, 1)
