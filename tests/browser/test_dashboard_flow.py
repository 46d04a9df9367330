"""The dashboard against the real running stack with simulated devices (DemoStack).

Operators log in, see a simulated station's weigh-in arrive live, see a bin cross its
threshold and its pickup appear, assign and complete it; a household asks for a pickup
at its door, the route plans itself, the collector weighs at the door on the phone, and
the household sees its balance grow. Screenshots of the main pages (desktop and phone)
are saved under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cloud.pricing import amount_for
from tests.browser.audit import audit
from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.browser.stack import BrowserStack, browser_stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: simulated devices report through broker, ingest and the stream: allow them time
LIVE_TIMEOUT_MS = 40_000


def rupiah(rp: int) -> str:
    """Rupiah the Indonesian way, as the pages show it: 6750 -> "Rp 6.750"."""
    return "Rp " + f"{rp:,}".replace(",", ".")


def kg(grams: int) -> str:
    """Kilograms the Indonesian way, as the pages show them: 1500 -> "1,5 kg"."""
    value = (Decimal(grams) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{value:,}".partition(".")
    frac = frac.rstrip("0")
    return whole.replace(",", ".") + ("," + frac if frac else "") + " kg"


@pytest.fixture
def busy_stack(tmp_path: Path) -> Iterator[BrowserStack]:
    """Households arrive at the stations every few seconds; bins fill fast."""
    with browser_stack(tmp_path / "demo", visit_every_s=3.0) as stack:
        yield stack


@pytest.fixture
def quiet_stack(shared_stack: BrowserStack) -> BrowserStack:
    """No household arrives on its own: the tests do all the weighing (shared, in order)."""
    return shared_stack


def operator_login(page: Page, stack: BrowserStack) -> None:
    user, password = stack.operator
    page.goto("/")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)


def household_login(page: Page, stack: BrowserStack) -> None:
    member_no, pin, _card = stack.household
    page.goto("/household.html")
    page.get_by_label("Nomor anggota").fill(member_no)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#balance")).to_have_attribute("data-rp", re.compile(r"^-?\d+$"))


def collector_login(page: Page, stack: BrowserStack) -> None:
    user, password = stack.collector
    page.goto("/collector.html")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#stops")).to_be_visible()


@pytest.fixture
def pages(browser: Browser, console_errors: ConsoleErrors) -> Iterator[list[Page]]:
    """Pages opened by a test; closed after it, and no console error allowed."""
    opened: list[Page] = []
    yield opened
    for page in opened:
        page.context.close()
    assert console_errors.errors == []


def test_operator_sees_the_stack_live_and_works_a_full_bin(
    busy_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = busy_stack
    page = new_page(browser, console_errors, stack.base_url)
    pages.append(page)
    page.goto("/")
    expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    screenshot(page, "login-desktop")
    operator_login(page, stack)
    with stack.api() as api:
        bins = api.get("/api/v1/bins").json()
    below = {
        b["bin_id"]: b["threshold_pct"]
        for b in bins
        if b["fill_pct"] is None or b["fill_pct"] < b["threshold_pct"]
    }
    assert below, "every bin was already full before the page opened"

    # a weigh-in from a simulated station appears in the live feed without a reload
    first = page.locator("#feed tbody tr").first
    shown = first.get_attribute("data-weighin") if first.count() else None
    page.wait_for_function(
        "(before) => { const r = document.querySelector('#feed tbody tr');"
        " return r && r.dataset.weighin !== before; }",
        arg=shown or "",
        timeout=LIVE_TIMEOUT_MS,
    )
    weighin_id = first.get_attribute("data-weighin")
    row = page.locator(f"#feed tbody tr[data-weighin='{weighin_id}']")  # more may follow
    with stack.api() as api:
        w = api.get(f"/api/v1/weighins/{weighin_id}").json()
    expect(row).to_contain_text(kg(w["net_g"]))
    expect(row).to_contain_text(rupiah(w["amount_rp"]))
    expect(row).to_contain_text(w["device_id"])
    expect(row).to_have_class(re.compile("flash"))

    # a bin that was below its threshold crosses it: level, alert and pickup arrive live
    crossed = page.wait_for_function(
        "(below) => { for (const li of document.querySelectorAll('#bin-list li[data-bin]')) {"
        " const t = below[li.dataset.bin]; const f = li.dataset.fill;"
        " if (t !== undefined && f !== '' && Number(f) >= t) return li.dataset.bin; }"
        " return false; }",
        arg=below,
        timeout=LIVE_TIMEOUT_MS * 2,
    ).json_value()
    alert = page.locator(f"#alerts li[data-kind='bin_full'][data-subject='{crossed}']")
    expect(alert).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "overview-desktop")
    alert.get_by_role("button", name=re.compile("Tandai dibaca")).click()
    expect(alert).to_have_class(re.compile("acked"))

    page.get_by_role("link", name="Penjemputan").click()
    card_open = page.locator(f"#pickups-open article[data-bin='{crossed}']")
    expect(card_open).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    pickup_id = card_open.get_attribute("data-pickup")
    card_open.get_by_label("Petugas").select_option(label=stack.collector_name)
    card_open.get_by_role("button", name="Tugaskan").click()
    assigned = page.locator(f"#pickups-assigned article[data-pickup='{pickup_id}']")
    expect(assigned).to_contain_text(stack.collector_name)
    screenshot(page, "pickups-desktop")
    assigned.get_by_label("Berat terkumpul (kg)").fill("12,5")
    assigned.get_by_role("button", name="Selesai").click()
    expect(page.locator(f"#pickups-done article[data-pickup='{pickup_id}']")).to_contain_text(
        "12,5 kg"
    )

    # charts and the household lookup render (and get their screenshots)
    page.get_by_role("link", name="Grafik").click()
    page.get_by_label("Tong", exact=True).select_option(value=crossed)
    page.get_by_label("Periode").first.select_option(label="1 jam")  # the demo runs fast
    expect(page.locator("#chart-fill svg path.series")).to_be_attached(timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#chart-kg svg rect").first).to_be_attached(timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "charts-desktop")
    with page.expect_response(lambda r: "/telemetry/bins/" in r.url) as answer:
        page.get_by_label("Periode").first.select_option(label="90 hari")
    hourly = [datetime.fromisoformat(p["at"]) for p in answer.value.json()]
    assert hourly, "90 days of a bin that reported"
    assert all(t.minute == t.second == t.microsecond == 0 for t in hourly), hourly  # means
    expect(page.locator("#chart-fill svg path.series")).to_be_attached()
    page.get_by_role("link", name="Nasabah").click()
    page.get_by_label("Nomor anggota atau nama").fill("BMS")
    page.get_by_role("button", name="Cari").click()
    page.locator("#hh-results button").first.click()
    expect(page.locator("#hh-balance")).to_have_text(re.compile(r"^Rp \d"))
    screenshot(page, "households-desktop")

    # the same dashboard on a phone, switched to English
    phone = new_page(browser, console_errors, stack.base_url, phone=True)
    pages.append(phone)
    operator_login(phone, stack)
    phone.get_by_role("button", name="English").click()
    expect(phone.locator("#h-feed")).to_have_text("Live weigh-ins")
    expect(phone.locator("#live")).to_have_text("Live")
    screenshot(phone, "overview-phone")


def test_household_pickup_at_the_door_and_the_balance_grows(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    operator = new_page(browser, console_errors, stack.base_url)
    home = new_page(browser, console_errors, stack.base_url, phone=True)
    col = new_page(browser, console_errors, stack.base_url, phone=True)
    pages.extend([operator, home, col])
    operator_login(operator, stack)
    operator.get_by_role("link", name="Penjemputan").click()

    home.goto("/household.html")
    screenshot(home, "household-login-phone")
    household_login(home, stack)
    balance = home.locator("#balance")
    before = int(balance.get_attribute("data-rp") or "0")
    # the window is written the app's way (day first, 24-hour), not the browser's
    expect(home.locator("#request-day")).to_have_value(re.compile(r"^\d{2}/\d{2}/\d{4}$"))
    expect(home.locator("#request-from")).to_have_value(re.compile(r"^\d{2}:\d{2}$"))
    home.get_by_label("Plastik PET (botol)").check()
    home.get_by_label("Catatan untuk petugas (opsional)").fill("2 karung, rumah cat hijau")
    home.get_by_role("button", name="Kirim permintaan").click()
    mine = home.locator("#my-pickups li:is([data-status='open'], [data-status='assigned'])").first
    expect(mine).to_be_visible()
    pickup_id = mine.get_attribute("data-pickup")

    # the route plans itself: the household is told who comes and when
    coming = home.locator(f"#my-pickups li[data-pickup='{pickup_id}'] .coming")
    expect(coming).to_contain_text(stack.collector_name, timeout=LIVE_TIMEOUT_MS)
    screenshot(home, "household-phone")
    # the operator sees it assigned on the board and on the collector's route
    assigned = operator.locator(f"#pickups-assigned article[data-pickup='{pickup_id}']")
    expect(assigned).to_contain_text("2 karung", timeout=LIVE_TIMEOUT_MS)
    expect(assigned).to_contain_text(stack.collector_name)
    operator.get_by_role("button", name="Rencanakan ulang").click()
    expect(operator.locator(f"#routes-list li[data-pickup='{pickup_id}']")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )

    # the collector finds it on the phone's route and weighs at the door
    collector_login(col, stack)
    stop = col.locator(f"#stops li[data-pickup='{pickup_id}']")
    expect(stop).to_contain_text("2 karung")
    screenshot(col, "collector-phone")
    with stack.api() as api:
        prices = {c["code"]: c["rp_per_kg"] for c in api.get("/api/v1/categories").json()}
    amount = amount_for(2500, prices["plastic-pet"])
    stop.get_by_role("button", name="Timbang").click()
    stop.locator("select.cat").first.select_option("plastic-pet")
    stop.locator("input.kg").first.fill("2,5")
    stop.get_by_role("button", name="Simpan & selesai").click()
    credit = col.locator(f"#done li[data-pickup='{pickup_id}'] .credit")
    expect(credit).to_have_text(f"{rupiah(amount)} masuk ke tabungan Anda", timeout=LIVE_TIMEOUT_MS)
    screenshot(col, "collector-done-phone")

    # the household sees the request done and the balance grown by the doorstep weigh-in
    home.get_by_role("button", name="Muat ulang").click()
    expect(balance).to_have_attribute("data-rp", str(before + amount))
    expect(balance).to_have_text(rupiah(before + amount))
    expect(home.locator(f"#my-pickups li[data-pickup='{pickup_id}']")).to_have_attribute(
        "data-status", "done"
    )
    screenshot(home, "household-after-phone")

    # back at the waste bank the counter weighs the box into stock: 2.4 kg at the depot
    # (2.5 at the door), and the doorstep weigh-in is delivered with it
    route = operator.locator("#routes-list section.route").filter(has_text=stack.collector_name)
    route.locator("details.depot summary").click()
    expect(route.locator("[data-float]")).to_contain_text("Rp 0")
    route.get_by_label("Plastik PET (botol) (kg)").fill("2,4")
    route.get_by_label("Uang dihitung (Rp)").fill("0")
    route.get_by_role("button", name="Catat kedatangan").click()
    delivered = operator.locator(".toast", has_text="muatan masuk stok dengan 1 timbangan")
    expect(delivered).to_be_visible()
    operator.get_by_role("button", name="Rencanakan ulang").click()  # the routes re-render
    expect(operator.locator("#routes-summary")).to_contain_text("manual")
    expect(route.locator("details.depot")).to_have_attribute("open", "")  # still open
    operator.evaluate("window.scrollTo(0, 0)")
    screenshot(operator, "routes-depot-desktop")
    with stack.api() as api:
        door = api.get("/api/v1/stock/movements", params={"kind": "doorstep"}).json()
    assert [(m["category_code"], m["qty_g"]) for m in door][:1] == [("plastic-pet", 2_400)]


def test_operator_approves_and_pays_out_a_household(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    member_no, _pin, card = stack.household
    page = new_page(browser, console_errors, stack.base_url)
    pages.append(page)
    operator_login(page, stack)
    with stack.api() as api:
        hh = api.get("/api/v1/households", params={"q": member_no}).json()["items"][0]
        before = api.get(f"/api/v1/households/{hh['id']}/balance").json()["balance_rp"]
    weighed = stack.weigh(card_id=card, category="paper", net_g=4000)
    row = page.locator(f"#feed tbody tr[data-weighin='{weighed['id']}']")
    expect(row).to_contain_text(member_no, timeout=LIVE_TIMEOUT_MS)
    after = before + weighed["amount_rp"]

    page.get_by_role("link", name="Nasabah").click()
    page.get_by_label("Nomor anggota atau nama").fill(member_no)
    page.get_by_role("button", name="Cari").click()
    page.locator("#hh-results button").first.click()
    expect(page.locator("#hh-balance")).to_have_text(rupiah(after))

    page.get_by_label("Jumlah (Rp)").fill("5.000")
    page.get_by_role("button", name="Ajukan penarikan").click()
    detail = page.locator("#hh-detail")
    requested = detail.locator("li[data-payout][data-status='requested']")
    expect(requested).to_contain_text("Rp 5.000")
    expect(page.locator("#pending-payouts li[data-payout]")).to_have_count(1)
    screenshot(page, "payouts-desktop")
    requested.get_by_role("button", name="Setujui").click()
    approved = detail.locator("li[data-payout][data-status='approved']")
    approved.get_by_role("button", name="Bayarkan").click()
    expect(detail.locator("li[data-payout][data-status='paid']")).to_contain_text("Rp 5.000")
    expect(page.locator("#hh-balance")).to_have_text(rupiah(after - 5000))
    expect(detail.locator("table tbody tr").first).to_contain_text("Penarikan tunai")
    expect(page.locator("#pending-payouts li[data-payout]")).to_have_count(0)

    # a payout the household no longer wants is rejected with a reason; nothing moves
    page.get_by_label("Jumlah (Rp)").fill("1000")
    page.get_by_role("button", name="Ajukan penarikan").click()
    page.once("dialog", lambda dialog: dialog.accept("nasabah membatalkan"))
    requested.get_by_role("button", name="Tolak").click()
    expect(detail.locator("li[data-payout][data-status='rejected']")).to_contain_text("Rp 1.000")
    expect(page.locator("#hh-balance")).to_have_text(rupiah(after - 5000))

    # the period's payouts as CSV, for the waste bank's books
    page.get_by_role("link", name="Grafik").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Unduh penarikan").click()
    assert download.value.suggested_filename.endswith(".csv")
    with download.value.path().open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # this household's (the stack is shared: other tests pay out other households)
    assert sorted((r["amount_rp"], r["status"]) for r in rows if r["member_no"] == member_no) == [
        ("1000", "rejected"),
        ("5000", "paid"),
    ]


def test_live_stream_reconnects_and_catches_up(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    # the browser logs the cut stream and the refused reconnects; nothing else may fail
    console_errors.allow("net::ERR_INCOMPLETE_CHUNKED_ENCODING")
    console_errors.allow("net::ERR_CONNECTION_REFUSED")
    member_no, _pin, card = stack.household
    page = new_page(browser, console_errors, stack.base_url)
    pages.append(page)
    operator_login(page, stack)
    pill = page.locator("#live")

    stack.stop_api()
    try:
        # the page asks for a new stream ticket with backoff: "connecting" while it asks,
        # "error" between the refused attempts (mostly the latter: a refusal is instant)
        expect(pill).to_have_attribute(
            "data-state", re.compile("^(connecting|error)$"), timeout=LIVE_TIMEOUT_MS
        )
    finally:  # the stack is shared: never leave it without its API
        stack.start_api()
    expect(pill).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)
    weighed = stack.weigh(card_id=card, category="plastic-pet", net_g=780)
    row = page.locator(f"#feed tbody tr[data-weighin='{weighed['id']}']")
    expect(row).to_contain_text(member_no, timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text(kg(weighed["net_g"]))


def test_pages_pass_the_basic_accessibility_audit(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    page = new_page(browser, console_errors, stack.base_url)
    phone = new_page(browser, console_errors, stack.base_url, phone=True)
    pages.extend([page, phone])
    page.goto("/")
    expect(page.get_by_label("Nama pengguna")).to_be_focused()  # the login starts at the field
    assert audit(page) == []
    operator_login(page, stack)
    for view in ("Ringkasan", "Penjemputan", "Grafik", "Nasabah"):
        page.get_by_role("link", name=view).click()
        expect(page.get_by_role("link", name=view)).to_have_attribute("aria-current", "page")
        assert audit(page) == [], view
    page.reload()  # logged in still (the token is in sessionStorage)
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()

    household_login(phone, stack)
    assert audit(phone) == []
    phone.get_by_role("button", name="Keluar").click()
    collector_login(phone, stack)
    assert audit(phone) == []


def test_a_weighin_with_an_unknown_card_shows_as_unassigned(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    page = new_page(browser, console_errors, stack.base_url)
    pages.append(page)
    operator_login(page, stack)
    weighed = stack.weigh(card_id="0AFFFFFFFF", category="organic", net_g=1200)
    assert weighed["status"] == "unassigned"
    row = page.locator(f"#feed tbody tr[data-weighin='{weighed['id']}']")
    expect(row).to_contain_text("kartu tak dikenal", timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text(kg(weighed["net_g"]))
    expect(row).to_contain_text(rupiah(weighed["amount_rp"]))

    # the operator resolves it: credited to the household it belongs to, at its price
    member_no, _pin, _card = stack.household
    with stack.api() as api:
        hh = api.get("/api/v1/households", params={"q": member_no}).json()["items"][0]
        before = api.get(f"/api/v1/households/{hh['id']}/balance").json()["balance_rp"]
    row.get_by_role("button", name="Tetapkan").click()
    row.get_by_label("Nomor anggota penerima").fill(member_no)
    row.get_by_role("button", name="Tetapkan").click()
    expect(row).to_have_attribute("data-status", "credited")
    expect(row).to_contain_text(member_no)
    with stack.api() as api:
        after = api.get(f"/api/v1/households/{hh['id']}/balance").json()["balance_rp"]
    assert after == before + weighed["amount_rp"]


def test_refused_messages_are_shown_and_acknowledged(
    quiet_stack: BrowserStack, browser: Browser, console_errors: ConsoleErrors, pages: list[Page]
) -> None:
    stack = quiet_stack
    page = new_page(browser, console_errors, stack.base_url)
    pages.append(page)
    operator_login(page, stack)
    stack.publish_as_device(stack.stations[0], "weighin", b"{this is not json")
    item = page.locator("#alerts li[data-kind='dead_letter']")
    expect(item).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    item.locator("summary").click()
    expect(item.locator("li[data-dead-letter]").first).to_contain_text(stack.stations[0])
    item.get_by_role("button", name=re.compile("Tandai dibaca")).click()
    expect(item).to_have_count(0)
    page.reload()  # acknowledged stays acknowledged
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#alerts li[data-kind='dead_letter']")).to_have_count(0)
