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
from sqlalchemy import select

from cloud.db import make_engine, session_factory
from cloud.models.notifications import NotificationAttempt, NotificationDelivery
from cloud.notifications import Outgoing, enqueue_many
from cloud.notifications.channels.base import Outcome
from cloud.notifications.preferences import ChannelSpec, register_channels
from cloud.notifications.queue import Policy, apply_outcome
from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.browser.stack import BrowserStack
from tests.support.waiting import wait_until

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
    wait_until(
        lambda: tickets.exists() and f"ID        {weighed['event_id']}" in tickets.read_text(),
        20,
        "the station's ticket",
    )


def test_operators_see_a_failed_notification_and_resend_it(
    browser: Browser, shared_stack: BrowserStack, console_errors: ConsoleErrors
) -> None:
    """The overview's notification card: counters per channel, a failed delivery with its
    reason, and a resend that the API records as the operator's.

    mutant: notifications-ops.js not loaded by index.html -> the card stays hidden.
    """
    engine = make_engine(shared_stack.demo.ledger_url)
    try:
        with session_factory(engine)() as s:
            register_channels(
                s, [ChannelSpec("ops-test", "apprise", operators=True, needs_address=False)]
            )
            (nid,) = enqueue_many(
                s,
                [
                    Outgoing(
                        "bin_full", "browser:bin_full", {"bin_id": "bin-demo-01", "fill_pct": 91}
                    )
                ],
            )
            # later notifications of the shared stack do not go to this channel
            register_channels(s, [ChannelSpec("ops-test", "apprise", enabled=False)])
            d = s.scalars(
                select(NotificationDelivery).where(
                    NotificationDelivery.notification_id == nid,
                    NotificationDelivery.channel == "ops-test",
                )
            ).one()
            s.add(NotificationAttempt(delivery_id=d.id, by="browser-test"))
            s.flush()
            apply_outcome(
                s,
                d,
                Outcome("dead", error="ops-test: gateway refused or unreachable"),
                policy=Policy(sender="browser-test"),
                now=d.created_at,
            )
            s.commit()
            delivery_id = d.id
    finally:
        engine.dispose()
    page = new_page(browser, console_errors, shared_stack.base_url)
    try:
        user, password = shared_stack.operator
        page.goto("/")
        page.get_by_label("Nama pengguna").fill(user)
        page.get_by_label("Kata sandi").fill(password)
        page.get_by_role("button", name="Masuk").click()
        card = page.locator("#notify-card")
        expect(card).to_be_visible()
        expect(card.locator("[data-channel=ops-test]")).to_contain_text("1 gagal")
        failed = card.locator(f"[data-delivery='{delivery_id}']")
        expect(failed).to_contain_text("gateway refused or unreachable")
        screenshot(page, "operator-notifications-desktop")
        failed.get_by_role("button", name="Kirim ulang").click()
        expect(failed).to_have_count(0)
    finally:
        page.context.close()
    with shared_stack.api() as api:
        attempts = api.get(f"/api/v1/notifications/{delivery_id}/attempts").json()
    assert attempts[-1]["outcome"] == "resend"
    assert attempts[-1]["by"] == f"user:{user}"
    assert console_errors.errors == []
