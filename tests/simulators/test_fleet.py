"""The fleet against a real Mosquitto: edge agents as processes, driven like hardware.

A station agent reads its simulated indicator and card reader on ptys and publishes
weigh-ins; a bin agent measures its simulated bin on mock pins and publishes fill
levels; a sensor fault injected through the control socket arrives as a fault; stopping
the fleet leaves no process behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.models import Fill, Weighin, parse_payload
from contract.topics import parse_topic, subscription
from simulators.fleet import Fleet
from tests.support.services import MosquittoServer

STATION, BIN = "st-fleet-01", "bin-fleet-01"
CARDS = ["0A00010000", "0A00010001", "0A00010002"]


class Inbox:
    def __init__(self, server: MosquittoServer) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-fleet-ingest")
        self.client.username_pw_set(*server.service("ingest"))
        self.client.on_connect = lambda c, *a: c.subscribe(subscription(), qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", server.port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        _, kind = parse_topic(msg.topic)
        with self.lock:
            self.events.append(parse_payload(kind, msg.payload))

    def wait(self, want: Callable[[Any], bool], timeout_s: float = 45) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                for e in self.events:
                    if want(e):
                        return e
            time.sleep(0.1)
        kinds = [type(e).__name__ for e in self.events]
        raise AssertionError(f"no matching event within {timeout_s}s; got {kinds}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.integration
def test_fleet_of_agents(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    mosquitto.add_device(STATION, "station-pw-123")
    mosquitto.add_device(BIN, "bin-pw-123")
    inbox = Inbox(mosquitto)
    fleet = Fleet(
        workdir=tmp_path / "fleet",
        mqtt_port=mosquitto.port,
        stations={STATION: "station-pw-123"},
        bins={BIN: "bin-pw-123"},
        cards=CARDS,
        speed=720,
        visit_every_s=1.0,
        protocols=["cas22"],
        seed=5,
    )
    try:
        fleet.start()
        pids = fleet.pids()
        assert set(pids) == {STATION, BIN}

        w = inbox.wait(lambda e: isinstance(e, Weighin))
        assert (w.device_id, w.protocol, w.division_g) == (STATION, "cas22", 20)
        assert w.card_id in CARDS
        assert w.category in fleet.categories
        assert w.net_g >= 25 * 20
        assert w.frames  # the raw indicator frames travel with it

        f = inbox.wait(lambda e: isinstance(e, Fill) and e.fill_pct is not None)
        assert f.bin_id == f"{BIN}-a"
        assert 50 <= f.fill_pct <= 100  # started at 62 % and filling

        assert fleet.control(BIN, f"fault {BIN}-a no_echo")
        inbox.wait(
            lambda e: isinstance(e, Fill) and e.fault is not None and e.fault.value == "no_echo"
        )
        assert fleet.stats["bags"] >= 1
    finally:
        fleet.stop()
        inbox.close()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert fleet.pids() == {}
