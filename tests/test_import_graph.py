"""The floors hold: no package imports one above it (scripts/import_graph.py), and the
domain is cheap to import (no InfluxDB client, no telemetry backend).

mutant: a domain module importing cloud.api (or cloud.ingest) -> test_only_the_known_...
mutant: cloud/telemetry/__init__ importing its InfluxDB backend eagerly again ->
        test_the_domain_imports_no_telemetry_backend
mutant: violations() ignoring FORBIDDEN -> test_the_checker_sees_an_upward_import
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_only_the_known_violations_remain() -> None:
    ig = _script()
    bad = ig.violations(ig.graph())
    assert set(bad) == set(ig.KNOWN), bad


def test_the_checker_sees_an_upward_import() -> None:
    ig = _script()
    e = ig.Edge("cloud.pricing", "cloud.api.app", "cloud/pricing.py:1")
    assert set(ig.violations({("cloud", "cloud.api"): [e]})) == {("cloud", "cloud.api")}
    side = ig.Edge("edge.agent", "cloud.telemetry", "edge/agent.py:1")
    assert set(ig.violations({("edge", "cloud.telemetry"): [side]})) == {
        ("edge", "cloud.telemetry")
    }
    down = ig.Edge("cloud.api.app", "cloud.pricing", "cloud/api/app.py:1")
    assert ig.violations({("cloud.api", "cloud"): [down]}) == {}


def test_the_domain_imports_no_telemetry_backend() -> None:
    code = (
        "import sys\n"
        "import cloud.crediting, cloud.corrections, cloud.postings, cloud.pricing\n"
        "import cloud.households, cloud.payouts, cloud.pickups, cloud.fill_policy\n"
        "import cloud.telemetry, cloud.ingest.processor\n"
        "print(sorted(m for m in sys.modules if m.startswith(('influxdb_client', 'httpx',"
        " 'cloud.telemetry.influx', 'cloud.telemetry.sqlite'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
