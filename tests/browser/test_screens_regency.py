"""The operator screens with a regency's shape, small: 3,000 households in the regency's
332 sites of 27 kecamatan, 700 bins (more than the overview lists at once), seeded by
COPY (:func:`bench.regency_seed.seed`) into PostgreSQL in seconds, then today's figures
made through the domain (weigh-ins credited, a pickup opened) and three bins filled.

The administrator's overview shows the aggregates (KPIs, the kecamatan table, the sites
on the clustered map) rather than 700 bins, and lists a site's bins once it is picked;
the household list pages through the server ("1–25 of more than 1.000", next, a search
with its exact total, a whole member number). Screenshots go to
``artifacts/screenshots/regency-*.png``.

mutant: the overview loads every bin whatever their number (BIN_LIST_MAX ignored) -> the
        bin list holds 700 before a site is picked -> fails
mutant: the pager's range ignores ``total_exact`` -> "1–25 dari 1.000" -> fails
mutant: the household list ignores the offset -> page 2 repeats page 1 -> fails
mutant: the overview loads every device (GET /devices without offset) -> no pager under
        the devices -> fails
mutant: loadBins asks for every bin of the picked site (no page) -> 100 + EXTRA listed -> fails
mutant: the pickup board's pager ignores the offset -> page 2 shows the first 25 -> fails
mutant: the weigh-in history's pager ignores the offset -> page 2 shows the first 25 -> fails
mutant: the weigh-in history sends no ``member_no`` -> 43 rows, not 20 -> fails
mutant: the map never asks for its visible area (``loadArea`` returns at once) -> the
        other site's bin beside the picked site's is not drawn -> fails
mutant: ``loadArea``'s bbox as west,south,east,north -> 422 or another area -> fails

The picked site has EXTRA more bins than the regency gives it (a page and a bit), and
OPENED bins have an open pickup (more than a column's page); NEAR, a bin of another site,
stands among the picked site's (only the map's visible area brings it); the picked site's
station has HISTORY more weigh-ins, three days ago, of two households (the history's
second page, a member number's 20).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from bench.regency_seed import seed
from cloud import crediting, pickups
from cloud.auth import create_user
from cloud.db import make_engine, session_factory
from cloud.models import Bin
from simulators.regency import Regency, RegencyConfig, Site
from simulators.regency_names import KECAMATAN
from tests.api.support import PASSWORD, ApiServer, serve, settings_for
from tests.browser.conftest import ConsoleErrors, new_page, screenshot, staff_login
from tests.cloud.factories import weighin
from tests.support.services import PostgresServer

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WAIT = 20_000
CFG = RegencyConfig(households=3_000, stations=332, bins=700, collectors=3)
FULL = 3  # bins filled past their threshold, at the site with the most bins (4)
WEIGHED = 3  # weigh-ins credited today, at that site
EXTRA = 110  # more bins at that site: past a page of the bin list (BIN_PAGE 100)
OPENED = 30  # bins (elsewhere) with an open pickup: past a page of the board (25)
NEAR = "zz-near"  # a bin of another site among the picked site's
HISTORY = 40  # weigh-ins three days ago at the picked site's station
BINS = CFG.bins + EXTRA + 1


@pytest.fixture(scope="module")
def regency() -> Regency:
    return Regency(CFG)


def busiest(r: Regency) -> Site:
    return max(r.sites, key=lambda s: len(s.bins))


@pytest.fixture(scope="module")
def regency_api(
    postgres: PostgresServer, regency: Regency, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    tmp: Path = tmp_path_factory.mktemp("regency")
    url = postgres.create_database("screens_regency")
    now = datetime.now(UTC)
    seed(url, regency, now=now, opening_balances=False)
    site = busiest(regency)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            create_user(s, username="administrator", password=PASSWORD, role="admin")
            bins = [regency.bin_id(k) for k in site.bins]
            s.execute(update(Bin).where(Bin.bin_id.in_(bins[:FULL])).values(fill_pct=91.0))
            for i in range(EXTRA):
                pickups.register_bin(s, bin_id=f"zz-extra-{i:03d}", site=site.code)
            other = next(x for x in regency.sites if x.index != site.index)
            pickups.register_bin(s, bin_id=NEAR, site=other.code)
            s.execute(
                update(Bin)
                .where(Bin.bin_id == NEAR)
                .values(lat=site.lat + 0.0003, lon=site.lon + 0.0001)
            )
            s.commit()
            pickups.open_pickup(s, bin_id=bins[0], requested_by="test")
            others = [regency.bin_id(k) for k in range(CFG.bins) if regency.bin_id(k) not in bins]
            for b in others[: OPENED - 1]:
                pickups.open_pickup(s, bin_id=b, requested_by="test")
            station = regency.station_id(site.stations[0])
            crediting.credit_batch(
                s,
                [
                    weighin(
                        device_id=station,
                        seq=i + 1,
                        card_id=regency.card_id(site.households[i]),
                        net_g=2_000,
                        device_time=now - timedelta(minutes=5 - i),
                    )
                    for i in range(WEIGHED)
                ]
                + [
                    weighin(
                        device_id=station,
                        seq=100 + i,
                        card_id=regency.card_id(site.households[-1 - i % 2]),
                        net_g=1_000 + i,
                        device_time=now - timedelta(days=3) + timedelta(minutes=i),
                    )
                    for i in range(HISTORY)
                ],
                received_at=now,
            )
            s.commit()
    finally:
        engine.dispose()
    with serve(settings_for(url, tmp)) as server:
        yield server


@pytest.fixture
def page(regency_api: ApiServer, browser: Browser, console_errors: ConsoleErrors) -> Iterator[Page]:
    p = new_page(browser, console_errors, regency_api.url)
    staff_login(p, "administrator", PASSWORD, timeout_ms=WAIT)
    yield p
    p.context.close()
    assert console_errors.errors == []


def test_the_overview_shows_aggregates_and_a_picked_sites_bins(
    page: Page, regency: Regency
) -> None:
    site = busiest(regency)
    area = KECAMATAN[site.kecamatan].name
    expect(page.locator("#kpi-bins-full")).to_have_text(
        f"{FULL} / {BINS:,}".replace(",", "."), timeout=WAIT
    )
    expect(page.locator("#kpi-pickups")).to_have_text(str(OPENED))
    expect(page.locator("#kpi-kg")).to_have_text(re.compile(r"^6(,0)? kg$"))
    # the kecamatan needing attention first (8 of 27 until "all")
    areas = page.locator("#sites tr.area-row")
    expect(areas).to_have_count(8)
    expect(areas.first).to_have_attribute("data-area", area)
    # too many bins to list: none until a site is picked
    expect(page.locator("#bins-of")).to_contain_text(f"{BINS} tong")
    expect(page.locator("#bin-list li[data-bin]")).to_have_count(0)
    # the 332 sites on the map, clustered; the 1,035 devices counted, a page of the
    # offline ones listed (all are: none has reported), the next page on asking
    expect(page.locator("#bin-map .map-cluster").first).to_be_visible(timeout=WAIT)
    expect(page.locator("#kpi-devices")).to_have_text("0 / 1.035")
    devices = page.locator("#devices li[data-device]")
    expect(devices).to_have_count(12)
    dev_pager = page.locator("#devices-pager .pager")
    expect(dev_pager).to_contain_text("1–12 dari 1.035")
    first_device = devices.first.get_attribute("data-device")
    screenshot(page, "regency-overview")
    dev_pager.get_by_role("button", name="Berikutnya").click()
    expect(dev_pager).to_contain_text("13–24 dari 1.035", timeout=WAIT)
    expect(devices).to_have_count(12)
    expect(devices.first).not_to_have_attribute("data-device", first_device or "")
    page.get_by_role("button", name=f"Semua {len(KECAMATAN)} kecamatan").click()
    expect(areas).to_have_count(len(KECAMATAN))

    row = page.locator(f'#sites tr.area-row[data-area="{area}"]')
    expect(row.locator('td[data-label="Penimbangan hari ini"]')).to_have_text(str(WEIGHED))
    row.get_by_role("button").click()
    picked = page.locator(f'#sites tr.site-row[data-site="{site.index + 1}"]')
    expect(picked).to_contain_text(site.name)
    picked.get_by_role("button", name="Lihat tong").click()
    expect(page.locator("#bins-of")).to_contain_text(site.name)
    # the site's bins a page at a time (its stations and bins on the map)
    listed = page.locator("#bin-list li[data-bin]")
    bin_pager = page.locator("#bins-pager .pager")
    total = len(site.bins) + EXTRA
    expect(bin_pager).to_contain_text(f"1–100 dari {total}", timeout=WAIT)
    expect(listed).to_have_count(100)
    expect(page.locator("#bin-list li.fill-2")).to_have_count(FULL)
    screenshot(page, "regency-overview-site")
    bin_pager.get_by_role("button", name="Berikutnya").click()
    expect(bin_pager).to_contain_text(f"101–{total} dari {total}", timeout=WAIT)
    expect(listed).to_have_count(total - 100)
    expect(page.locator('#bin-list li[data-bin="zz-extra-109"]')).to_have_count(1)
    screenshot(page, "regency-overview-site-page2")


def test_the_pickup_board_pages_each_column(page: Page) -> None:
    page.get_by_role("link", name="Penjemputan").click()
    cards = page.locator("#pickups-open article.pickup")
    pager = page.locator("#pickups-open-pager .pager")
    expect(page.locator("#count-open")).to_have_text(str(OPENED), timeout=WAIT)
    expect(pager).to_contain_text(f"1–25 dari {OPENED}")
    expect(cards).to_have_count(25)
    first = cards.first.get_attribute("data-pickup")
    screenshot(page, "regency-pickups")
    pager.get_by_role("button", name="Berikutnya").click()
    expect(pager).to_contain_text(f"26–{OPENED} dari {OPENED}", timeout=WAIT)
    expect(cards).to_have_count(OPENED - 25)
    expect(cards.first).not_to_have_attribute("data-pickup", first or "")
    screenshot(page, "regency-pickups-page2")


def test_the_household_list_pages_through_the_server(page: Page, regency: Regency) -> None:
    page.get_by_role("link", name="Nasabah").click()
    items = page.locator("#hh-results button.hh-pick")
    pager = page.locator("#hh-pager .pager")
    expect(pager).to_contain_text("1–25 dari lebih dari 1.000", timeout=WAIT)
    expect(items).to_have_count(25)
    first = regency.member_no(0)
    expect(items.first).to_contain_text(first)
    pager.get_by_role("button", name="Berikutnya").click()
    expect(pager).to_contain_text("26–50 dari lebih dari 1.000", timeout=WAIT)
    expect(items.first).to_contain_text(regency.member_no(25))
    screenshot(page, "regency-households")

    # a surname: its matches counted exactly, paged
    rows = list(regency.households())
    surname = rows[0][2].split()[-1]
    n = sum(surname.lower() in name.lower() for _i, _no, name, *_ in rows)
    assert n > 25
    page.get_by_label("Nomor anggota atau nama").fill(surname)
    page.get_by_role("button", name="Cari").click()
    expect(pager).to_contain_text(f"1–25 dari {n}", timeout=WAIT)
    pager.get_by_role("button", name="Berikutnya").click()
    expect(pager).to_contain_text(f"26–{min(50, n)} dari {n}", timeout=WAIT)
    # a whole member number: that household only
    page.get_by_label("Nomor anggota atau nama").fill(regency.member_no(1234))
    page.get_by_role("button", name="Cari").click()
    expect(pager).to_contain_text("1–1 dari 1", timeout=WAIT)
    expect(items).to_have_count(1)
    items.first.click()
    expect(page.locator("#hh-detail")).to_contain_text(regency.member_no(1234), timeout=WAIT)
    screenshot(page, "regency-household-found")


def test_the_weighin_history_pages_and_filters(page: Page, regency: Regency) -> None:
    site = busiest(regency)
    total = WEIGHED + HISTORY
    page.get_by_role("link", name="Riwayat timbang").click()
    rows = page.locator("#wh-table tr[data-weighin]")
    pager = page.locator("#wh-pager .pager")
    expect(pager).to_contain_text(f"1–25 dari {total}", timeout=WAIT)
    expect(rows).to_have_count(25)
    ids = [int(x or 0) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.weighin)")]
    assert ids == sorted(ids, reverse=True)  # newest first
    screenshot(page, "regency-weighins")
    pager.get_by_role("button", name="Berikutnya").click()
    expect(pager).to_contain_text(f"26–{total} dari {total}", timeout=WAIT)
    expect(rows).to_have_count(total - 25)
    later = [int(x or 0) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.weighin)")]
    assert max(later) < min(ids)
    screenshot(page, "regency-weighins-page2")

    # a member number: that household's 20, each row linking to it
    member = regency.member_no(site.households[-1])
    form = page.locator("#wh-filter")
    page.locator("#wh-member").fill(member)
    form.get_by_role("button", name="Cari").click()
    expect(rows).to_have_count(HISTORY // 2, timeout=WAIT)
    expect(page.locator("#wh-pager .pager")).to_have_count(0)
    expect(rows.locator("a.wh-household").first).to_contain_text(member, timeout=WAIT)
    expect(rows.locator(f'a.wh-household:has-text("{member}")')).to_have_count(HISTORY // 2)
    screenshot(page, "regency-weighins-member")
    # a day (today, in the programme's zone): the weigh-ins of today only
    page.locator("#wh-member").fill("")
    today = datetime.now(ZoneInfo("Asia/Jakarta")).strftime("%d/%m/%Y")
    page.locator("#wh-from").fill(today)
    form.get_by_role("button", name="Cari").click()
    expect(rows).to_have_count(WEIGHED, timeout=WAIT)
    # the household link opens the household
    link = rows.first.locator("a.wh-household")
    expect(link).not_to_contain_text("#", timeout=WAIT)
    name = (link.text_content() or "").split(" · ")[0]
    link.click()
    expect(page.locator("#hh-detail")).to_contain_text(name, timeout=WAIT)


def test_the_map_asks_for_the_visible_area_once_zoomed_in(page: Page, regency: Regency) -> None:
    site = busiest(regency)
    area = KECAMATAN[site.kecamatan].name
    expect(page.locator("#bin-map .map-cluster").first).to_be_visible(timeout=WAIT)
    expect(page.locator("#map-area")).to_have_text("")  # the whole regency: sites only
    page.get_by_role("button", name=f"Semua {len(KECAMATAN)} kecamatan").click()
    page.locator(f'#sites tr.area-row[data-area="{area}"]').get_by_role("button").click()
    picked = page.locator(f'#sites tr.site-row[data-site="{site.index + 1}"]')

    def area_asked(r: Any) -> bool:
        return "/api/v1/bins?" in r.url and "bbox=" in r.url

    with page.expect_response(area_asked, timeout=WAIT) as answer:
        picked.get_by_role("button", name="Lihat tong").click()  # the map zooms onto it
    body = answer.value.json()
    bbox = parse_qs(urlsplit(answer.value.url).query)["bbox"][0]
    south, west, north, east = (float(x) for x in bbox.split(","))
    got = {b["bin_id"] for b in body["items"]}
    assert NEAR in got
    assert {regency.bin_id(k) for k in site.bins} <= got
    assert all(south <= b["lat"] <= north and west <= b["lon"] <= east for b in body["items"])
    # drawn one by one (no clusters this close), the other site's bin among them
    for bin_id in got:
        expect(page.locator(f'#bin-map [data-bin="{bin_id}"]')).to_have_count(1, timeout=WAIT)
    expect(page.locator("#map-area")).to_have_text(f"{body['total']} tong di area yang tampak.")
    screenshot(page, "regency-map-area")
    # zoomed out to the regency again: the area is let go, the sites stay
    zoom_out = page.locator("#bin-map .leaflet-control-zoom-out")
    for _ in range(5):  # 17 -> 12, a step at a time (a click during a zoom is lost)
        zoom_out.click()
        page.wait_for_function("() => !document.querySelector('#bin-map .leaflet-zoom-anim')")
    expect(page.locator("#map-area")).to_have_text("", timeout=WAIT)
    expect(page.locator(f'#bin-map [data-bin="{NEAR}"]')).to_have_count(0)
