"""Load mode against a real Mosquitto: every event published arrives, valid, at ingest."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.models import parse_payload
from contract.topics import UPSTREAM_KINDS, parse_topic, subscription
from simulators.load import LoadConfig, LoadProgress, main, read_accounts, run_load
from tests.support.services import MosquittoServer

DEVICES = [(f"ld-{i:03d}", f"pw-{i:03d}-secret") for i in range(1, 6)]
LOAD_DEVICES = {d for d, _ in DEVICES}


class Collector:
    """A subscriber on the ingest service account, keeping what it receives."""

    def __init__(self, server: MosquittoServer) -> None:
        user, password = server.service("ingest")
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-ingest-load")
        self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", server.port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscriber did not get its SUBACK"

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe([(subscription(k), 1) for k in UPSTREAM_KINDS])

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        if parse_topic(msg.topic)[0] not in LOAD_DEVICES:
            return  # e.g. retained status of other tests' devices on the shared broker
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def wait_for(self, count: int, timeout_s: float = 20) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker(mosquitto: MosquittoServer) -> MosquittoServer:
    for device_id, password in DEVICES:
        mosquitto.add_device(device_id, password)
    return mosquitto


@pytest.mark.integration
def test_every_published_event_arrives_valid(broker: MosquittoServer) -> None:
    collector = Collector(broker)
    try:
        updates: list[LoadProgress] = []
        summary = run_load(
            LoadConfig(
                accounts=DEVICES, host="127.0.0.1", port=broker.port, rate=800, count=400, seed=3
            ),
            progress=updates.append,
            progress_every_s=0.1,
        )
        received = collector.wait_for(400)
    finally:
        collector.close()
    assert (summary.sent, summary.acked, summary.failed) == (400, 400, 0)
    assert summary.devices == 5
    assert sum(summary.by_kind.values()) == 400
    assert updates
    assert updates[-1].acked == 400
    assert len(received) == 400
    seqs: dict[str, list[int]] = defaultdict(list)
    kinds = set()
    for topic, payload in received:
        device_id, kind = parse_topic(topic)
        event = parse_payload(kind, payload)  # raises if the payload breaks the contract
        assert event.device_id == device_id
        seqs[device_id].append(event.seq)
        kinds.add(kind.value)
    assert kinds == {"weighin", "fill", "health"}
    assert set(seqs) == {d for d, _ in DEVICES}
    for device_seqs in seqs.values():
        assert device_seqs == sorted(device_seqs)
        assert len(set(device_seqs)) == len(device_seqs)


@pytest.mark.integration
def test_a_second_run_never_reuses_a_seq(broker: MosquittoServer) -> None:
    cfg = dict(accounts=DEVICES[:1], host="127.0.0.1", port=broker.port, rate=500, count=20)
    collector = Collector(broker)
    try:
        run_load(LoadConfig(**cfg))  # type: ignore[arg-type]
        run_load(LoadConfig(**cfg))  # type: ignore[arg-type]
        received = collector.wait_for(40)
    finally:
        collector.close()
    ids = [parse_payload(parse_topic(t)[1], p).event_id for t, p in received]
    assert len(ids) == 40
    assert len(set(ids)) == 40


@pytest.mark.integration
def test_wrong_password_is_reported(broker: MosquittoServer) -> None:
    bad = LoadConfig(
        accounts=[("ld-001", "wrong")],
        host="127.0.0.1",
        port=broker.port,
        count=1,
        connect_timeout_s=3,
    )
    with pytest.raises(ConnectionError, match="could connect"):
        run_load(bad)


@pytest.mark.integration
def test_cli(broker: MosquittoServer, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("# id:password\n" + "".join(f"{d}:{p}\n" for d, p in DEVICES[:2]))
    assert read_accounts(accounts) == DEVICES[:2]
    code = main(
        [
            "--port",
            str(broker.port),
            "--host",
            "127.0.0.1",
            "--accounts",
            str(accounts),
            "--count",
            "30",
            "--rate",
            "300",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    assert '"acked": 30' in capsys.readouterr().out


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LoadConfig(accounts=[])
    with pytest.raises(ValueError, match="invalid device id"):
        LoadConfig(accounts=[("Bad Id", "x")])
    with pytest.raises(ValueError, match="mix"):
        LoadConfig(accounts=DEVICES, mix={"receipt": 1.0})
