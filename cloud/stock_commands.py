"""The command-line side of stock and fraud: ``salinmas fraud scan`` and
``salinmas report monthly`` (what :mod:`stack.cli` calls).

The scan is a command run by a timer (systemd, cron), not a loop inside the ingest
workers: those scale out and answer devices within milliseconds, while a scan reads a
month of weigh-ins at once; and since a scan is idempotent (a re-run raises no
duplicate case, and two scans at once cannot both open one), running it hourly, after
a restore, or by hand is always safe.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cloud.db import commit_retrying, make_engine, migrate, session_factory
from cloud.fraud.cases import DEFAULT_SCAN_DAYS, ScanResult, scan
from cloud.programme_report import monthly_report
from cloud.report_html import render


def fraud_scan(
    *, url: str, days: int = DEFAULT_SCAN_DAYS, last: date | None = None, tz: str = "Asia/Jakarta"
) -> ScanResult:
    """Scan the ``days`` local days up to ``last`` (default today); commits."""
    zone = ZoneInfo(tz)
    last = last or datetime.now(zone).date()
    first = last - timedelta(days=max(days, 1) - 1)
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return commit_retrying(s, lambda: scan(s, first=first, last=last, tz=zone))
    finally:
        engine.dispose()


def monthly_html(
    *,
    url: str,
    month: date,
    out: Path,
    lang: str = "id",
    site: str | None = None,
    tz: str = "Asia/Jakarta",
) -> Path:
    """Write the monthly programme report of ``month`` (one site's, or all) to ``out``."""
    from sqlalchemy import select

    from cloud.errors import NotFound
    from cloud.models import Site

    engine = make_engine(url, write=False)
    try:
        with session_factory(engine)() as s:
            site_id = None
            if site is not None:
                site_id = s.scalar(select(Site.id).where(Site.code == site))
                if site_id is None:
                    raise NotFound(f"unknown site {site!r}")
            rep = monthly_report(s, month=month, tz=ZoneInfo(tz), site_id=site_id)
            out.write_text(render(rep, lang), encoding="utf-8")
    finally:
        engine.dispose()
    return out
