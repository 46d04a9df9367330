"""Test helpers: devices talking to the real broker, ingest settings, waiting on the DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, SecretStr

from cloud.ingest import IngestSettings
from cloud.telemetry import TelemetrySettings
from contract import DeviceStatus, Kind, Receipt, device_topic
from tests.support.services import MosquittoServer


class Broker(Protocol):
    """What the helpers need of a broker: its port and a way to add a device account."""

    port: int

    def add_device(self, device_id: str, password: str) -> None: ...


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Device:
    """A device on the real broker under its own account; collects its receipts."""

    def __init__(self, broker: Broker, device_id: str, *, will: bool = False) -> None:
        self.device_id = device_id
        self.receipts: list[bytes] = []
        self._lock = threading.Lock()
        password = f"pw-{device_id}"
        broker.add_device(device_id, password)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.username_pw_set(device_id, password)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        if will:
            topic = device_topic(device_id, Kind.STATUS)
            self.client.will_set(topic, self.status("offline"), qos=1, retain=True)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(device_topic(device_id, Kind.RECEIPT), qos=1)
        if not self._subscribed.wait(10):
            raise TimeoutError(f"{device_id} could not subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.receipts.append(bytes(msg.payload))

    def publish(
        self, kind: Kind | str, payload: bytes | BaseModel, *, topic_device: str = ""
    ) -> None:
        data = payload.model_dump_json().encode() if isinstance(payload, BaseModel) else payload
        topic = device_topic(topic_device or self.device_id, kind)
        self.client.publish(topic, data, qos=1).wait_for_publish(10)

    def publish_many(self, kind: Kind | str, payloads: list[BaseModel]) -> None:
        """Publish without waiting for each PUBACK, then wait for all of them."""
        topic = device_topic(self.device_id, kind)
        infos = [self.client.publish(topic, p.model_dump_json().encode(), qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(60)

    def status(self, state: str) -> bytes:
        """A status stamped now (a Last Will is stamped at connect: older than "online")."""
        status = DeviceStatus(device_id=self.device_id, state=state, at=datetime.now(UTC))  # type: ignore[arg-type]
        return status.model_dump_json().encode()

    def drop_connection(self) -> None:
        """Lose the connection without a DISCONNECT packet (as a power cut would)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def parsed_receipts(self) -> list[Receipt]:
        with self._lock:
            return [Receipt.model_validate_json(r) for r in self.receipts]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def device(broker: Broker, device_id: str, *, will: bool = False) -> Iterator[Device]:
    d = Device(broker, device_id, will=will)
    try:
        yield d
    finally:
        d.close()


def ingest_settings(
    broker: MosquittoServer,
    ledger_url: str,
    tmp_path: Path,
    *,
    telemetry: TelemetrySettings | None = None,
    client_id: str | None = None,
    share_group: str | None = None,
    **kw: Any,
) -> IngestSettings:
    user, password = broker.service("ingest")
    return IngestSettings.load(
        mqtt_port=broker.port,
        mqtt_username=user,
        mqtt_password=SecretStr(password),
        client_id=client_id or unique_id("ingest"),
        share_group=share_group if share_group is not None else unique_id("g"),
        session_expiry_s=300,
        ledger_url=ledger_url,
        migrate_on_start=False,
        telemetry=telemetry
        or TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "telemetry.db"),
        **kw,
    )


def ingest_config(
    path: Path, broker: MosquittoServer, ledger_url: str, client_id: str, **extra: object
) -> Path:
    """A TOML config for ``python -m cloud.ingest`` (telemetry in SQLite beside it)."""
    user, password = broker.service("ingest")
    values: dict[str, object] = {
        "mqtt_port": broker.port,
        "mqtt_username": user,
        "mqtt_password": password,
        "client_id": client_id,
        "share_group": unique_id("g"),
        "session_expiry_s": 300,
        "ledger_url": ledger_url,
        "batch_max": 100,
        "log_level": "INFO",
        **extra,
    }
    lines = [
        "[ingest]",
        *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
        "[ingest.telemetry]",
        'backend = "sqlite"',
        f'sqlite_path = "{path.parent / "telemetry.db"}"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def spawn_ingest(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """A real ``python -m cloud.ingest`` process, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cloud.ingest", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
