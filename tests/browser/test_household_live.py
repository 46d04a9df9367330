"""The household page follows the live stream: its own events re-read the balance, other
households' events do not, and it says when it last updated.

The page runs from the static files against a stand-in API (Playwright routes): the
stream's events are exactly the ones this test sends, whatever the API's stream does
for households (the API sends a household only its own; the page checks again).

mutant: the household page reloads on every weigh-in event (no ownership check) -> test_other fails
mutant: the household page ignores its own weigh-in events -> test_own fails
mutant: no "updated ... ago" line -> test_own fails
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import ConsoleErrors, new_page

pytestmark = pytest.mark.browser

ME = 7


class StandIn:
    """The API routes the household page calls, answering from memory."""

    def __init__(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.events = events
        self.balance_reads = 0
        self.streams = 0
        self.waiting: list[Route] = []  # later streams, never answered

    def __call__(self, route: Route) -> None:
        url = route.request.url
        path = url.split("/api/v1", 1)[1].split("?", 1)[0]
        if path == "/stream":
            # one burst of events, then the stream ends; the page reconnects (after 1 s)
            # and that stream stays open with nothing new: left unanswered, it never opens,
            # so it reads no balance however slow the machine is
            self.streams += 1
            if self.streams > 1:
                self.waiting.append(route)
                return
            body = "retry: 600000\n\n" + "".join(
                f"id: {i}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
                for i, (kind, data) in enumerate(self.events, 1)
            )
            route.fulfill(status=200, body=body, headers={"Content-Type": "text/event-stream"})
            return
        answer: Any
        if path == "/auth/household-login":
            answer = {
                "access_token": "t",
                "role": "household",
                "subject_id": ME,
                "name": "Siti",
                "expires_at": "2999-01-01T00:00:00Z",
            }
        elif path == f"/households/{ME}":
            answer = {"id": ME, "member_no": "BMS-0007", "name": "Siti Aminah"}
        elif path == f"/households/{ME}/balance":
            self.balance_reads += 1
            rp = 1000 * self.balance_reads
            answer = {"household_id": ME, "balance_rp": rp, "available_rp": rp, "held_rp": 0}
        elif path == f"/households/{ME}/statement":
            answer = {"lines": []}
        elif path == f"/households/{ME}/receivable":
            answer = {"household_id": ME, "owed_rp": 0, "reversals": []}
        elif path in (f"/households/{ME}/pickups", "/categories"):
            answer = []
        elif path == f"/households/{ME}/inbox":
            answer = {"unread": 0, "items": []}
        elif path == "/auth/stream-ticket":  # the stream opens with a single-use ticket
            answer = {"ticket": "tk", "expires_at": "2999-01-01T00:00:00Z"}
        elif path == "/ui-config":
            answer = {
                "timezone": "Asia/Jakarta",
                "min_pickup_g": 2000,
                "map": {
                    "tiles_url": None,
                    "attribution": "",
                    "max_zoom": 18,
                    "center": [-7.45, 109.29],
                    "zoom": 13,
                },
            }
        else:
            route.fulfill(status=404, json={"title": "not here"})
            return
        route.fulfill(status=200, json=answer)


@pytest.fixture
def page(browser: Browser, static_server: str, console_errors: ConsoleErrors) -> Iterator[Page]:
    p = new_page(browser, console_errors, static_server, phone=True)
    yield p
    p.context.close()
    assert console_errors.errors == []


def open_home(page: Page, api: StandIn) -> None:
    page.route("**/api/v1/**", api)
    page.goto("/household.html")
    page.get_by_label("Nomor anggota").fill("BMS-0007")
    page.get_by_label("PIN").fill("1234")
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#hello")).to_contain_text("Siti Aminah")


def weighin(household_id: int) -> dict[str, Any]:
    return {
        "id": 1,
        "household_id": household_id,
        "net_g": 1000,
        "amount_rp": 500,
        "status": "credited",
        "category_code": "organic",
    }


def test_own(page: Page) -> None:
    """Read at login, once more when the stream opens, once more for the own credit."""
    api = StandIn([("weighin", weighin(ME))])
    open_home(page, api)
    expect(page.locator("#balance")).to_have_attribute("data-rp", "3000")
    page.wait_for_timeout(500)
    assert api.balance_reads == 3
    expect(page.locator("#updated")).to_have_text(re.compile(r"^Diperbarui (sekarang|\d+ detik)"))


def test_other(page: Page) -> None:
    """Another household's credit (and a pickup of nobody's) reads nothing more."""
    api = StandIn([("weighin", weighin(ME + 1)), ("pickup", {"id": 3, "household_id": None})])
    open_home(page, api)
    expect(page.locator("#balance")).to_have_attribute("data-rp", "2000")
    page.wait_for_timeout(800)
    assert api.balance_reads == 2
