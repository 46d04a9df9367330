"""A household checks its receipt's verification code on the public page (no login).

A signed weigh-in goes through the ingest's Processor into a real ledger; the code on
its receipt — what the station prints on the ticket — opens the signed record in
headless Chromium: valid, its weight, price and amount, its frames, the station's
signature and the ledger agreeing. The same code with one character changed: not found.
(The household's own access to its records: tests/api/test_integrity_routes.py.)

mutant: the public record's signature_valid always True -> test_..._a_tampered_row
mutant: verification.find matches a prefix / ignores the digest -> altered code found
mutant: public_record shows the card id or member number -> test_the_page_shows_...
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import Processor
from contract.models import Receipt
from tests.api.support import serve, settings_for
from tests.browser.conftest import ConsoleErrors, new_page, screenshot
from tests.cloud.conftest import seed_programme
from tests.cloud.signing_support import SigningStation, message

pytestmark = pytest.mark.browser
ST = "st-verify01"


@pytest.fixture
def receipt(tmp_path: Path) -> tuple[str, Receipt]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        seed_programme(s, stations=(ST,))
        st = SigningStation(ST)
        st.approve(s)
        s.commit()
    out = Processor(session_factory(engine), None, enforce_integrity=True).process(
        [message(st.weighin(2_350))]
    )
    engine.dispose()
    return url, Receipt.model_validate_json(out.receipts[0][1])


def test_the_receipts_code_checks_out_and_an_altered_one_is_not_found(
    browser: Browser, console_errors: ConsoleErrors, receipt: tuple[str, Receipt], tmp_path: Path
) -> None:
    url, r = receipt
    assert r.verify_code is not None
    printed = f"{r.verify_code[:4]}-{r.verify_code[4:8]}-{r.verify_code[8:]}"  # as on the ticket
    with serve(settings_for(url, tmp_path)) as server:
        page = new_page(browser, console_errors, server.url, phone=True)
        page.goto(f"{server.url}/verify.html")
        page.fill("#code", printed.lower())  # typed as people type
        page.click("button[type=submit]")
        expect(page.locator("#verdict")).to_have_attribute("data-verdict", "valid")
        expect(page.locator("[data-field=net]")).to_contain_text("2,35")
        expect(page.locator("[data-field=amount]")).to_contain_text("7.050")  # 2.35 kg x 3.000
        expect(page.locator("[data-field=signature]")).to_contain_text("valid")
        expect(page.locator("[data-field=ledger]")).to_contain_text("matches")
        expect(page.locator("[data-field=chain_pos]")).to_have_text("1")
        expect(page.locator("#frames li")).to_have_count(3)
        body = page.inner_text("body")
        for personal in ("CARD-1", "M-0001", "Ibu Sari"):
            assert personal not in body
        screenshot(page, "verify-valid")
        altered = printed[:-1] + ("A" if printed[-1] != "A" else "B")
        console_errors.allow("404")
        page.goto(f"{server.url}/verify.html#{altered}")
        page.reload()
        expect(page.locator("#verify-error")).to_have_attribute("data-state", "not-found")
        expect(page.locator("#result")).to_be_hidden()
        # the same weigh-in, its row edited in the database afterwards: no longer valid
        eng = make_engine(url)
        with eng.begin() as conn:
            conn.execute(text("UPDATE weighins SET net_g = 23500"))
        eng.dispose()
        page.goto(f"{server.url}/verify.html#{printed}")
        page.reload()
        expect(page.locator("[data-field=signature]")).to_contain_text("INVALID")
        expect(page.locator("#verdict")).to_have_attribute("data-verdict", "attention")
    assert console_errors.errors == []
