"""The collector's page without signal (headless Chromium, the real API on SQLite): two
stops completed while the network is cut, the page reloaded from its service worker,
then the network back — both completions credited exactly once. Also the screenshots of
the collector's route and of the household's view (desktop and phone).

mutant: completions sent at once, not queued in IndexedDB -> nothing waits offline, fails
mutant: the outbox marks an item sent without an answer -> no credit reaches the ledger, fails
mutant: a new event id made at each sending (not stored with the item) -> the resend is
  refused as a second completion of a done pickup, fails (the test resends once by hand)
mutant: a failed sending marked sent -> nothing waits after the network is cut, fails
mutant: the service worker leaves out js/collector/outbox.js -> the offline reload breaks, fails
mutant: the API route leaves a household's ETA out of its pickups -> no "who comes" line, fails
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from cloud import doorstep, postings
from cloud.db import make_engine, migrate, session_factory
from cloud.models import Pickup, WeighinRecord
from tests.api.doorstep_support import DOOR_B, prepare
from tests.api.support import ApiServer, World, login, seed, serve, settings_for
from tests.browser.conftest import ConsoleErrors, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TIMEOUT_MS = 30_000
DOOR_A = (-7.4551, 109.2840)


class Door:
    """The running API with two households' requests for collector A."""

    def __init__(self, api: ApiServer, world: World, url: str) -> None:
        self.api, self.world, self.url = api, world, url

    def balance(self, household: str) -> int:
        engine = make_engine(self.url)
        try:
            with session_factory(engine)() as s:
                return postings.funds(s, household_id=self.world.ids[household]).balance_rp
        finally:
            engine.dispose()

    def scalar(self, stmt: object) -> int:
        engine = make_engine(self.url)
        try:
            with session_factory(engine)() as s:
                return int(s.scalar(stmt) or 0)  # type: ignore[call-overload]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    tmp: Path = tmp_path_factory.mktemp("door")
    url = f"sqlite:///{tmp / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            world = seed(s)
    finally:
        engine.dispose()
    prepare(url, world)
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with session_factory(engine)() as s:
            seeded = s.get(Pickup, world.ids["household-pickup-a"])  # A's request: pin it
            assert seeded is not None
            seeded.lat, seeded.lon = DOOR_A
            seeded.collector_id, seeded.status = None, "open"
            b = doorstep.request_pickup(
                s,
                household_id=world.ids["household-b"],
                settings=doorstep.DoorstepSettings(),
                categories=["plastic-pet", "plastic-mixed"],
                window=(now, now + timedelta(hours=4)),
                lat=DOOR_B[0],
                lon=DOOR_B[1],
                address="Jl. Melati 7, Sokaraja",
                note="2 karung di teras",
            )
            world.ids["pickup-b"] = b.id
            s.commit()
    finally:
        engine.dispose()
    with serve(settings_for(url, tmp)) as api:
        yield Door(api, world, url)


def collector_login(page: Page, door: Door) -> None:
    page.goto("/collector.html")
    page.get_by_label("Nama pengguna").fill("collector-a")
    page.get_by_label("Kata sandi").fill("correct horse battery")
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#stops li.stop")).to_have_count(2, timeout=TIMEOUT_MS)


def test_screenshots_of_the_route_and_the_household_view(
    door: Door, browser: Browser, console_errors: ConsoleErrors
) -> None:
    for size in ("desktop", "phone"):
        page = new_page(browser, console_errors, door.api.url, phone=size == "phone")
        try:
            collector_login(page, door)
            expect(page.locator("#route-map .map-line")).to_have_count(1)
            expect(page.locator("#stops a.maps").first).to_have_attribute(
                "href", re.compile(r"^geo:-7\.4")
            )
            page.locator("#stops li.stop").first.get_by_role("button", name="Timbang").click()
            page.locator("#stops li.stop input.kg").first.fill("3,25")
            screenshot(page, f"jeknyong-collector-{size}")
        finally:
            page.context.close()
        page = new_page(browser, console_errors, door.api.url, phone=size == "phone")
        try:
            page.goto("/household.html")
            page.get_by_label("Nomor anggota").fill("M-B")
            page.get_by_label("PIN").fill(door.world.pins["M-B"])
            page.get_by_role("button", name="Masuk").click()
            coming = page.locator(
                f"#my-pickups li[data-pickup='{door.world.ids['pickup-b']}'] .coming"
            )
            expect(coming).to_contain_text("datang sekitar", timeout=TIMEOUT_MS)
            # one request at a time: the form waits until this one is done or cancelled
            expect(
                page.get_by_role(
                    "button", name="Permintaan Anda sedang berjalan (batalkan untuk meminta lagi)"
                )
            ).to_be_disabled()
            screenshot(page, f"jeknyong-household-{size}")
        finally:
            page.context.close()
    page = new_page(browser, console_errors, door.api.url)  # the operator's map of routes
    try:
        page.goto("/#pickups")
        page.get_by_label("Nama pengguna").fill("operator")
        page.get_by_label("Kata sandi").fill("correct horse battery")
        page.get_by_role("button", name="Masuk").click()
        expect(page.locator("#routes-map .map-line")).to_have_count(1, timeout=TIMEOUT_MS)
        expect(page.locator("#routes-list li[data-pickup]")).to_have_count(2)
        screenshot(page, "jeknyong-routes-desktop")
    finally:
        page.context.close()
    assert console_errors.errors == []


def weigh(page: Page, pickup_id: int, kilos: list[str]) -> None:
    stop = page.locator(f"#stops li[data-pickup='{pickup_id}']")
    stop.get_by_role("button", name="Timbang").click()
    inputs = stop.locator("input.kg")
    while inputs.count() < len(kilos):
        stop.get_by_role("button", name="+ Tambah kantong").click()
    for i, value in enumerate(kilos):
        inputs.nth(i).fill(value)
    stop.get_by_role("button", name="Simpan & selesai").click()
    done = page.locator(f"#done li[data-pickup='{pickup_id}']")
    expect(done).to_have_attribute("data-status", "queued", timeout=TIMEOUT_MS)


def test_offline_completions_are_queued_survive_a_reload_and_are_credited_once(
    door: Door, browser: Browser, console_errors: ConsoleErrors
) -> None:
    a, b = door.world.ids["household-pickup-a"], door.world.ids["pickup-b"]
    before = {hh: door.balance(hh) for hh in ("household-a", "household-b")}
    page = new_page(browser, console_errors, door.api.url, phone=True)
    try:
        collector_login(page, door)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=TIMEOUT_MS)
        console_errors.allow("ERR_INTERNET_DISCONNECTED")
        page.context.set_offline(True)
        weigh(page, a, ["2,5"])  # 2500 g PET at Rp 3,000 = Rp 7,500
        weigh(page, b, ["1,25", "3,1"])  # 1250 g PET + 3100 g mixed = Rp 3,750 + Rp 4,650
        expect(page.locator("#outbox-card")).to_have_attribute("data-waiting", "2")
        expect(page.locator("#outbox-status")).to_contain_text("2 penjemputan menunggu dikirim")
        expect(page.locator("#net")).to_have_attribute("data-state", "error")

        page.reload()  # no network: the page comes from the service worker
        expect(page.locator("#outbox-card")).to_have_attribute(
            "data-waiting", "2", timeout=TIMEOUT_MS
        )
        expect(page.locator(f"#done li[data-pickup='{b}']")).to_contain_text("Menunggu dikirim")
        assert door.balance("household-b") == before["household-b"]  # nothing left the phone

        page.context.set_offline(False)  # the network comes back: the queue is sent
        expect(page.locator("#outbox-card")).to_have_attribute(
            "data-waiting", "0", timeout=TIMEOUT_MS
        )
        expect(page.locator(f"#done li[data-pickup='{b}'] .credit")).to_have_text(
            "Rp 8.400 masuk ke tabungan Anda", timeout=TIMEOUT_MS
        )
        # the phone sends its completions again (an answer lost on the way): no effect
        page.evaluate(
            """async () => {
                const { outbox, putOutbox } = await import('./js/collector/store.js');
                for (const item of await outbox()) {
                    item.status = 'queued';
                    await putOutbox(item);
                }
            }"""
        )
        page.get_by_role("button", name="Muat ulang").click()
        expect(page.locator("#outbox-card")).to_have_attribute(
            "data-waiting", "0", timeout=TIMEOUT_MS
        )
        # answered as the same completions (a new event id would be refused: pickup done)
        expect(page.locator("#outbox-list li[data-status='refused']")).to_have_count(0)
    finally:
        page.context.close()
    assert door.balance("household-a") - before["household-a"] == 7_500
    assert door.balance("household-b") - before["household-b"] == 8_400
    phone_weighins = select(func.count()).where(WeighinRecord.device_id.like("ph-%"))
    assert door.scalar(phone_weighins) == 3
    with door.api.client() as c:
        token = login(c, "operator")
    with door.api.client(token) as c:
        for pid in (a, b):
            assert c.get(f"/api/v1/pickups/{pid}").json()["status"] == "done"
    assert console_errors.errors == []
