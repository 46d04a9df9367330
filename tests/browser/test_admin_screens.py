"""The administration screens against the running demo stack: a household list checked
(every bad row listed, nothing imported) then imported; a price change proposed and
approved by a second person, another administrator (the proposer's own approval is
refused); a device
provisioned and its one-time config downloaded (a second download is refused); a cash
day opened, counted with a difference and a reason, closed, reopened only by the
administrator; the audit log showing those actions. Screenshots at 1366x900 and 390x844
(``artifacts/screenshots/admin-*.png``). ``/docs`` and ``/redoc`` render with every
request outside the API refused (no internet).

mutant: the import button enabled after a dry run with bad rows -> the "disabled" check fails.
mutant: price_changes.approve without the proposer check -> the admin's own approval passes.
mutant: device_config.redeem does not mark the link used -> the second download is 200.
mutant: the reopen route for any staff (Staff for Admin) -> the operator's reopen passes.
mutant: the cash box screen shows whichever day's answer comes last (no latest()) -> the
        held answer for today overwrites the day asked for after it.
mutant: docs page loads Swagger UI from a CDN -> the title never renders offline.
mutant: the approve route passing no two-person threshold -> the requester's own approval
        passes (a payout of Rp 50.000 in the demo).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from stack.demo import DEMO_TWO_PERSON_RP, SITE, card_of, member_no
from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.browser.stack import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SECOND = ("operator2", "operator2-secret-pw")
SECOND_ADMIN = ("admin2", "admin2-secret-pw")
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini-full.svg"
HEADER = "nama;rt;rw;desa;kecamatan;telepon;bank_sampah;kartu\n"


def household_list(n: int, bad: bool) -> str:
    """``n`` rows; with ``bad``, line 3 has a bad phone, 5 an unknown site, 7 a repeated card."""
    rows = []
    for i in range(n):
        phone, site, card = f"0812{7000000 + i:07d}", SITE, f"ADM{i:05d}"
        line = i + 2  # the header is line 1
        if bad and line == 3:
            phone = "021 555 1234"
        if bad and line == 5:
            site = "bank-nowhere"
        if bad and line == 7:
            card = "ADM00000"
        rows.append(f"Warga Uji {i};{i % 9 + 1};2;Karanglewas;Sokaraja;{phone};{site};{card}\n")
    return HEADER + "".join(rows)


def shot(page: Page, name: str) -> None:
    """A full-page screenshot from the top (a scrolled page would show the sticky bar mid-page)."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def login(page: Page, user: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#main")).to_be_visible()


def view(page: Page, hash_: str) -> None:
    page.goto(f"/#{hash_}")
    expect(page.locator(f'[data-view="{hash_}"]')).to_be_visible()


@pytest.fixture(scope="module")
def second_operator(shared_stack: BrowserStack) -> tuple[str, str]:
    """An operator of the demo site (an operator belongs to a site)."""
    return shared_stack.staff(*SECOND, "operator", site=SITE)


@pytest.fixture(scope="module")
def second_admin(shared_stack: BrowserStack) -> tuple[str, str]:
    """A second administrator: price approvals are an administrator's."""
    return shared_stack.staff(*SECOND_ADMIN, "admin")


@pytest.fixture
def admin(
    browser: Browser, shared_stack: BrowserStack, console_errors: ConsoleErrors
) -> Iterator[Page]:
    p = new_page(browser, console_errors, shared_stack.base_url)
    login(p, *shared_stack.operator)
    yield p
    p.context.close()
    assert console_errors.errors == []


def phone_shot(
    browser: Browser,
    stack: BrowserStack,
    errors: ConsoleErrors,
    hash_: str,
    name: str,
    ready: str = ".table-wrap table",
) -> None:
    p = new_page(browser, errors, stack.base_url, phone=True)
    try:
        login(p, *stack.operator)
        view(p, hash_)
        expect(p.locator(f'[data-view="{hash_}"] {ready}').first).to_be_visible()
        shot(p, name)
    finally:
        p.context.close()


def test_import_checks_every_row_then_imports(
    admin: Page,
    shared_stack: BrowserStack,
    tmp_path: Path,
    browser: Browser,
    console_errors: ConsoleErrors,
) -> None:
    view(admin, "directory")
    expect(admin.locator("#dir-table tbody tr").first).to_be_visible()
    bad = tmp_path / "warga.csv"
    bad.write_text(household_list(40, bad=True), encoding="utf-8")
    admin.locator('[data-view="directory"]').get_by_label("Berkas", exact=True).set_input_files(
        str(bad)
    )
    admin.get_by_role("button", name="Periksa (uji coba)").click()
    notice = admin.locator("#imp-report .notice")
    expect(notice).to_have_attribute("data-bad-rows", "3")
    expect(notice).to_contain_text("3 dari 40 baris salah")
    lines = admin.locator("#imp-report tbody tr td:first-child")
    expect(lines).to_have_text(["3", "5", "7"])
    expect(admin.get_by_role("button", name="Impor sekarang")).to_be_disabled()
    shot(admin, "admin-import-dryrun")
    with shared_stack.api() as api:
        assert (
            api.get("/api/v1/directory/households", params={"q": "Warga Uji"}).json()["total"] == 0
        )
    good = tmp_path / "warga-bersih.csv"
    good.write_text(household_list(40, bad=False), encoding="utf-8")
    admin.locator('[data-view="directory"]').get_by_label("Berkas", exact=True).set_input_files(
        str(good)
    )
    admin.get_by_role("button", name="Periksa (uji coba)").click()
    expect(notice).to_contain_text("40 baris, semuanya benar")
    admin.get_by_role("button", name="Impor sekarang").click()
    expect(notice).to_contain_text("40 nasabah diimpor")
    admin.locator('[data-view="directory"]').get_by_label(
        "Cari (nomor, nama, telepon, alamat)", exact=True
    ).fill("Warga Uji 39")
    admin.get_by_role("button", name="Cari", exact=True).click()
    expect(admin.locator("#dir-table tbody tr")).to_have_count(1)  # "Warga Uji 39" only
    admin.locator('[data-view="directory"]').get_by_label(
        "Cari (nomor, nama, telepon, alamat)", exact=True
    ).fill("Warga Uji")
    admin.get_by_role("button", name="Cari", exact=True).click()
    expect(admin.locator("#dir-table .pager")).to_contain_text("1–25 dari 40")
    admin.get_by_role("button", name="Berikutnya").click()
    expect(admin.locator("#dir-table .pager")).to_contain_text("26–40 dari 40")
    admin.locator("#dir-table tbody tr").first.get_by_role("button", name="Ubah").click()
    admin.locator('[data-view="directory"]').get_by_label("Telepon", exact=True).fill(
        "0813 1111 2222"
    )
    admin.get_by_role("button", name="Simpan").click()
    expect(admin.locator("#dir-table tbody tr").first).to_contain_text("+6281311112222")
    shot(admin, "admin-directory")
    phone_shot(browser, shared_stack, console_errors, "directory", "admin-directory-phone")


def test_price_change_needs_a_second_person(
    admin: Page,
    shared_stack: BrowserStack,
    second_admin: tuple[str, str],
    browser: Browser,
    console_errors: ConsoleErrors,
) -> None:
    view(admin, "prices")
    admin.locator('[data-view="prices"]').get_by_label("Kategori", exact=True).select_option(
        "paper"
    )
    admin.locator('[data-view="prices"]').get_by_label("Rp per kg", exact=True).fill("2.750")
    admin.locator('[data-view="prices"]').get_by_label("Catatan", exact=True).fill(
        "harga pasar Desember"
    )
    admin.get_by_role("button", name="Usulkan", exact=True).click()
    row = admin.locator("#price-changes tbody tr").first
    expect(row).to_have_attribute("data-status", "pending")
    expect(row).to_contain_text("Rp 2.750")
    console_errors.allow("409")  # the refused self-approval
    row.get_by_role("button", name="Setujui").click()
    expect(admin.locator(".toast.bad")).to_contain_text("second person")
    expect(row).to_have_attribute("data-status", "pending")
    other = new_page(browser, console_errors, shared_stack.base_url)
    try:
        login(other, *second_admin)
        view(other, "prices")
        mine = other.locator("#price-changes tbody tr").first
        mine.get_by_role("button", name="Setujui").click()
        expect(mine).to_have_attribute("data-status", "approved")
        expect(other.locator("#price-current")).to_contain_text("Rp 2.750")
        shot(other, "admin-prices")
    finally:
        other.context.close()
    phone_shot(browser, shared_stack, console_errors, "prices", "admin-prices-phone")


def test_provision_a_device_and_download_its_config_once(
    admin: Page, shared_stack: BrowserStack
) -> None:
    view(admin, "device-admin")
    admin.locator('[data-view="device-admin"]').get_by_label("ID perangkat", exact=True).fill(
        "st-admin01"
    )
    admin.locator('[data-view="device-admin"]').get_by_label("Nama", exact=True).fill(
        "Stasiun uji admin"
    )
    admin.get_by_role("button", name="Daftarkan", exact=True).click()
    expect(admin.locator("#dev-secret")).to_contain_text("hanya ditampilkan sekali")
    link = admin.locator("#dev-link-url")
    expect(link).to_be_visible()
    expect(admin.locator("#dev-link img.qr")).to_be_visible()
    expect(admin.locator('#dev-table tr[data-device="st-admin01"]')).to_be_visible()
    shot(admin, "admin-devices")
    url = link.get_attribute("href")
    assert url
    first = admin.request.get(url)
    assert first.status == 200, first.text()
    assert "st-admin01" in first.text()
    assert admin.request.get(url).status == 410  # one download only
    admin.once("dialog", lambda d: d.accept())
    admin.get_by_role("button", name="Cabut st-admin01").click()
    expect(admin.locator('#dev-table tr[data-device="st-admin01"]')).to_contain_text("dicabut")


def test_end_of_day_cash_box(
    admin: Page,
    shared_stack: BrowserStack,
    second_operator: tuple[str, str],
    browser: Browser,
    console_errors: ConsoleErrors,
) -> None:
    view(admin, "cashbox")
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()  # not the day shown first
    admin.locator('[data-view="cashbox"]').get_by_label("Tanggal (TTTT-BB-HH)", exact=True).fill(
        day
    )
    admin.get_by_role("button", name="Tampilkan").click()
    status = admin.locator(f'#cash-status[data-day="{day}"]')  # that day's, not today's
    expect(status).to_have_attribute("data-status", "none")
    admin.locator('[data-view="cashbox"]').get_by_label("Modal awal", exact=True).fill("100.000")
    admin.get_by_role("button", name="Buka kas").click()
    expect(status).to_have_attribute("data-status", "open")
    admin.locator('[data-view="cashbox"]').get_by_label("Jenis", exact=True).select_option("sale")
    admin.locator('[data-view="cashbox"]').get_by_label("Jumlah (Rp)", exact=True).fill("20.000")
    admin.get_by_role("button", name="Catat", exact=True).click()
    expect(admin.locator("#cash-expected")).to_have_text("Rp 120.000")
    admin.locator('[data-view="cashbox"]').get_by_label("Dihitung", exact=True).fill("119.000")
    admin.locator('[data-view="cashbox"]').get_by_label("Alasan selisih", exact=True).fill(
        "uang kembalian kurang"
    )
    admin.get_by_role("button", name="Tutup kas").click()
    expect(status).to_have_attribute("data-status", "closed")
    expect(admin.locator("#cash-difference")).to_have_text(re.compile(r"−Rp 1\.000"))
    shot(admin, "admin-cashbox")
    other = new_page(browser, console_errors, shared_stack.base_url)
    console_errors.allow("403")  # the operator's refused reopen
    # the screen's first answer (today's box) is held back until the asked day shows: a
    # late answer to an older request must not overwrite the day asked for after it
    held: list[Route] = []

    def hold_today(route: Route) -> None:
        if route.request.url.endswith(f"/{day}"):
            route.fallback()
        else:
            held.append(route)

    other.route(re.compile(r".*/api/v1/cashbox/\d+/\d{4}-\d\d-\d\d$"), hold_today)
    try:
        login(other, *second_operator)
        view(other, "cashbox")
        for _ in range(200):  # the first load asks for today after the sites are in
            if held:
                break
            other.wait_for_timeout(50)
        assert held, "the cash box screen did not ask for today's box"
        other.locator('[data-view="cashbox"]').get_by_label(
            "Tanggal (TTTT-BB-HH)", exact=True
        ).fill(day)
        other.get_by_role("button", name="Tampilkan").click()
        expect(other.locator(f'#cash-status[data-day="{day}"]')).to_have_attribute(
            "data-status", "closed"
        )
        with other.expect_response(lambda r: r.request in [h.request for h in held]):
            for route in held:
                route.fallback()
        other.wait_for_timeout(300)  # the late answer is handled (or dropped) by now
        expect(other.locator(f'#cash-status[data-day="{day}"]')).to_have_attribute(
            "data-status", "closed"
        )
        other.once("dialog", lambda d: d.accept("salah hitung"))
        other.get_by_role("button", name="Buka kembali (administrator)").click()
        expect(other.locator(".toast.bad")).to_be_visible()
        expect(other.locator(f'#cash-status[data-day="{day}"]')).to_have_attribute(
            "data-status", "closed"
        )
    finally:
        other.context.close()
    admin.once("dialog", lambda d: d.accept("salah hitung"))
    admin.get_by_role("button", name="Buka kembali (administrator)").click()
    expect(status).to_have_attribute("data-status", "open")
    phone_shot(
        browser,
        shared_stack,
        console_errors,
        "cashbox",
        "admin-cashbox-phone",
        ready="#cash-status",
    )


def test_a_large_payout_is_approved_by_a_second_person(
    admin: Page,
    shared_stack: BrowserStack,
    second_operator: tuple[str, str],
    browser: Browser,
    console_errors: ConsoleErrors,
) -> None:
    """The administrator asks for a payout at the threshold and cannot approve it; the
    site's operator approves it, and cannot pay out what it approved; the administrator
    hands out the cash. The payout shows who did each step."""
    weighed = shared_stack.weigh(card_id=card_of(3), category="plastic-pet", net_g=20_000)
    assert weighed["amount_rp"] >= DEMO_TWO_PERSON_RP  # Rp 60.000
    amount = f"{DEMO_TWO_PERSON_RP:,}".replace(",", ".")

    def open_household(page: Page) -> None:
        view(page, "households")
        page.get_by_label("Nomor anggota atau nama").fill(member_no(3))
        page.get_by_role("button", name="Cari").click()
        page.locator("#hh-results button").first.click()

    open_household(admin)
    detail = admin.locator("#hh-detail")
    detail.get_by_label("Jumlah (Rp)").fill(amount)
    detail.get_by_role("button", name="Ajukan penarikan").click()
    requested = detail.locator("li[data-payout][data-status='requested']")
    expect(requested).to_contain_text(f"Rp {amount}")
    expect(requested.locator("[data-two-person]")).to_have_text("2 orang")
    console_errors.allow("409")  # the refused self-approval
    requested.get_by_role("button", name="Setujui").click()
    expect(admin.locator(".toast.bad")).to_contain_text("second person")
    expect(requested).to_be_visible()  # still requested
    shot(admin, "admin-payout-two-person")

    other = new_page(browser, console_errors, shared_stack.base_url)
    try:
        login(other, *second_operator)
        open_household(other)
        theirs = other.locator("#hh-detail li[data-payout][data-status='requested']")
        theirs.get_by_role("button", name="Setujui").click()
        approved = other.locator("#hh-detail li[data-payout][data-status='approved']")
        expect(approved).to_contain_text(f"disetujui oleh user:{second_operator[0]}")
        approved.get_by_role("button", name="Bayarkan").click()
        expect(other.locator(".toast.bad")).to_contain_text("second person")
        expect(approved).to_be_visible()  # not paid by its approver
    finally:
        other.context.close()

    open_household(admin)
    approved = detail.locator("li[data-payout][data-status='approved']")
    approved.get_by_role("button", name="Bayarkan").click()
    paid = detail.locator("li[data-payout][data-status='paid']")
    expect(paid).to_contain_text(f"dibayarkan oleh user:{shared_stack.operator[0]}")
    expect(paid.locator("[data-two-person]")).to_have_count(0)
    shot(admin, "admin-payout-paid")


def test_the_audit_log_shows_the_actions(
    admin: Page, shared_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors
) -> None:
    with shared_stack.api() as api:  # an action of its own, so the test stands alone
        hh = api.get("/api/v1/directory/households", params={"limit": 1}).json()["items"][0]
        api.patch(f"/api/v1/households/{hh['id']}", json={"address": "RT 01 / RW 02"})
    view(admin, "audit")
    expect(admin.locator("#audit-table tbody tr").first).to_be_visible()
    admin.locator('[data-view="audit"]').get_by_label("Objek", exact=True).fill(
        f"household:{hh['id']}"
    )
    admin.get_by_role("button", name="Cari", exact=True).click()
    row = admin.locator('#audit-table tr[data-action="household.update"]').first
    expect(row).to_contain_text("RT 01 / RW 02")
    expect(row).to_contain_text("user:admin")
    shot(admin, "admin-audit")
    phone_shot(browser, shared_stack, console_errors, "audit", "admin-audit-phone")


def offline(context: BrowserContext, base_url: str) -> list[str]:
    """Refuse every request that is not to the API (as on a site without internet)."""
    refused: list[str] = []

    def handle(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", handle)
    return refused


def test_api_docs_render_offline(
    browser: Browser, shared_stack: BrowserStack, console_errors: ConsoleErrors
) -> None:
    page = new_page(browser, console_errors, shared_stack.base_url)
    console_errors.allow(REDOCLY_LOGO)
    console_errors.allow_blocked(REDOCLY_LOGO)  # the CSP's img-src refuses a CDN
    # ReDoc's search tries `Function(...)` to run in a worker; the CSP refuses eval and
    # ReDoc searches on the page instead (its own try/catch)
    redoc = f"{shared_stack.base_url}/vendor/redoc/"
    console_errors.allow_blocked(f"script-src blocked eval at {redoc}")
    try:
        refused = offline(page.context, shared_stack.base_url)
        page.goto("/docs")
        title = page.locator("#swagger-ui").get_by_role("heading", level=1)
        expect(title).to_contain_text("Salinmas API", timeout=30_000)
        # the operations are listed (the first tag's first one: ~170 follow it)
        ops = page.get_by_text("/api/v1/households/{household_id}/balance").first
        expect(ops).to_be_attached(timeout=60_000)
        shot(page, "admin-docs-offline")
        page.goto("/redoc")
        expect(page.locator("h1").first).to_contain_text("Salinmas API", timeout=30_000)
        shot(page, "admin-redoc-offline")
        # nothing else even tried to leave: ReDoc 3's "API docs by Redocly" logo is an
        # <img> from its CDN that hides itself when it cannot load (no option turns it off;
        # the CSP refuses it before it reaches the network)
        assert [u for u in refused if u != REDOCLY_LOGO] == []
        r = page.request.get("/openapi.json", max_redirects=0)
        assert r.status == 308
        assert r.headers["location"] == "/api/v1/openapi.json"
    finally:
        page.context.close()
    assert console_errors.errors == []
