"""The stock, sales and cases screens against the real API on a simulated month.

Three weeks of a small programme (80 households) with the three injected frauds
(simulators/month.py, run through the domain), scanned; then the administrator looks at the
stock and mass balance (the inflating station's site is flagged), is refused a sale
beyond the stock with the reason shown, sells what is there, confirms the copied card's case
(the household's payouts are held), and opens the monthly report. Screenshots (desktop
and phone) go to ``artifacts/screenshots/``; the basic accessibility audit runs on
each screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from cloud import crediting
from cloud.auth import create_user
from cloud.db import make_engine, migrate, session_factory
from cloud.fraud.cases import scan
from simulators.month import FRAUDS, TZ, MonthConfig, simulate
from tests.api.support import PASSWORD, ApiServer, serve, settings_for
from tests.browser.audit import audit
from tests.browser.conftest import ConsoleErrors, new_page, screenshot, staff_login
from tests.cloud.factories import weighin

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: the API answers in milliseconds; a loaded 2-core host can stretch that to seconds
WAIT = 20_000
CFG = MonthConfig(households=80, days=21, stations_per_site=1, seed=1, frauds=FRAUDS)


@pytest.fixture(scope="module")
def month_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("month")
    url = f"sqlite:///{tmp / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        result = simulate(s, CFG)
        scan(s, first=CFG.first_day, last=CFG.first_day + timedelta(days=CFG.days - 1), tz=TZ)
        # the programme's administrator: the screens span both sites, and the copied
        # card's case (a site-1 card at a site-2 station) is the administrator's to decide
        create_user(s, username="administrator", password=PASSWORD, role="admin")
        now = datetime.now(UTC)  # 6 kg of PET on hand at bank01 today (the month sold out)
        victim_card = result.injected["card_clone"].split(":", 1)[1]
        crediting.credit_batch(
            s,
            [
                weighin(
                    device_id="st-bank01-1",
                    seq=90_000 + i,
                    card_id=victim_card,
                    net_g=2000,
                    device_time=now - timedelta(minutes=5 - i),
                )
                for i in range(3)
            ],
            received_at=now,
        )
        s.commit()
    engine.dispose()
    with serve(settings_for(url, tmp)) as server:
        yield server


@pytest.fixture
def page(month_api: ApiServer, browser: Browser, console_errors: ConsoleErrors) -> Iterator[Page]:
    p = new_page(browser, console_errors, month_api.url)
    staff_login(p, "administrator", PASSWORD, timeout_ms=WAIT)
    yield p
    p.context.close()
    console_errors.allow("409 (Conflict)")  # the refused sale, answered with its reason
    assert console_errors.errors == []


def test_stock_mass_balance_and_a_sale(page: Page) -> None:
    page.get_by_role("link", name="Stok").click()
    expect(page.locator("#stock-now tbody tr").first).to_be_visible(timeout=WAIT)
    page.locator("#stock-from").fill(CFG.first_day.strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Tampilkan").click()
    flagged = page.locator("#stock-balance tbody tr[data-flags*='loss_over_allowance']")
    expect(flagged.first).to_contain_text("bank01", timeout=WAIT)
    expect(
        page.locator("#stock-balance tbody tr[data-flags*='doorstep_gap']").first
    ).to_contain_text("bank02", timeout=WAIT)
    expect(page.locator("#stock-chart svg rect").first).to_be_attached(timeout=WAIT)
    audit_ok(page)
    screenshot(page, "stock-desktop")

    form = page.locator("#sale-form")
    form.get_by_label("Lokasi").select_option(label="bank01")
    form.get_by_label("Kategori").select_option(value="plastic-pet")
    form.get_by_label("Pembeli (offtaker)").fill("CV Daur Ulang Banyumas")
    form.get_by_label("Berat (kg)").fill("500")
    form.get_by_label("Harga per kg (Rp)").fill("4500")
    expect(form.get_by_label("Uang diterima (Rp)")).to_have_value("2250000", timeout=WAIT)
    form.get_by_label("No. tiket jembatan timbang").fill("WB-0099")
    form.get_by_role("button", name="Simpan penjualan").click()
    expect(page.locator(".toast.bad")).to_contain_text(
        "in stock", timeout=WAIT
    )  # refused, with the reason
    form.get_by_label("Berat (kg)").fill("4,5")
    form.get_by_label("Uang diterima (Rp)").fill("20000")
    form.get_by_role("button", name="Simpan penjualan").click()
    expect(page.locator(".toast:not(.bad)")).to_contain_text("Penjualan disimpan", timeout=WAIT)
    page.locator("#stock-to").fill(datetime.now(TZ).date().strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.locator("#stock-sales tbody tr").first).to_contain_text(
        "CV Daur Ulang Banyumas", timeout=WAIT
    )
    expect(page.locator("#stock-sales tbody tr").first).to_contain_text("Rp 20.000", timeout=WAIT)


def test_cases_confirm_holds_payouts_and_the_monthly_report(
    page: Page, month_api: ApiServer
) -> None:
    page.get_by_role("link", name="Kasus").click()
    items = page.locator("#cases-list li[data-case]")
    expect(items).to_have_count(3, timeout=WAIT)
    card = page.locator("#cases-list li[data-rule='card_two_stations']")
    expect(card).to_contain_text("Kartu di dua lokasi", timeout=WAIT)
    expect(card).to_contain_text("dalam 30 menit", timeout=WAIT)
    audit_ok(page)
    screenshot(page, "cases-desktop")
    card.get_by_role("button", name="Konfirmasi (tahan pembayaran)").click()
    expect(page.locator(".toast.bad")).to_contain_text(
        "catatan", timeout=WAIT
    )  # a note is required
    card.get_by_label("Catatan keputusan").fill("kartu digandakan; sudah dicek di bank02")
    card.get_by_role("button", name="Konfirmasi (tahan pembayaran)").click()
    expect(page.locator("#cases-list li[data-rule='card_two_stations']")).to_have_count(
        0, timeout=WAIT
    )  # left the open list
    expect(page.locator("#cases-holds li")).to_contain_text("case", timeout=WAIT)
    page.locator("#cases-status").select_option("confirmed")  # the history has one too
    expect(page.locator("#cases-list li[data-status='confirmed']")).to_contain_text(
        "kartu digandakan", timeout=WAIT
    )

    page.get_by_role("link", name="Stok").click()
    expect(page.locator("#stock-now tbody tr").first).to_be_visible(timeout=WAIT)
    page.locator("#stock-from").fill(CFG.first_day.strftime("%d/%m/%Y"))
    page.locator("#stock-to").fill((CFG.first_day + timedelta(days=5)).strftime("%d/%m/%Y"))
    with page.expect_popup() as popup:
        page.get_by_role("button", name="Laporan bulanan (cetak/PDF)").click()
    report = popup.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_have_text("Laporan Bulanan Program Bank Sampah", timeout=WAIT)
    expect(report.locator("body")).to_contain_text("November 2026", timeout=WAIT)
    screenshot(report, "monthly-report")
    report.close()


def test_the_screens_on_a_phone(
    month_api: ApiServer, browser: Browser, console_errors: ConsoleErrors
) -> None:
    p = new_page(browser, console_errors, month_api.url, phone=True)
    p.goto("/")
    p.get_by_label("Nama pengguna").fill("administrator")
    p.get_by_label("Kata sandi").fill(PASSWORD)
    p.get_by_role("button", name="Masuk").click()
    p.goto("/#stock")
    expect(p.locator("#stock-now tbody tr").first).to_be_visible(timeout=WAIT)
    width = p.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the stock view scrolls sideways on a phone ({width} px)"
    screenshot(p, "stock-phone")
    p.goto("/#cases")
    expect(p.locator("#cases-list li").first).to_be_visible(timeout=WAIT)
    screenshot(p, "cases-phone")
    p.context.close()
    assert console_errors.errors == []


def audit_ok(page: Page) -> None:
    problems = audit(page)
    assert problems == [], problems
