"""The fleet against a real Mosquitto: edge agents as processes, driven like hardware.

A station agent reads its simulated indicator and card reader on ptys and publishes
weigh-ins; a bin agent measures its simulated bin on mock pins and publishes fill
levels; a sensor fault injected through the control socket arrives as a fault; stopping
the fleet leaves no process behind.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.models import Fill, Weighin, parse_payload
from contract.topics import UPSTREAM_KINDS, parse_topic, subscription
from simulators.fleet import Fleet
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

STATION, BIN = "st-fleet-01", "bin-fleet-01"
CARDS = ["0A00010000", "0A00010001", "0A00010002"]


class Inbox:
    def __init__(self, server: MosquittoServer) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-fleet-ingest")
        self.client.username_pw_set(*server.service("ingest"))
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(subscription(k), 1) for k in UPSTREAM_KINDS]
        )
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
        # the weigh-in is captured within the station's window; the fleet counts the bag
        # once it has held it the full 2.5 s, which may come after the fault above
        wait_until(lambda: fleet.stats["bags"] >= 1, 15, "the fleet to count the bag")
    finally:
        fleet.stop()
        inbox.close()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert fleet.pids() == {}


class _Board(BaseHTTPRequestHandler):
    """The two API calls the fleet makes: staff login and the done pickups."""

    pickups: ClassVar[list[dict[str, Any]]] = []
    logins: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.logins.append(body["username"])
        self._json({"access_token": "tok-1", "token_type": "bearer"})

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer tok-1":
            self.send_response(401)
            self.end_headers()
            return
        self._json([p for p in self.pickups if p["status"] == "done"])

    def _json(self, doc: Any) -> None:
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.integration
def test_bin_emptied_when_its_pickup_is_done(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    device = "bin-fleet-02"
    mosquitto.add_device(device, "bin-pw-456")
    pickups: list[dict[str, Any]] = [{"id": 1, "bin_id": f"{device}-a", "status": "open"}]
    handler = type("Board", (_Board,), {"pickups": pickups, "logins": []})
    api = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    inbox = Inbox(mosquitto)
    fleet = Fleet(
        workdir=tmp_path / "fleet",
        mqtt_port=mosquitto.port,
        stations={},
        bins={device: "bin-pw-456"},
        speed=720,
        api_url=f"http://127.0.0.1:{api.server_address[1]}",
        api_login=("operator1", "a long passphrase"),
        bin_fill_pct=(85.0,),
    )
    try:
        fleet.start()
        inbox.wait(lambda e: isinstance(e, Fill) and (e.fill_pct or 0) >= 80)
        deadline = time.monotonic() + 10
        while fleet.stats["pickup_polls"] < 1:  # the first read is the baseline
            assert time.monotonic() < deadline, "the fleet never read the pickup board"
            time.sleep(0.05)
        pickups[0]["status"] = "done"  # the collector marks it done in the API
        emptied = inbox.wait(
            lambda e: isinstance(e, Fill) and e.fill_pct is not None and e.fill_pct < 10
        )
        assert emptied.bin_id == f"{device}-a"
        assert fleet.stats["emptied"] == 1
        assert handler.logins == ["operator1"]
    finally:
        fleet.stop()
        inbox.close()
        api.shutdown()
        api.server_close()
