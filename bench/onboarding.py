"""Onboarding benchmark: a 7,000-row household list with 12 planted bad rows.

Prints the dry run's time and what it found (the 12 planted lines, nothing else), then
the import of the fixed file in one transaction (households, ledger accounts, card links,
one audit row) and its time. SQLite by default; ``--url`` for PostgreSQL.

    .venv/bin/python -m bench.onboarding [--rows 7000] [--url postgresql+psycopg://...]

Figures depend on the machine's load: the script prints the load average with them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.common import machine
from cloud import households
from cloud.db import make_engine, migrate, session_factory
from cloud.models import Household
from cloud.onboarding import check, import_households
from tests.support.household_lists import household_list

SITE = "bank01"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=7000)
    ap.add_argument("--url", help="ledger database (default: a fresh SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-onboarding-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                hh = households.register_household(
                    s, member_no="M-0001", name="Ibu Sari", site=SITE
                )
                households.link_card(s, card_id="CARD-1", household_id=hh.id, by="bench")
                s.commit()
            bad, planted = household_list(args.rows, site=SITE, taken_card="CARD-1")
            clean, _ = household_list(args.rows, site=SITE, taken_card="CARD-1", planted=False)
            with session_factory(engine)() as s:
                t0 = time.perf_counter()
                report = check(s, bad, "warga.csv")
                dry_s = time.perf_counter() - t0
                s.rollback()
            with session_factory(engine)() as s:
                t0 = time.perf_counter()
                done = import_households(s, clean, "warga.csv", by="user:bench")
                s.commit()
                import_s = time.perf_counter() - t0
                total = s.scalar(select(func.count()).select_from(Household))
        finally:
            engine.dispose()
    found = report.bad_lines
    print(f"database          {url.split(':')[0]}")
    print(f"rows              {args.rows} ({len(bad) / 1e6:.2f} MB CSV)")
    verdict = "exactly the planted ones" if found == planted else f"EXPECTED {planted}"
    print(f"dry run           {dry_s:.2f} s: {len(found)} bad rows ({verdict})")
    print(
        f"import (fixed)    {import_s:.2f} s: {done.households} households, {done.cards} "
        f"cards, one transaction ({total} households in the ledger)"
    )
    print(
        f"load average      {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores (a loaded machine makes these figures noisy)"
    )
    m = machine()
    print(f"machine           {m['cpu']}, {m['cores']} cores, {m['ram']}, Python {m['python']}")
    return 0 if found == planted and done.households == args.rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
