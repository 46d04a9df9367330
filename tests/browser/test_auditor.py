"""The auditor: signs in on the operator page, reads every view, and is shown nothing
that writes (the API refuses the auditor's writes; the page does not offer them).

Before, the page admitted administrators, operators and cashiers: an auditor's account
could sign in nowhere. And an operator was shown the audit log's tab, which the API
refuses an operator (the programme's log is the administrator's and the auditor's).

mutant: the page's roles without "auditor" -> "this account cannot open this page" -> fails
mutant: css without the auditor's rule (``[data-writes]`` shown) -> write buttons and
        forms visible -> fails
mutant: a write control without ``data-writes`` (the payout row's) -> "Setujui" shown -> fails
mutant: the operator opens every view (``operator: null``) -> the Audit tab shows -> fails
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from stack.demo import SITE, card_of, member_no
from tests.browser.conftest import ConsoleErrors, screenshot, signed_in, staff_login
from tests.browser.stack import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

AUDITOR = ("auditor1", "auditor1-secret-pw")
OPERATOR = ("operator9", "operator9-secret-pw")
HOUSEHOLD = 1  # of the stack's four: others pay out the first, the third and the last
#: the views and one element each shows once it has read its data
VIEWS = {
    "Ringkasan": "#kpis",
    "Penjemputan": "#pickups-open",
    "Grafik": "#chart-kg svg",
    "Nasabah": "#hh-search",
    "Riwayat timbang": "#wh-filter",
    "Daftar anggota": "#dir-table table",
    "Harga": "#price-current table",
    "Perangkat": "#dev-table table",
    "Kas": "#cash-pick",
    "Audit": "#audit-table",
    "Stok": "#stock-now",
    "Kasus": "#cases-list",
}


TAB_VIEW = {
    "Ringkasan": "overview",
    "Penjemputan": "pickups",
    "Grafik": "charts",
    "Nasabah": "households",
    "Riwayat timbang": "weighins",
    "Daftar anggota": "directory",
    "Harga": "prices",
    "Perangkat": "device-admin",
    "Kas": "cashbox",
    "Audit": "audit",
    "Stok": "stock",
    "Kasus": "cases",
}


@pytest.fixture(scope="module")
def auditor(shared_stack: BrowserStack) -> tuple[str, str]:
    return shared_stack.staff(*AUDITOR, "auditor")


@pytest.fixture
def page(
    browser: Browser,
    shared_stack: BrowserStack,
    console_errors: ConsoleErrors,
    auditor: tuple[str, str],
) -> Iterator[Page]:
    with signed_in(browser, console_errors, shared_stack.base_url, *auditor) as p:
        yield p


def _forms(page: Page) -> list[str]:
    """The visible forms of the shown view that are not a search or a filter."""
    view = page.locator("main [data-view]:visible")
    return list(
        view.locator("form:visible:not([role=search])").evaluate_all(
            "fs => fs.map(f => f.id || f.className || 'form')"
        )
    )


def _press_everything(page: Page, tab: str, limit: int = 12) -> int:
    """Press each visible button of the view (up to ``limit``), as a curious auditor
    would; dialogs are answered. Returns how many were pressed."""
    pressed = 0
    for i in range(limit):
        view = page.locator("main [data-view]:visible")
        buttons = view.locator("button:visible:enabled")
        if i >= buttons.count():
            break
        buttons.nth(i).click(timeout=3_000)
        pressed += 1
        page.wait_for_load_state("networkidle")  # one at a time: downloads are heavy reads
        if page.locator("main [data-view]:visible").get_attribute("data-view") != view_of(tab):
            page.get_by_role("link", name=tab, exact=True).click()  # a button moved on
    return pressed


def view_of(tab: str) -> str:
    return TAB_VIEW[tab]


@pytest.fixture
def waiting_payout(shared_stack: BrowserStack) -> Iterator[int]:
    """A weigh-in and a payout waiting for approval, so the views have rows with actions;
    rejected afterwards (the stack is shared: later tests count the payouts waiting)."""
    shared_stack.weigh(card_id=card_of(HOUSEHOLD), category="paper", net_g=4000)
    with shared_stack.api() as api:
        r = api.post(
            f"/api/v1/households/{shared_stack.demo.household_ids[HOUSEHOLD]}/payouts",
            json={"amount_rp": 1_000},
            headers={"Idempotency-Key": "auditor-test-payout"},
        )
        assert r.status_code in (200, 201), r.text
    payout_id = int(r.json()["id"])
    yield payout_id
    with shared_stack.api() as api:
        r = api.post(
            f"/api/v1/payouts/{payout_id}/reject",
            json={"reason": "auditor test done"},
            headers={"Idempotency-Key": "auditor-test-payout-reject"},
        )
        assert r.status_code in (200, 201), r.text


@pytest.mark.usefixtures("waiting_payout")
def test_the_auditor_reads_every_view_and_is_offered_no_write(page: Page) -> None:
    writes: list[str] = []

    def note(req: Request) -> None:
        # the live stream's ticket (POST /auth/stream-ticket) is the session's, not a write
        if req.method not in ("GET", "HEAD") and "/api/" in req.url and "/auth/" not in req.url:
            writes.append(f"{req.method} {req.url}")

    page.on("request", note)
    page.on("dialog", lambda d: d.accept("checked by the auditor"))
    tabs = page.locator("nav.tabs a:visible")
    expect(tabs).to_have_text(list(VIEWS))
    forms, pressed = {}, 0
    for name, ready in VIEWS.items():
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.locator(ready).first).to_be_attached()
        page.wait_for_load_state("networkidle")
        forms[name] = _forms(page)
        pressed += _press_everything(page, name)
    # the household's detail: balance, statement, the payout waiting (no approve for it)
    page.get_by_role("link", name="Nasabah", exact=True).click()
    page.get_by_label("Nomor anggota atau nama").fill(member_no(HOUSEHOLD))
    page.get_by_role("button", name="Cari").click()
    page.locator("#hh-results button").first.click()
    detail = page.locator("#hh-detail")
    expect(detail.locator("li[data-payout][data-status='requested']")).to_contain_text("Rp 1.000")
    page.wait_for_load_state("networkidle")
    forms["Nasabah: detail"] = _forms(page)
    screenshot(page, "auditor-household-desktop")
    pressed += _press_everything(page, "Nasabah")
    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page.locator("#audit-table [data-audit]").first).to_be_visible()
    screenshot(page, "auditor-audit-desktop")

    assert {k: v for k, v in forms.items() if v} == {}
    assert pressed >= 10  # the views had buttons to press: reads (find, show, download)
    assert writes == []


def test_an_operator_is_not_shown_the_audit_log(page: Page, shared_stack: BrowserStack) -> None:
    operator = shared_stack.staff(*OPERATOR, "operator", site=SITE)
    page.get_by_role("button", name="Keluar").click()
    staff_login(page, *operator)
    expect(page.locator("nav.tabs a:visible")).to_have_text([v for v in VIEWS if v != "Audit"])
    page.goto("/#audit")
    expect(page.locator('[data-view="overview"]')).to_be_visible()
