"""The README's demo command: it starts, balances grow through the API, Ctrl-C ends all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _call(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=5) as r:
        return json.load(r)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_balance_grows_and_ctrl_c_stops_everything(tmp_path: Path, broker: str) -> None:
    port = free_port()
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "salinmas",
            "demo",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--broker",
            broker,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen: set[int] = set()
    try:
        api = f"http://127.0.0.1:{port}/api/v1"
        wait_until((data / "secrets.json").exists, 30, "the demo's secrets")
        secrets = json.loads((data / "secrets.json").read_text())

        login: dict[str, Any] = {}

        def household_balance() -> int:
            seen.update(_descendants(proc.pid))
            try:  # one login (a PIN hash per poll would load the machine it waits on)
                login.update(
                    login
                    or _call(
                        f"{api}/auth/household-login",
                        {"member_no": "BMS-0001", "pin": secrets["household_pin"]},
                    )
                )
                hid = login["subject_id"]
                body = _call(f"{api}/households/{hid}/balance", token=login["access_token"])
            except OSError:  # not up yet, or busy
                return 0
            return int(body["balance_rp"])

        # the first simulated household is the first to visit a station (generous: the
        # demo starts a dozen processes, slow on a loaded 2-core machine)
        wait_until(lambda: household_balance() > 0, 180, "BMS-0001's balance to grow", 0.5)
        seen.update(_descendants(proc.pid))

        # JEKNYONG: a household asked for a pickup at its door, the route planned itself
        # and the simulated collector weighed there: credited, through the API
        op = _call(
            f"{api}/auth/login", {"username": "operator", "password": secrets["operator_password"]}
        )

        def door_credits() -> int:
            done = _call(f"{api}/pickups?status=done&limit=1000", token=op["access_token"])
            return sum(
                _call(f"{api}/pickups/{p['id']}/doorstep", token=op["access_token"])["total_rp"]
                for p in done
                if p["kind"] == "household"
            )

        wait_until(lambda: door_credits() > 0, 180, "a pickup at a door to be credited", 0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    assert "Salinmas demo is running" in text
    assert "Stopped." in text
    assert len(seen) >= 7  # ingest, api, 5 agents (+ mosquitto)
    wait_until(lambda: not _alive(seen), 15, "every child of the demo to be gone")
