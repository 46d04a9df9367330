"""Every page at desktop (1366x900) and phone (390x844) size: nothing overflows sideways,
no two text labels overlap, and a screenshot of each is kept under
``artifacts/screenshots/layout-*.png`` (git-ignored) for a person to look at.

mutant: bin labels drawn at their raw positions (no collision rule) -> overview fails (overlap)
mutant: the phone menu shown as a row of tabs again -> every operator view fails (overflow)
mutant: the statement table not turned into cards on a phone -> households fails (overflow)
mutant: the fill chart's threshold label drawn inside the plot -> charts fails (overlap)
mutant: the API's CSP without style-src 'unsafe-inline' -> 104 CSP violations -> fails
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.browser.layout import layout_problems
from tests.browser.stack import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

LIVE_TIMEOUT_MS = 40_000
#: measures the page as it is now under a name (its screenshot's)
Check = Callable[[str], None]
SIZES = ["desktop", "phone"]


def check(page: Page, name: str, problems: dict[str, list[str]]) -> None:
    """Measure the page as it is now and keep its screenshot."""
    page.wait_for_timeout(300)  # let a resize or a re-render after data settle
    found = layout_problems(page)
    path = screenshot(page, f"layout-{name}")
    if found:
        problems[f"{name} ({path.name})"] = found


def operator_pages(page: Page, stack: BrowserStack, size: str, check_: Check) -> None:
    user, password = stack.operator
    page.goto("/")
    expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    check_(f"login-{size}")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#feed tbody tr").first).to_be_attached(timeout=LIVE_TIMEOUT_MS)
    check_(f"overview-{size}")
    for view in ("pickups", "charts", "households", "stock", "cases"):
        page.goto(f"/#{view}")
        expect(page.locator(f"[data-view='{view}']")).to_be_visible()
        if view == "charts":
            expect(page.locator("#chart-fill svg").first).to_be_attached(timeout=LIVE_TIMEOUT_MS)
            expect(page.locator("#chart-kg svg rect").first).to_be_attached(timeout=LIVE_TIMEOUT_MS)
        if view == "households":
            member_no, _pin, _card = stack.household
            page.locator("#hh-q").fill(member_no)
            page.locator("#hh-search button[type=submit]").click()
            page.locator("#hh-results button").first.click()
            expect(page.locator("#hh-detail table").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        if view == "stock":
            expect(page.locator("#stock-now tbody tr").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
            expect(page.locator("#stock-chart svg").first).to_be_attached(timeout=LIVE_TIMEOUT_MS)
        if view == "cases":
            expect(page.locator("#cases-rules li").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        check_(f"{view}-{size}")


def household_page(page: Page, stack: BrowserStack, size: str, check_: Check) -> None:
    member_no, pin, _card = stack.household
    page.goto("/household.html")
    page.get_by_label("Nomor anggota").fill(member_no)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#statement li").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    check_(f"household-{size}")


def collector_page(page: Page, stack: BrowserStack, size: str, check_: Check) -> None:
    user, password = stack.collector
    page.goto("/collector.html")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#stops")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    check_(f"collector-{size}")


@pytest.fixture(scope="module")
def stack(shared_stack: BrowserStack) -> BrowserStack:
    """The shared stack with something to show: two weigh-ins of the first household, and
    every bin full (the state in which neighbouring bins' labels are longest)."""
    _member_no, _pin, card = shared_stack.household
    for device in shared_stack.demo.bin_device_ids:
        assert shared_stack.demo.fleet.control(device, f"fill {device}-a 100")
    shared_stack.weigh(card_id=card, category="plastic-pet", net_g=1250)
    shared_stack.weigh(card_id=card, category="organic", net_g=3400)
    with shared_stack.api() as api:
        deadline = (
            time.monotonic() + 120
        )  # the fleet's agents report every few seconds; a loaded host
        while any((b["fill_pct"] or 0) < 100 for b in api.get("/api/v1/bins").json()):
            assert time.monotonic() < deadline, "the bins never reported full"
            time.sleep(0.2)
    return shared_stack


@pytest.mark.parametrize("size", SIZES)
def test_no_page_overflows_or_overlaps_its_labels(
    size: str, stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors
) -> None:
    problems: dict[str, list[str]] = {}
    opened: list[Page] = []
    try:
        for visit in (operator_pages, household_page, collector_page):
            page = new_page(browser, console_errors, stack.base_url, phone=size == "phone")
            opened.append(page)
            visit(page, stack, size, lambda name, p=page: check(p, name, problems))
    finally:
        for page in opened:
            page.context.close()
    report = "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in problems.items())
    assert not problems, "layout problems (screenshots in artifacts/screenshots/):\n" + report
    assert console_errors.errors == []
