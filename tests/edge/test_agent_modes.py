"""One agent process as scale station and bin host at once: fill reports, commands,
receipts at the station, and the Last Will."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.edge.harness import AgentProcess, FakeCloud, Scale, write_config
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

BINS = """
[[edge.bins]]
bin_id = "bin-modes-a"
trigger_pin = 17
echo_pin = 27
empty_depth_mm = 1000
full_margin_mm = 200
sample_interval_s = 0.3
report_delta_pct = 5
heartbeat_s = 2.5

[[edge.bins]]
bin_id = "bin-modes-b"
trigger_pin = 5
echo_pin = 6
empty_depth_mm = 1000
full_margin_mm = 200
samples = 3
sample_interval_s = 0.5
heartbeat_s = 60
"""


def test_station_and_bins_on_one_pi(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    device_id, password = "st-modes01", "pw-modes-0123456789"
    mosquitto.add_device(device_id, password)
    display = tmp_path / "display.txt"
    scale = Scale(tmp_path)
    cloud = FakeCloud(mosquitto, client_id="cloud-edge-modes")
    config = write_config(
        tmp_path / "station.toml",
        device_id=device_id,
        password=password,
        mqtt_port=mosquitto.port,
        scale_port=scale.path,
        outbox=tmp_path / "outbox.db",
        edge_extra='simulator_hook = "tests.edge.hooks:bins"\n'
        'display_hook = "tests.edge.hooks:show"',
        tail=BINS,
    )
    env = {"SALINMAS_TEST_DISPLAY_FILE": str(display), "SALINMAS_TEST_BIN_CHANGE_PINGS": "20"}
    agent = AgentProcess(config, tmp_path / "agent.log", env).start()
    try:
        # bins: a level, a change, a heartbeat; a dead sensor is a fault, never 0 %
        def levels(bin_id: str) -> list[tuple[float, float]]:
            """(mono seconds, fill %) of the bin's fill reports (faults left out)."""
            return [
                (d["mono_ms"] / 1000, d["fill_pct"])
                for d in cloud.of("fill", device_id)
                if d["bin_id"] == bin_id and d["fault"] is None
            ]

        def full_twice() -> bool:
            full = [t for t, pct in levels("bin-modes-a") if pct >= 80]
            return len(full) >= 2 and full[-1] - full[0] >= 2.0

        wait_until(full_twice, 30, "bin A's change, then a heartbeat at the same level")
        a = [pct for _, pct in levels("bin-modes-a")]
        # 4 readings (5 pings each) at 50 % before the change, only the first reported; then
        # the change
        assert a[:2] == [50.0, 87.5]
        assert set(a) == {50.0, 87.5}
        b = [d for d in cloud.of("fill", device_id) if d["bin_id"] == "bin-modes-b"]
        assert b
        assert all(d["fault"] == "no_echo" and d["fill_pct"] is None for d in b)

        # the station: a weigh-in, its receipt shown (signal, log, display hook)
        seq = scale.weigh(2_340, agent)
        wait_until(lambda: display.exists() and display.read_text(), 15, "the display hook")
        assert display.read_text() == f"{device_id}:{seq} credited {2_340 * 3}\n"
        wait_until(lambda: "station signal: ok" in agent.text(), 5, "the ok signal")
        assert f"receipt {device_id}:{seq}: credited Rp 7.020" in agent.text()

        # commands: ping answers with a health event; tare and zero reach the indicator
        cloud.command(device_id, "ping", "ping-1")
        wait_until(
            lambda: any(h["in_reply_to"] == "ping-1" for h in cloud.of("health", device_id)),
            10,
            "the ping's health reply",
        )
        health = next(h for h in cloud.of("health", device_id) if h["in_reply_to"] == "ping-1")
        assert health["outbox_capacity"] == 10_000
        assert health["uptime_s"] > 0
        assert health["sw_version"]
        scale.sim.place(1_000)
        cloud.command(device_id, "tare", "tare-1")
        wait_until(lambda: b"MT" in b"".join(scale.sim.commands_seen), 10, "the tare command")
        scale.sim.remove()
        cloud.command(device_id, "zero", "zero-1")
        wait_until(lambda: b"MZ" in b"".join(scale.sim.commands_seen), 10, "the zero command")
        cloud.command(device_id, "reload", "reload-1")
        wait_until(lambda: "configuration reloaded" in agent.text(), 10, "the reload")
        assert "scale connected" in agent.text().split("configuration reloaded")[0]

        # a crash (no clean disconnect): the broker publishes the Last Will
        agent.kill()
        wait_until(
            lambda: cloud.statuses and cloud.statuses[-1]["state"] == "offline", 10, "Last Will"
        )
    finally:
        if agent.alive:
            agent.stop()
        cloud.close()
        scale.close()
