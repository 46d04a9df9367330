"""Run a simulated month with and without injected frauds; what the rules found.

:func:`run_month` simulates one month on a fresh ledger, scans it with every fraud
rule and reports: whether each injected fraud was raised as a case on its subject,
the cases raised on anything else (false positives), the stock and ledger checks of
:mod:`simulators.month_checks`, and the mass balance flags.

False-positive rates are stated per subject and month: household rules per 1,000
households, station rules per station, the collector rule per collector.

    .venv/bin/python -m simulators.month_frauds --url sqlite:///month.db [--clean]

keeps the simulated month in that (empty) ledger, to look at on the dashboard or in a
monthly report, and prints what the rules found and the checks as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import make_engine, migrate, session_factory
from cloud.fraud.cases import scan
from cloud.massbalance import mass_balance
from cloud.models.fraud import FraudCase
from simulators.month import FRAUDS, TZ, MonthConfig, MonthResult, simulate
from simulators.month_checks import reconcile

#: what each injected fraud must raise: (rule, subject kind)
EXPECTED = {
    "card_clone": ("card_two_stations", "card"),
    "inflating_station": ("station_jump", "station"),
    "skimming_collector": ("collector_gap", "collector"),
}
#: the subjects each rule judges, for false-positive rates
SUBJECTS = {
    "card_two_stations": "households",
    "outside_hours": "stations",
    "repeated_weights": "households",
    "household_outlier": "households",
    "station_jump": "stations",
    "unassigned_assigned": "households",
    "collector_gap": "collectors",
}


@dataclass
class MonthRun:
    cfg: MonthConfig
    result: MonthResult
    detected: dict[str, bool] = field(default_factory=dict)
    false_cases: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    flagged_balances: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def subjects(self) -> dict[str, int]:
        c = self.cfg
        return {
            "households": c.households,
            "stations": len(c.sites) * c.stations_per_site,
            "collectors": len(c.sites),
        }


def judge(session: Session, cfg: MonthConfig, result: MonthResult) -> MonthRun:
    """Scan the simulated month and sort the cases into detections and false ones."""
    last = cfg.first_day + timedelta(days=cfg.days - 1)
    scan(session, first=cfg.first_day, last=last, tz=TZ)
    session.commit()
    run = MonthRun(cfg, result)
    cases = list(session.scalars(select(FraudCase)))
    injected = result.injected
    for fraud, (rule, kind) in EXPECTED.items():
        if fraud in cfg.frauds:
            subject = injected.get(fraud, "")
            run.detected[fraud] = any(
                c.rule_code == rule and f"{kind}:{c.subject_key}" == subject for c in cases
            )
    for c in cases:
        hit = any(
            fraud in cfg.frauds
            and c.rule_code == EXPECTED[fraud][0]
            and f"{c.subject_kind}:{c.subject_key}" == injected.get(fraud)
            for fraud in EXPECTED
        )
        if not hit:
            run.false_cases.append(
                {
                    "rule": c.rule_code,
                    "subject": c.subject_key,
                    "days": f"{c.first_day}..{c.last_day}",
                    "summary": c.summary,
                }
            )
    run.checks = reconcile(session)
    start = datetime.combine(cfg.first_day, time(), TZ)
    for b in mass_balance(session, start=start, end=start + timedelta(days=cfg.days)):
        if b.flags:
            run.flagged_balances.append((b.site_code, b.category, b.flags))
    return run


def run_month(cfg: MonthConfig, url: str | None = None) -> MonthRun:
    """Simulate and judge one month on ``url`` (default: a temporary SQLite file)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'month.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                return judge(s, cfg, simulate(s, cfg))
        finally:
            engine.dispose()


def false_positive_rates(runs: list[MonthRun]) -> dict[str, dict[str, float]]:
    """Per rule: false cases, subjects judged, and cases per subject-month."""
    out: dict[str, dict[str, float]] = {}
    for rule, kind in SUBJECTS.items():
        cases = sum(1 for r in runs for c in r.false_cases if c["rule"] == rule)
        subjects = sum(r.subjects[kind] for r in runs)
        out[rule] = {
            "cases": cases,
            "subject_months": subjects,
            "rate": cases / subjects if subjects else 0.0,
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulators.month_frauds", description=__doc__)
    ap.add_argument("--url", required=True, help="an EMPTY ledger, e.g. sqlite:///month.db")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--households", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clean", action="store_true", help="inject no fraud")
    ns = ap.parse_args(argv)
    frauds = () if ns.clean else FRAUDS
    cfg = MonthConfig(days=ns.days, households=ns.households, seed=ns.seed, frauds=frauds)
    run = run_month(cfg, ns.url)
    out = {
        "result": asdict(run.result),
        "detected": run.detected,
        "false_cases": run.false_cases,
        "flagged_balances": run.flagged_balances,
        "checks": run.checks,
    }
    json.dump(out, sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
