"""Every CSV the API sends is written here: :func:`csv_response`, cells made safe.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to a spreadsheet (``=HYPERLINK(...)`` in a household's name would run when an
operator opens the report): :func:`safe_cell` puts a ``'`` before it, which spreadsheets
show as text. Numbers stay numbers (a negative amount is still ``-5000``). Routes hand
rows to :func:`csv_response` and never write CSV themselves, so none can forget it.

The bank transfer file (:mod:`cloud.disbursement.bank_file`) is not written here: it is
the bank's format, read by the bank's system, where a ``'`` would become part of a
beneficiary's name. It keeps its own allow-list of characters instead (no ``=``,
``+``, ``@``, tab or CR can appear, and no field starts with ``-``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

#: what a spreadsheet takes for the start of a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: the OpenAPI ``responses`` entry of a CSV route
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8, header row first"}
}


def safe_cell(cell: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (text only; numbers pass)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_response(
    header: list[str], rows: Iterable[Iterable[object]], name: str
) -> StreamingResponse:
    """The rows as a CSV download called ``name``, written as they come (64 kB chunks)."""

    def gen() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([safe_cell(h) for h in header])
        for r in rows:
            w.writerow([safe_cell(c) for c in r])
            if buf.tell() > 64_000:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(
        gen(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
