"""End-to-end delivery rigs: devices running the Pi's delivery code, ingest worker processes.

:class:`LinkFleet` runs, in this process, one :class:`edge.outbox.Outbox` and one
:class:`edge.link.MqttLink` per device — the code a Pi runs from an event's capture to the
cloud's confirmation — fed by a steady stream (weigh-ins for stations, fill levels for
bins) built by the agent's own :class:`edge.events.EventFactory`. :class:`IngestProcess`
runs ``python -m cloud.ingest`` (a real worker process) with its own telemetry store.
Used by ``tests/cloud/test_delivery.py`` (short) and ``bench/delivery_soak.py`` (soak).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from cloud.db import make_engine, migrate, session_factory
from cloud.devices import register_device
from cloud.models import ProcessedEvent, WeighinRecord
from cloud.pickups import register_bin
from edge.clock import Clock
from edge.config import MqttSettings
from edge.events import EventFactory
from edge.link import MqttLink
from edge.outbox import Outbox
from tests.cloud.conftest import seed_programme
from tests.support.services import MosquittoServer

PASSWORD = "delivery-pw-0123456789"


def seed_fleet(ledger_url: str, stations: list[str], bins: list[str]) -> dict[str, tuple[str, str]]:
    """Migrate the ledger, register stations and bins; the fleet's ``devices`` argument."""
    migrate(ledger_url)
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            seed_programme(s, stations=tuple(stations))
            for b in bins:
                register_device(s, device_id=b, kind="bin")
                register_bin(s, bin_id=b, device_id=b)
            s.commit()
    finally:
        engine.dispose()
    return {d: ("station", PASSWORD) for d in stations} | {d: ("bin", PASSWORD) for d in bins}


def credited(ledger_url: str) -> tuple[int, int, int]:
    """Weigh-in records, distinct event ids among them, processed events."""
    engine = make_engine(ledger_url)
    try:
        with session_factory(engine)() as s:
            return (
                int(s.scalar(select(func.count()).select_from(WeighinRecord)) or 0),
                int(s.scalar(select(func.count(func.distinct(WeighinRecord.event_id)))) or 0),
                int(s.scalar(select(func.count()).select_from(ProcessedEvent)) or 0),
            )
    finally:
        engine.dispose()


@dataclass
class _Device:
    device_id: str
    kind: str  # station | bin
    outbox: Outbox
    link: MqttLink
    events: EventFactory
    produced: list[int] = field(default_factory=list)


class LinkFleet:
    """Devices with the edge's outbox and link, producing a steady stream (see module)."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        devices: dict[str, tuple[str, str]],
        *,
        rate_per_device: float = 5.0,
        confirm_timeout_s: float = 5.0,
        outbox_class: type[Outbox] = Outbox,
    ) -> None:
        """``devices``: device id -> (kind, password)."""
        self.rate = rate_per_device
        self._stop = threading.Event()
        self._producing = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.devices: dict[str, _Device] = {}
        for device_id, (kind, password) in devices.items():
            box = outbox_class(workdir / f"{device_id}.db", capacity=1_000_000, telemetry_share=1.0)
            settings = MqttSettings(
                host="127.0.0.1",
                port=port,
                password=SecretStr(password),
                keepalive_s=10,
                max_inflight=50,
                backoff_min_s=0.1,
                backoff_max_s=1.0,
            )
            boot = uuid.uuid4()
            link = MqttLink(
                device_id=device_id,
                settings=settings,
                outbox=box,
                sw_version="soak",
                boot_id=boot,
                confirm_timeout_s=confirm_timeout_s,
                confirm_timeout_max_s=4 * confirm_timeout_s,
            )
            events = EventFactory(device_id, Clock(boot_id=boot, synced=lambda: True))
            self.devices[device_id] = _Device(device_id, kind, box, link, events)

    def start(self) -> LinkFleet:
        for d in self.devices.values():
            d.link.start()
        self._producing.set()
        self._thread = threading.Thread(target=self._produce, name="fleet", daemon=True)
        self._thread.start()
        return self

    def _produce(self) -> None:
        period = 1.0 / self.rate
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self._producing.is_set():
                for d in self.devices.values():
                    if d.kind == "station":
                        build = d.events.weighin(
                            net_g=1000 + n % 500,
                            division_g=5,
                            protocol="mtsics",
                            category="plastic-pet",
                            card_id="CARD-1",
                        )
                    else:
                        build = d.events.fill(bin_id=d.device_id, fill_pct=float(n % 70))
                    seq = d.outbox.append("weighin" if d.kind == "station" else "fill", build)
                    assert seq is not None
                    with self._lock:
                        d.produced.append(seq)
                    d.link.notify()
                n += 1
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop_producing(self) -> None:
        self._producing.clear()

    def produced(self, kind: str) -> dict[str, list[int]]:
        with self._lock:
            return {d.device_id: list(d.produced) for d in self.devices.values() if d.kind == kind}

    def unconfirmed(self) -> int:
        """Events in the outboxes (pending or awaiting the cloud's confirmation)."""
        return sum(d.outbox.depth for d in self.devices.values())

    def awaiting(self) -> int:
        """Events the broker acknowledged and the cloud has not confirmed yet."""
        return sum(d.outbox.stats().awaiting for d in self.devices.values())

    def oldest_unconfirmed(self) -> dict[str, int]:
        """Per device, the smallest seq still in its outbox (absent: empty)."""
        out = {}
        for d in self.devices.values():
            seqs = [s for s, _ in d.outbox.awaiting()] + [e.seq for e in d.outbox.pending(1)]
            if seqs:
                out[d.device_id] = min(seqs)
        return out

    def first_unconfirmed_reached(self, cut: dict[str, int]) -> bool:
        """Whether every event up to ``cut[device]`` (a seq) has been confirmed."""
        oldest = self.oldest_unconfirmed()
        return all(oldest.get(d, cut[d] + 1) > cut[d] for d in cut)

    def last_seqs(self) -> dict[str, int]:
        with self._lock:
            return {d.device_id: d.produced[-1] if d.produced else 0 for d in self.devices.values()}

    def stat(self, name: str) -> int:
        return sum(int(getattr(d.link.stats, name)) for d in self.devices.values())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for d in self.devices.values():
            d.link.stop()
            d.outbox.close()


class IngestProcess:
    """``python -m cloud.ingest`` with its own config, log and SQLite telemetry store."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int,
        user: str,
        password: str,
        ledger_url: str,
        client_id: str,
        share_group: str,
        **settings: Any,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.client_id = client_id
        self.telemetry = workdir / "telemetry.db"
        self.log = workdir / "ingest.log"
        extra = "".join(f"{k} = {_toml(v)}\n" for k, v in settings.items())
        self.config = workdir / "ingest.toml"
        self.config.write_text(
            "[ingest]\n"
            f"mqtt_port = {port}\nmqtt_username = {_toml(user)}\n"
            f"mqtt_password = {_toml(password)}\nclient_id = {_toml(client_id)}\n"
            f"share_group = {_toml(share_group)}\nsession_expiry_s = 3600\n"
            f"ledger_url = {_toml(ledger_url)}\nmigrate_on_start = false\n"
            'log_level = "INFO"\n' + extra + "[ingest.telemetry]\n"
            f'backend = "sqlite"\nsqlite_path = {_toml(str(self.telemetry))}\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> IngestProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloud.ingest", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: gone for good, its session left in the broker."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if not self.alive:
            return self.proc.returncode if self.proc else None
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def ingest_workers(
    workdir: Path, broker: MosquittoServer, ledger_url: str, names: list[str], **settings: Any
) -> list[IngestProcess]:
    """Started worker processes on one shared subscription (``names``: their client ids)."""
    user, password = broker.service("ingest")
    group = f"g-{uuid.uuid4().hex[:8]}"
    return [
        IngestProcess(
            workdir / name,
            port=broker.port,
            user=user,
            password=password,
            ledger_url=ledger_url,
            client_id=name,
            share_group=group,
            **settings,
        ).start()
        for name in names
    ]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def stored_fills(telemetry_files: list[Path]) -> dict[str, set[int]]:
    """Per device, the fill seqs stored in the workers' SQLite telemetry stores."""
    out: dict[str, set[int]] = {}
    for path in telemetry_files:
        if not path.exists():
            continue
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute(
                "SELECT device, json_extract(fields, '$.seq') FROM points "
                "WHERE measurement = 'fill'"
            ).fetchall()
        except sqlite3.OperationalError:  # the worker has not created its table yet
            rows = []
        finally:
            db.close()
        for device, seq in rows:
            out.setdefault(str(device), set()).add(int(seq))
    return out
