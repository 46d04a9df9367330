"""Test harness: the agent as a real process, a scale on a pty, and a cloud stand-in.

- :func:`write_config` writes a station TOML for one device;
- :class:`AgentProcess` runs ``python -m edge --config F`` and reads its log;
- :class:`FakeCloud` plays the ingest service on the real broker: it subscribes to the
  devices' events with the ingest account and answers each weigh-in with a receipt.
- :class:`Scale` drives a :class:`~simulators.scales.ScaleSimulator` through weigh-ins.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.models import Ack, DeviceCommand, Receipt, ReceiptStatus, to_json
from contract.topics import Kind, device_topic, subscription
from simulators.pty import PtyDevice
from simulators.scales import Dynamics, ScaleSimulator
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def write_config(
    path: Path,
    *,
    device_id: str,
    password: str,
    mqtt_port: int,
    scale_port: str,
    outbox: Path,
    capacity: int = 10_000,
    confirm_timeout_s: float = 5.0,
    health_interval_s: float = 300.0,
    protocol: str = "and_indicator",
    edge_extra: str = "",
    tail: str = "",
    pin_factory: str = "mock",
) -> Path:
    path.write_text(
        f"""
[edge]
device_id = "{device_id}"
confirm_timeout_s = {confirm_timeout_s}
health_interval_s = {health_interval_s}
pin_factory = "{pin_factory}"
boot_id_file = "{path.parent / "no-boot-id"}"
boot_id_fallback = "{path.parent / "run" / "boot_id"}"
clock_sync_flag = "{path.parent / "no-sync-flag"}"
{edge_extra}

[edge.mqtt]
host = "127.0.0.1"
port = {mqtt_port}
password = "{password}"
keepalive_s = 10
backoff_min_s = 0.1
backoff_max_s = 1.0

[edge.outbox]
path = "{outbox}"
capacity = {capacity}

[edge.station]
scale_port = "{scale_port}"
protocol = "{protocol}"
division_g = 10
stable_window_s = 0.3

# a pty refuses tcsetattr with 7E1 once it was opened before (EINVAL), so reopening it
# after an agent restart fails; 8N1 reads the same ASCII frames
[edge.station.line]
baudrate = 9600
bytesize = 8
parity = "N"
stopbits = 1
{tail}
"""
    )
    return path


class AgentProcess:
    """``python -m edge --config F`` in a subprocess, its log in a file."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._start_offset = 0

    def start(self) -> AgentProcess:
        self._start_offset = len(self.text())
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("SALINMAS_CONFIG", None)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge", "--config", str(self.config)],
                stdout=fh,
                stderr=fh,
                cwd=ROOT,
                env=env,
            )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def run_text(self) -> str:
        """The log of the current run only."""
        return self.text()[self._start_offset :]

    def weighin_seqs(self) -> list[int]:
        """Seqs of the weigh-ins the agent accepted, from its log (every run so far)."""
        return [int(m) for m in re.findall(r"weigh-in seq=(\d+)", self.text())]

    def refusals(self) -> int:
        """Weigh-ins the station refused (outbox full), from its log."""
        return self.text().count("WEIGH-IN REFUSED")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class FakeCloud:
    """The ingest service's part, on the real broker: events in, receipts out.

    ``events`` keeps every message received, in arrival order: ``(kind, payload dict)``.
    """

    def __init__(
        self, broker: MosquittoServer, *, client_id: str, answer: bool = True, confirm: bool = True
    ) -> None:
        user, password = broker.service("ingest")
        self.answer = answer
        #: confirm fill and health events with an ``ack`` (as ingest does once they are stored)
        self.confirm = confirm
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        c.username_pw_set(user, password)
        c.reconnect_delay_set(0.1, 1)
        c.max_inflight_messages_set(1000)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = lambda *_a: self._subscribed.set()
        self.client = c
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        wait_until(self._subscribed.is_set, 10, "the cloud's subscription")

    def _on_connect(self, client: mqtt.Client, *_a: Any) -> None:
        client.subscribe(
            [(subscription(k), 1) for k in (Kind.WEIGHIN, Kind.FILL, Kind.HEALTH, Kind.STATUS)]
        )

    def command(self, device_id: str, action: str, cmd_id: str) -> None:
        """Send a ``contract.DeviceCommand`` to the device, as the API does."""
        cmd = DeviceCommand(
            cmd_id=cmd_id, device_id=device_id, action=action, issued_at=datetime.now(UTC)
        )
        self.client.publish(device_topic(device_id, Kind.CMD), to_json(cmd), qos=1)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        data = json.loads(msg.payload)
        kind = msg.topic.rsplit("/", 1)[1]
        with self._lock:
            if kind == "status":
                self.statuses.append(data)
                return
            self.events.append((kind, data))
        if kind in ("fill", "health") and self.confirm:
            for ack in Ack.for_seqs(data["device_id"], [data["seq"]]):
                client.publish(device_topic(data["device_id"], Kind.ACK), to_json(ack), qos=1)
        if kind == "weighin" and self.answer:
            receipt = Receipt(
                device_id=data["device_id"],
                event_id=data["event_id"],
                seq=data["seq"],
                status=ReceiptStatus.CREDITED,
                amount_rp=data["net_g"] * 3,
                net_g=data["net_g"],
                processed_at=datetime.now(UTC),
            )
            client.publish(device_topic(data["device_id"], Kind.RECEIPT), to_json(receipt), qos=1)

    def of(self, kind: str, device_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [d for k, d in self.events if k == kind and d["device_id"] == device_id]

    def weighin_seqs(self, device_id: str) -> list[int]:
        """Seqs of weigh-ins received, in arrival order, redeliveries included."""
        return [d["seq"] for d in self.of("weighin", device_id)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Scale:
    """A simulated streaming indicator on a pty, driven through whole weigh-ins."""

    def __init__(
        self, directory: Path, *, protocol: str = "and_indicator", rate_hz: float = 20.0
    ) -> None:
        self.device = PtyDevice(directory, name="usb-Sim_Scale-if00-port0")
        self.sim = ScaleSimulator(
            protocol,
            self.device,
            division_g=10,
            rate_hz=rate_hz,
            seed=1,
            dynamics=Dynamics(tau_s=0.05, ring_hz=2.0, moving_noise_d=1.0),
        ).start()

    @property
    def path(self) -> str:
        return self.device.path

    def weigh(self, grams: int, agent: AgentProcess, timeout_s: float = 15.0) -> int:
        """Put ``grams`` on, wait for the agent to log the weigh-in, take it off."""

        def reading() -> bool:
            if not agent.alive:
                raise AssertionError(f"the agent exited:\n{agent.run_text()[-2000:]}")
            return "scale connected" in agent.run_text()

        wait_until(reading, 20, "the agent reading the scale")
        self.wait_at_zero()  # the agent arms only after it has seen the empty platter
        before = len(agent.weighin_seqs()) + agent.refusals()
        self.sim.place(grams)
        wait_until(
            lambda: len(agent.weighin_seqs()) + agent.refusals() > before,
            timeout_s,
            f"weigh-in {grams} g",
        )
        self.sim.remove()
        self.wait_at_zero()
        seqs = agent.weighin_seqs()
        return seqs[-1] if len(seqs) + agent.refusals() > before and seqs else -1

    def wait_at_zero(self) -> None:
        """Until the indicator has sent a few stable zero frames (the agent re-arms there)."""

        def at_zero() -> bool:
            d = self.sim.display()
            return d.stable and d.weight_g == 0

        wait_until(at_zero, 10, "the scale back at zero")
        frames = self.sim.stats["frames"]
        wait_until(lambda: self.sim.stats["frames"] >= frames + 4, 10, "zero frames sent")

    def close(self) -> None:
        self.sim.stop()
        self.device.close()
