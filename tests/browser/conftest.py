"""Fixtures for the browser tests: headless Debian Chromium driven by Playwright.

Playwright's own browser download cannot work on a site without internet, so the
browser is the system's ``/usr/bin/chromium`` (override with ``SALINMAS_CHROMIUM``).
Screenshots go to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.browser.stack import BrowserStack, browser_stack

REPO = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO / "cloud" / "api" / "static"
SCREENSHOTS = REPO / "artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = os.environ.get("SALINMAS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: install Debian's chromium package")
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


#: reports every Content-Security-Policy violation of a page as a console error
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""
#: how Chromium's own messages and :data:`CSP_WATCH`'s name a CSP violation
CSP_MARKERS = ("Content Security Policy", "CSP violation:")


class ConsoleErrors:
    """Collects console errors, uncaught exceptions and CSP violations of the pages it watches.

    A CSP violation (the API's policy refused a script, style, image, connection, ...)
    is an error :meth:`allow` cannot excuse: only :meth:`allow_blocked` names one
    resource the policy is meant to refuse.
    """

    def __init__(self) -> None:
        self._errors: list[str] = []
        self._allowed: list[str] = []
        self._blocked: list[str] = []

    def allow(self, fragment: str) -> None:
        """Expect browser messages containing ``fragment`` (e.g. a network error a test causes)."""
        self._allowed.append(fragment)

    def allow_blocked(self, url: str) -> None:
        """Expect the page's CSP to refuse ``url`` (something that must not load)."""
        self._blocked.append(url)

    @property
    def errors(self) -> list[str]:
        def excused(e: str) -> bool:
            if any(m in e for m in CSP_MARKERS):
                return any(b in e for b in self._blocked)
            return any(a in e for a in self._allowed)

        return [e for e in self._errors if not excused(e)]

    def watch(self, page: Page) -> Page:
        page.add_init_script(CSP_WATCH)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self._errors.append(f"pageerror: {exc}"))
        return page

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            self._errors.append(f"console: {msg.text}" + (f" @ {where}" if where else ""))


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


def new_page(
    browser: Browser, errors: ConsoleErrors, base_url: str, *, phone: bool = False
) -> Page:
    """A fresh context (own sessionStorage) with a desktop or phone viewport."""
    if phone:
        ctx = browser.new_context(
            base_url=base_url,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="id-ID",
            timezone_id="Asia/Jakarta",
        )
    else:
        ctx = browser.new_context(
            base_url=base_url, viewport=DESKTOP, locale="id-ID", timezone_id="Asia/Jakarta"
        )
    return errors.watch(ctx.new_page())


def staff_login(page: Page, user: str, password: str, *, timeout_ms: float = 20_000) -> None:
    """Sign in on the operator page (``/``) and wait until it shows."""
    page.goto("/")
    page.get_by_label("Nama pengguna").fill(user)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#main")).to_be_visible(timeout=timeout_ms)


@contextlib.contextmanager
def signed_in(
    browser: Browser, errors: ConsoleErrors, base_url: str, user: str, password: str
) -> Iterator[Page]:
    """A staff page signed in on the operator page; closed after, with no console error."""
    page = new_page(browser, errors, base_url)
    staff_login(page, user, password)
    yield page
    page.context.close()
    assert errors.errors == []  # (a 403 or a 5xx shows there: a read refused, a crash)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # transient toasts would cover what the screenshot is for
    page.screenshot(path=str(path), full_page=True, style=".toast-region { display: none; }")
    return path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def static_server() -> Iterator[str]:
    """The dashboard's files alone (no API), for tests of the pure front-end code."""
    handler = functools.partial(_QuietHandler, directory=str(STATIC_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    """One running stack for the session's browser tests that do their own weighing.

    No household arrives on its own (the tests weigh); bins fill on their daily pattern.
    Started once: starting the stack is most of a browser test's time.
    """
    with browser_stack(tmp_path_factory.mktemp("demo"), visit_every_s=1e6) as stack:
        yield stack
