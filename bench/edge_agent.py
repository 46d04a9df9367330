"""Edge agent benchmark: footprint while reading a 10 Hz scale, and outbox drain rate.

Runs the agent as a real process (``python -m edge --config F``) against a private
Mosquitto, with a simulated indicator streaming 10 frames a second on a pty:

1. **footprint** — after a warm-up, RSS (``VmRSS``) and CPU (utime + stime over wall
   time, in % of one core) of the agent process for ``--seconds``; a few weigh-ins are
   made meanwhile so the whole path (capture -> outbox -> MQTT -> receipt) is exercised.
   Targets: <= 40 MB RSS, <= 2 % of one core.
2. **drain** — ``--queued`` weigh-ins are put in the outbox (an outage), the agent
   started, and the time measured until the cloud stand-in has received them all
   (PUBACK drain) and until every receipt is back (outbox empty).

    .venv/bin/python bench/edge_agent.py [--seconds 30] [--queued 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.clock import Clock
from edge.events import EventFactory
from edge.outbox import Outbox
from tests.edge.harness import (
    AgentProcess,
    FakeCloud,
    Scale,
    write_config,
)
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rollup_mb(pid: int) -> dict[str, float]:
    """Pss and Private (USS) from smaps_rollup, in MB: what the agent itself costs."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Pss", "Private_Dirty", "Private_Clean", "Shared_Clean"):
            out[key] = int(value.split()[0]) / 1024
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def footprint(broker: MosquittoServer, work: Path, seconds: float) -> None:
    device_id, password = "st-bench01", "pw-bench-0123456789"
    broker.add_device(device_id, password)
    scale = Scale(work, rate_hz=10.0)
    cloud = FakeCloud(broker, client_id="cloud-bench-footprint")
    config = write_config(
        work / "station.toml",
        device_id=device_id,
        password=password,
        mqtt_port=broker.port,
        scale_port=scale.path,
        outbox=work / "outbox.db",
        pin_factory="native",  # a station without LEDs/buttons never loads gpiozero
    )
    # as the systemd unit runs it (deploy/salinmas-edge.service sets MALLOC_ARENA_MAX=2)
    agent = AgentProcess(config, work / "agent.log", {"MALLOC_ARENA_MAX": "2"}).start()
    try:
        assert agent.proc is not None
        pid = agent.proc.pid
        scale.weigh(1_000, agent)  # warm: everything imported, connected, one round trip
        time.sleep(2)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        frames0 = scale.sim.stats["frames"]
        peak = rss_mb(pid)
        weighins = 0
        next_weigh = t0 + seconds / 4
        while time.monotonic() - t0 < seconds:
            if time.monotonic() >= next_weigh and weighins < 3:
                scale.weigh(1_500 + 10 * weighins, agent)
                weighins += 1
                next_weigh += seconds / 4
            peak = max(peak, rss_mb(pid))
            time.sleep(0.5)
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
        frames = scale.sim.stats["frames"] - frames0
        print(f"footprint over {seconds:.0f} s at {scale.sim.rate_hz:.0f} Hz ({frames} frames):")
        roll = rollup_mb(pid)
        uss = roll.get("Private_Dirty", 0) + roll.get("Private_Clean", 0)
        print(f"  RSS now {rss_mb(pid):.1f} MB, peak {peak:.1f} MB   (target <= 40 MB)")
        print(
            f"    of which private {uss:.1f} MB, shared library pages "
            f"{roll.get('Shared_Clean', 0):.1f} MB; PSS {roll.get('Pss', 0):.1f} MB"
        )
        print(f"  CPU {cpu:.2f} % of one core                  (target <= 2 %)")
        print(
            f"  weigh-ins during the run: {weighins}, received: "
            f"{len(set(cloud.weighin_seqs(device_id)))}"
        )
    finally:
        agent.stop()
        cloud.close()
        scale.close()


def drain(broker: MosquittoServer, work: Path, queued: int) -> None:
    device_id, password = "st-bench02", "pw-bench-0123456789"
    broker.add_device(device_id, password)
    scale = Scale(work)
    cloud = FakeCloud(broker, client_id="cloud-bench-drain")
    outbox = work / "outbox.db"
    events = EventFactory(device_id, Clock(boot_id=uuid.uuid4(), synced=lambda: True))
    t = time.perf_counter()
    with Outbox(outbox, capacity=queued * 2) as box:
        for i in range(queued):
            box.append(
                "weighin",
                events.weighin(
                    net_g=200 + i,
                    division_g=10,
                    protocol="and_indicator",
                    category="plastic-pet",
                    card_id=f"C{i:05d}",
                ),
            )
    enqueue_s = time.perf_counter() - t
    config = write_config(
        work / "station.toml",
        device_id=device_id,
        password=password,
        mqtt_port=broker.port,
        scale_port=scale.path,
        outbox=outbox,
        capacity=queued * 2,
        confirm_timeout_s=300,
    )
    agent = AgentProcess(config, work / "agent.log").start()
    try:
        wait_until(lambda: "connected to" in agent.run_text(), 30, "the agent's connection")
        t0 = time.perf_counter()
        wait_until(lambda: len(cloud.of("weighin", device_id)) >= queued, 600, "delivery")
        delivered_s = time.perf_counter() - t0

        def empty() -> bool:
            with Outbox(outbox, capacity=queued * 2) as box:
                return box.depth == 0

        wait_until(empty, 600, "every receipt")
        receipted_s = time.perf_counter() - t0
        seqs = list(dict.fromkeys(cloud.weighin_seqs(device_id)))
        print(f"drain of {queued} queued weigh-ins after reconnect:")
        print(f"  enqueue (fsync per event): {queued / enqueue_s:,.0f} events/s")
        in_order = seqs == sorted(seqs)
        print(
            f"  all delivered (PUBACKed) in {delivered_s:.2f} s = "
            f"{queued / delivered_s:,.0f} events/s; in seq order: {in_order}"
        )
        print(
            f"  all receipts back, outbox empty in {receipted_s:.2f} s = "
            f"{queued / receipted_s:,.0f} events/s"
        )
    finally:
        agent.stop()
        cloud.close()
        scale.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--queued", type=int, default=5_000)
    ns = parser.parse_args()
    with (
        MosquittoServer().start() as broker,
        tempfile.TemporaryDirectory(prefix="sal-bench-edge-") as d,
    ):
        (Path(d) / "a").mkdir()
        (Path(d) / "b").mkdir()
        footprint(broker, Path(d) / "a", ns.seconds)
        drain(broker, Path(d) / "b", ns.queued)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
