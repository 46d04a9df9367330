"""The screens at regency size, small: household search and its pages, on both databases
(PostgreSQL answers through the trigram indexes of migration 0017, SQLite scans).

Mutants (applied by hand, each fails a test here):
  mutant: the search reads its ids through ``session.connection()`` (Core: no scope
          criteria) -> an operator counts and finds another site's households -> fails
  mutant: the exact step (whole member number / card) skipped -> "w2-00" finds the
          eleven W2-00x as well -> fails
  mutant: the ``site_id`` filter dropped -> fails
  mutant: paginate_capped drops ``.offset(page.offset)`` -> page 3 repeats page 1 -> fails
  mutant: the capped count counts the page (``len(rows)``) not the matches -> wrong total
          -> fails
  mutant: ``len(ids) <= window`` (or paginate_capped's ``counted <= window``) written
          ``<`` -> an exact total is called "more than" -> fails
  mutant: ``len(typed) >= SUBSTRING_FROM`` written ``>`` -> "rga" matched as a prefix
          -> fails
  mutant: short text matched as a substring (``%rg%``) -> "rg" finds "Warga" -> fails
  mutant: LIKE wildcards typed are not escaped -> "%" finds every household -> fails
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cloud import households
from cloud.api import household_search
from cloud.db import make_engine, session_factory
from cloud.models import Bin, Site, WeighinRecord
from tests.api.support import ApiServer, World, login, serve, settings_for

pytestmark = pytest.mark.integration

V = "/api/v1"


def _more_households(url: str) -> None:
    """30 "Warga" households in site 1, 12 in site 2 (one with card CARD-W2-7), and W2-00."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            for site, n in (("bank01", 30), ("bank02", 12)):
                for i in range(n):
                    hh = households.register_household(
                        s, member_no=f"W{site[-1]}-{i:03d}", name=f"Warga {i:03d}", site=site
                    )
                    if site == "bank02" and i == 7:
                        households.link_card(s, card_id="CARD-W2-7", household_id=hh.id)
            # a member number that is the start of eleven others
            households.register_household(s, member_no="W2-00", name="Ketua RT", site="bank02")
            s.commit()
    finally:
        engine.dispose()


@pytest.fixture
def served(seeded_ledger_url: tuple[str, World], tmp_path: Path) -> Iterator[ApiServer]:
    url, _ = seeded_ledger_url
    _more_households(url)
    with serve(settings_for(url, tmp_path)) as server:
        yield server


def _get(api: ApiServer, token: str, **query: Any) -> dict[str, Any]:
    with api.client(token) as c:
        r = c.get(f"{V}/households", params=query)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def test_search_pages_through_the_callers_site_with_the_total(
    served: ApiServer, seeded_ledger_url: tuple[str, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    with served.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
    site2 = seeded_ledger_url[1].ids["site-2"]
    pages = [_get(served, op, q="warga", limit=10, offset=o) for o in (0, 10, 20)]
    assert [(p["total"], p["total_exact"]) for p in pages] == [(30, True)] * 3
    got = [h["member_no"] for p in pages for h in p["items"]]
    assert got == [f"W1-{i:03d}" for i in range(30)]  # in order, every one once, site 1 only
    assert _get(served, admin, q="WARGA", limit=1)["total"] == 42
    assert _get(served, admin, q="warga", site_id=site2)["total"] == 12
    # a card or a whole member number: that household only, and only within reach
    assert _get(served, op, q="card-w2-7")["total"] == 0
    assert [h["member_no"] for h in _get(served, admin, q="card-w2-7")["items"]] == ["W2-007"]
    assert [h["member_no"] for h in _get(served, admin, q="w2-00")["items"]] == ["W2-00"]
    assert _get(served, op, q="W2-00")["total"] == 0
    assert _get(served, op, q="W2-007")["total"] == 0
    # typed digits of a member number (a substring), a name's inside (three letters or more)
    assert [h["member_no"] for h in _get(served, op, q="-021")["items"]] == ["W1-021"]
    assert _get(served, op, q="rga 01")["total"] == 10
    assert _get(served, op, q="rga")["total"] == 30
    # fewer than three letters: a prefix only
    assert _get(served, op, q="wa")["total"] == 30
    assert _get(served, op, q="rg")["total"] == 0
    # what LIKE would read as wildcards is text
    assert _get(served, admin, q="%")["total"] == 0
    assert _get(served, admin, q="W_-0")["total"] == 0

    # the list without a search: every household within reach, page by page, in order
    everyone = _get(served, op, limit=500)
    assert everyone["total"] == len(everyone["items"]) >= 30
    paged = [_get(served, op, limit=10, offset=o) for o in range(0, everyone["total"], 10)]
    assert {p["total"] for p in paged} == {everyone["total"]}
    assert [h["id"] for p in paged for h in p["items"]] == [h["id"] for h in everyone["items"]]

    # a common match is counted up to the cap ("more than"); a page past it to its end
    monkeypatch.setattr(household_search, "COUNT_CAP", everyone["total"])
    assert _get(served, op, limit=5)["total_exact"]  # (as many as the cap: exact)
    monkeypatch.setattr(household_search, "COUNT_CAP", 15)
    listed = _get(served, op, limit=5)
    assert (listed["total"], listed["total_exact"], len(listed["items"])) == (15, False, 5)
    capped = _get(served, op, q="warga", limit=5)
    assert (capped["total"], capped["total_exact"], len(capped["items"])) == (15, False, 5)
    far = _get(served, op, q="warga", limit=10, offset=20)
    assert (far["total"], far["total_exact"]) == (30, True)
    assert [h["member_no"] for h in far["items"]] == [f"W1-{i:03d}" for i in range(20, 30)]
    exact = _get(served, op, q="warga 01", limit=5)
    assert (exact["total"], exact["total_exact"]) == (10, True)


def test_the_overview_aggregates_per_site_and_area_within_reach(
    sqlite_url: str, world_sqlite: World, tmp_path: Path
) -> None:
    """mutant: the full-bin rule counts every bin with a level -> fails;
    mutant: weigh-ins of every day counted (no ``effective_at >= start``) -> fails;
    mutant: /bins ignores ``site_id`` -> the picked site shows every bin -> fails"""
    engine = make_engine(sqlite_url)
    try:
        with session_factory(engine)() as s:
            s.execute(update(Site).values(area="Purwokerto"))
            s.execute(update(Bin).where(Bin.bin_id == "bn-bin01").values(fill_pct=85.0))
            s.execute(update(Bin).where(Bin.bin_id == "bn-bin02").values(fill_pct=40.0))
            now = datetime.now(UTC)
            credited = s.scalars(
                select(WeighinRecord).where(WeighinRecord.status == "credited")
            ).all()
            for w in credited:  # (the factory's weigh-ins are of a fixed day)
                w.effective_at = now
            credited[0].effective_at = now - timedelta(days=3)  # household A's, site 1
            s.commit()
    finally:
        engine.dispose()
    with serve(settings_for(sqlite_url, tmp_path)) as api, api.client() as c:
        op, admin = login(c, "operator"), login(c, "admin")
        mine = c.get(f"{V}/overview", headers={"Authorization": f"Bearer {op}"}).json()
        every = c.get(f"{V}/overview", headers={"Authorization": f"Bearer {admin}"}).json()
        # the bins of the site picked on the overview
        site2 = world_sqlite.ids["site-2"]
        picked = c.get(
            f"{V}/bins", params={"site_id": site2}, headers={"Authorization": f"Bearer {admin}"}
        ).json()
        theirs = c.get(
            f"{V}/bins", params={"site_id": site2}, headers={"Authorization": f"Bearer {op}"}
        ).json()
    assert [b["bin_id"] for b in picked] == ["bn-bin02"]
    assert theirs == []  # (another site's: out of the operator's reach)
    site1 = world_sqlite.ids["site"]
    assert [x["site_id"] for x in mine["sites"]] == [site1]
    figures = ("bins", "bins_full", "weighins_today", "pickups_open")
    assert [mine["total"][k] for k in figures] == [1, 1, 2, 2]
    assert mine["total"]["net_g_today"] > 0
    assert [(a["area"], a["sites"]) for a in mine["areas"]] == [("Purwokerto", 1)]
    assert [every["total"][k] for k in figures] == [2, 1, 4, 4]
    assert [(a["area"], a["sites"], a["bins"]) for a in every["areas"]] == [("Purwokerto", 2, 2)]
