"""``salinmas fraud scan`` and ``salinmas report monthly`` on a small ledger.

mutant: fraud_scan without commit_retrying's commit -> the second run raises the case again
mutant: apply_hits without the "covers the day" check -> the second run reports a new case
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cloud import crediting
from cloud.db import make_engine, migrate, session_factory
from cloud.devices import register_device
from stack.cli import main
from tests.cloud.conftest import seed_programme
from tests.cloud.factories import T0, weighin

pytestmark = pytest.mark.integration


def test_fraud_scan_is_idempotent_and_the_report_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        seed_programme(s)
        register_device(s, device_id="st-bank02", kind="station", site="bank02")
        for seq, device, minutes in ((1, "st-bank01", 0), (2, "st-bank02", 7)):
            ev = weighin(device_id=device, seq=seq, device_time=T0 + timedelta(minutes=minutes))
            crediting.credit_weighin(s, event=ev, received_at=ev.device_time)
        s.commit()
    engine.dispose()
    scan = ["fraud", "scan", "--url", url, "--last", "2026-11-30", "--days", "35"]
    assert main(scan) == 0
    assert "1 new cases {'card_two_stations': 1}" in capsys.readouterr().out
    assert main(scan) == 0
    assert "0 new cases {}, 0 extended, 1 known" in capsys.readouterr().out
    out = tmp_path / "report.html"
    assert main(["report", "monthly", "--url", url, "--month", "2026-11", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Laporan Bulanan Program Bank Sampah" in html
    assert "card_two_stations" in html
    assert "2,5 kg" in html  # 2 x 1.25 kg of PET credited
