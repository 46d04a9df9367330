"""A simulated month (smaller than bench/month.py's): stock, ledger and fraud rules.

Three weeks (the fewest days station_jump judges: a 7-day window after a 14-day
baseline), 80 households, one station per site, run through the domain at accelerated
time (simulators/month.py); kept this small so each test takes seconds, not half a
minute (the full 600-household month with two stations per site is bench/month.py's).
With the three injected frauds each is raised as a case on its subject; the same month
clean raises no case at all (0 false cases over 80 household-months, 2 station-months,
2 collector-months here; bench/month.py states the rate over bigger months). Either
way stock equals credited in - sold - losses exactly for every category and the ledger
reconciles.

mutant: crediting without weighins_into_stock -> stock identity breaks (and sales refused)
mutant: sales.record_sale without its ledger entry -> the ledger does not reconcile
mutant: station_jump ratio 1.5 -> the inflating station is not raised
mutant: collector_gap reading depot kg from the door weigh-ins -> the skimmer is not raised
"""

from __future__ import annotations

import pytest

from simulators.month import FRAUDS, MonthConfig
from simulators.month_frauds import MonthRun, run_month

pytestmark = pytest.mark.integration


def _month(frauds: tuple[str, ...]) -> MonthRun:
    return run_month(
        MonthConfig(households=80, days=21, stations_per_site=1, seed=1, frauds=frauds)
    )


def _books_balance(run: MonthRun) -> None:
    checks = run.checks
    for cat, c in checks["stock"].items():
        assert c["equal"], (cat, c)
        assert c["stock_g"] == c["station_in_g"] + c["doorstep_in_g"] - c["sold_g"] - c["lost_g"]
    ledger = checks["ledger"]
    assert ledger["unbalanced_entries"] == 0
    assert ledger["postings_total"] == 0
    assert ledger["reconciles"], ledger


def test_a_month_with_frauds_raises_each_one() -> None:
    run = _month(FRAUDS)
    assert run.detected == {
        "card_clone": True,
        "inflating_station": True,
        "skimming_collector": True,
    }
    assert run.false_cases == []
    _books_balance(run)
    assert run.result.sales > 0
    assert run.result.deliveries > 0
    flags = {(site, flag) for site, _, fl in run.flagged_balances for flag in fl}
    # the inflated kilos never existed: the counts find them missing at bank01; the
    # skimmed kilos never reached bank02's depot
    assert flags == {("bank01", "loss_over_allowance"), ("bank02", "doorstep_gap")}


def test_the_same_month_clean_raises_nothing() -> None:
    run = _month(())
    assert run.false_cases == []
    assert run.flagged_balances == []
    _books_balance(run)
