"""The one command line: every subcommand has help a newcomer can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack.cli import SIMULATORS, build_parser, main


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["edge", "run"],
        ["ingest", "run"],
        ["ingest", "retire"],
        ["ingest", "rollup"],
        ["api", "run"],
        ["db", "migrate"],
        ["admin", "create-user"],
        ["contract", "schemas"],
    ],
)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: salinmas" in out
    assert len(out.splitlines()) > 3


@pytest.mark.parametrize("kind", sorted(SIMULATORS))
def test_every_simulator_has_help(kind: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "salinmas", "sim", kind, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout


def test_db_migrate_and_create_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first account is an administrator; a site role needs an existing site's code.

    mutant: create_user_cli ignoring --site -> the operator is refused (exit 2), fails.
    mutant: _run_create_user letting InvalidInput through -> a traceback instead of exit 2.
    """
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["-q", "db", "migrate", "--url", url]) == 0
    user = ["-q", "admin", "create-user", "--url", url, "--password", "a long passphrase"]
    assert main([*user, "--username", "kepala"]) == 0
    assert "created admin 'kepala'" in capsys.readouterr().out
    assert main([*user, "--username", "ani", "--role", "operator"]) == 2
    assert "a user with role operator belongs to a site" in capsys.readouterr().err
    assert main([*user, "--username", "ani", "--role", "operator", "--site", "bank99"]) == 2
    assert "unknown site 'bank99'" in capsys.readouterr().err
    from cloud.db import make_engine, session_factory
    from cloud.households import ensure_site

    engine = make_engine(url)
    with session_factory(engine)() as s:
        ensure_site(s, code="bank01", name="Bank Sampah 01")
        s.commit()
    engine.dispose()
    assert main([*user, "--username", "ani", "--role", "operator", "--site", "bank01"]) == 0
    assert "created operator 'ani' at bank01" in capsys.readouterr().out


def test_contract_schemas_export(tmp_path: Path) -> None:
    assert main(["-q", "contract", "schemas", str(tmp_path)]) == 0
    assert (tmp_path / "weighin.schema.json").exists()
