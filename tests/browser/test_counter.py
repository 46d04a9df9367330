"""The counter: a cashier signs in on the operator page and works households and the cash
box (the API's ``Counter`` and ``CounterReader`` roles), without the views a cashier's
account would only find refused (the overview, the board, charts: ``SiteReader``).

Before, the page admitted only administrators and operators: a cashier's account could
sign in nowhere, so a waste bank handed its cashier an operator's account.

mutant: the cashier opens every view (``cashier: null``) -> the overview's reads are
        refused (403s in the console) and eleven tabs show -> fails
mutant: the page's roles without "cashier" -> "this account cannot open this page" -> fails
mutant: route() ignores the role (falls back to "overview") -> the overview view shows
        for a cashier -> fails
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from stack.demo import SITE, card_of, member_no
from tests.browser.conftest import ConsoleErrors, screenshot, signed_in
from tests.browser.stack import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CASHIER = ("kasir1", "kasir1-secret-pw")
HOUSEHOLD = 2  # of the stack's four: other tests pay out the first and the last


def rupiah(rp: int) -> str:
    return "Rp " + f"{rp:,}".replace(",", ".")


@pytest.fixture(scope="module")
def cashier(shared_stack: BrowserStack) -> tuple[str, str]:
    """A cashier of the demo site."""
    return shared_stack.staff(*CASHIER, "cashier", site=SITE)


@pytest.fixture
def page(
    browser: Browser,
    shared_stack: BrowserStack,
    console_errors: ConsoleErrors,
    cashier: tuple[str, str],
) -> Iterator[Page]:
    with signed_in(browser, console_errors, shared_stack.base_url, *cashier) as p:
        yield p


def test_a_cashier_pays_out_at_the_counter_and_sees_the_cash_box(
    page: Page, shared_stack: BrowserStack
) -> None:
    # the counter's two views, nothing else; households first
    tabs = page.locator("nav.tabs a:visible")
    expect(tabs).to_have_text(["Nasabah", "Kas"])
    expect(page.locator('[data-view="households"]')).to_be_visible()
    expect(page.locator('[data-view="overview"]')).to_be_hidden()
    expect(page.locator("#live")).to_be_hidden()  # no live figures to be on or off line
    # an address naming a view the cashier does not open shows the households
    page.goto("/#overview")
    expect(page.locator('[data-view="households"]')).to_be_visible()
    expect(page.locator('[data-view="overview"]')).to_be_hidden()

    weighed = shared_stack.weigh(card_id=card_of(HOUSEHOLD), category="paper", net_g=3000)
    member = member_no(HOUSEHOLD)
    page.get_by_label("Nomor anggota atau nama").fill(member)
    page.get_by_role("button", name="Cari").click()
    page.locator("#hh-results button").first.click()
    detail = page.locator("#hh-detail")
    expect(detail).to_contain_text(member)
    balance = page.locator("#hh-balance")
    expect(balance).not_to_have_text("")
    before = int((balance.text_content() or "0").removeprefix("Rp ").replace(".", ""))
    assert before >= weighed["amount_rp"] >= 2_000

    page.get_by_label("Jumlah (Rp)").fill("2.000")
    page.get_by_role("button", name="Ajukan penarikan").click()
    requested = detail.locator("li[data-payout][data-status='requested']")
    expect(requested).to_contain_text("Rp 2.000")
    requested.get_by_role("button", name="Setujui").click()
    approved = detail.locator("li[data-payout][data-status='approved']")
    approved.get_by_role("button", name="Bayarkan").click()
    expect(detail.locator("li[data-payout][data-status='paid']")).to_contain_text("Rp 2.000")
    expect(balance).to_have_text(rupiah(before - 2_000))
    screenshot(page, "counter-cashier-desktop")

    page.get_by_role("link", name="Kas").click()
    expect(page.locator('[data-view="cashbox"]')).to_be_visible()
    expect(page.locator("#cash-pick")).to_be_visible()
    screenshot(page, "counter-cashbox-desktop")
