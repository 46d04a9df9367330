"""The entry points the ``salinmas sim ...`` commands call: help, and a short real run."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators import bins, cards, fleet, load
from simulators.scales import cli as scale_cli

MAINS: dict[str, Callable[[list[str] | None], int]] = {
    "scale": scale_cli.main,
    "cards": cards.main,
    "bin": bins.main,
    "fleet": fleet.main,
    "load": load.main,
}


@pytest.mark.parametrize("name", sorted(MAINS))
def test_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        MAINS[name](["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"salinmas sim {name}" in out
    assert len(out) > 300  # says what it does, not just the flags


def test_scale_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("place 1000\ngarbage\nbogus\nstatus\nquit\n"))
    assert scale_cli.main(["--protocol", "cas22", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cas22 indicator (continuous" in out
    assert "sent b'" in out  # the garbage burst
    assert "commands:" in out  # help after an unknown command
    assert "Display(weight_g=" in out


def test_cards_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("100086F444\nbad 100086F444\nXYZ\n"))
    assert cards.main(["--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "card reader (rdm6300) at" in out
    assert "error: an RDM6300 card id is 10 hex digits" in out


def test_bin_run(capsys: pytest.CaptureFixture[str]) -> None:
    # Starts just under --empty-at and grows ~5 % per reading, so the bin is emptied at
    # the second or third reading however slowly a loaded machine takes them.
    args = ["--day-minutes", "0.1", "--every", "0.05", "--duration", "1.5", "--fill", "94.5"]
    assert bins.main([*args, "--growth", "5000", "--empty-at", "95"]) == 0
    out = capsys.readouterr().out
    assert "fill" in out
    assert "emptied" in out


def test_sigterm_stops_an_interactive_simulator_cleanly(tmp_path: Path) -> None:
    """Blocked waiting for a command, SIGTERM closes the pty and removes its symlink."""
    import signal
    import subprocess
    import sys
    import time

    link = tmp_path / "usb-Sim-if00"
    code = "from simulators.scales.cli import main; raise SystemExit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", code, "--dir", str(tmp_path), "--name", link.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert b"indicator" in proc.stdout.readline()  # up, and waiting for a command
            assert link.is_symlink()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    deadline = time.monotonic() + 1
    while link.is_symlink() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not link.exists()
