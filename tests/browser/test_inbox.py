"""The household page's inbox fills as weigh-ins are credited (the demo stack, for real):
a bag weighed at a station is told in the inbox with its weight, rupiah and new balance,
once; "mark read" clears the unread count; the station's simulated printer has printed
the ticket into the file the demo names.

mutant: crediting tells nobody -> the inbox never shows the credit.
mutant: inbox.js not loaded by household.html -> the inbox section stays hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.browser.stack import BrowserStack
from tests.edge.harness import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def page(
    browser: Browser, shared_stack: BrowserStack, console_errors: ConsoleErrors
) -> Iterator[Page]:
    p = new_page(browser, console_errors, shared_stack.base_url, phone=True)
    yield p
    p.context.close()
    assert console_errors.errors == []


def test_the_inbox_fills_as_weighins_are_credited(page: Page, shared_stack: BrowserStack) -> None:
    member_no, pin, card = shared_stack.household
    page.goto("/household.html")
    page.get_by_label("Nomor anggota").fill(member_no)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Masuk").click()
    inbox = page.locator("#inbox-card")
    expect(inbox).to_be_visible()
    weighed = shared_stack.weigh(card_id=card, category="paper", net_g=2_500)
    rupiah = f"Rp {weighed['amount_rp']:,}".replace(",", ".")
    page.get_by_role("button", name="Muat ulang").click()  # or wait for the 10 s re-read
    item = page.locator("#inbox li").filter(has_text=f"2,50 kg Kertas & kardus = {rupiah} masuk")
    expect(item).to_have_count(1, timeout=20_000)
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(page.locator("#inbox-unread")).to_contain_text("belum dibaca")
    screenshot(page, "household-inbox-phone")
    page.get_by_role("button", name="Tandai sudah dibaca").click()
    expect(page.locator("#inbox li.unread")).to_have_count(0)
    tickets = shared_stack.demo.tickets_file
    wait_until(lambda: tickets.exists() and f"ID        {weighed['event_id']}" in
               tickets.read_text(), 20, "the station's ticket")  # fmt: skip
