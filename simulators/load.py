"""Load mode: valid contract events published straight to the broker, for benchmarks.

Many device accounts publish weigh-ins, fill levels and heartbeats — each one a valid
wire-contract v1 payload on its own device topic, with a per-device monotonic ``seq``
and ``event_id`` — at a set total rate over MQTT (paho-mqtt 2, QoS 1 by default). The
broker's PUBACKs are counted, so the summary says how many were sent, how many the broker
acknowledged, and the rate actually achieved. There is no edge agent in the path: this
measures the broker and the cloud's ingest.

Sequence numbers start from the wall clock (milliseconds x 1000), so runs repeated with
the same accounts never reuse a ``seq`` and the cloud does not see them as duplicates.

Example::

    accounts = [(f"ld-{i:04d}", "pw") for i in range(50)]   # provisioned on the broker
    summary = run_load(LoadConfig(port=1883, accounts=accounts, rate=2000, count=100_000))
    print(summary.sent, summary.acked, f"{summary.rate:.0f}/s")
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from contract.models import Fill, Health, Weighin, to_json
from contract.topics import Kind, device_topic, valid_device_id
from salinmas.mqtt import Connection, Endpoint
from simulators.households import CATEGORIES, sample_grams

KINDS = ("weighin", "fill", "health")


@dataclass(frozen=True)
class LoadConfig:
    """What to publish, where and how fast.

    ``accounts`` are ``(device_id, password)`` pairs the broker knows. ``mix`` gives the
    relative share of each kind. The run ends after ``count`` events, or after
    ``duration_s`` seconds when ``count`` is ``None``.
    """

    accounts: Sequence[tuple[str, str]]
    host: str = "localhost"
    port: int = 1883
    rate: float = 500.0
    count: int | None = 1000
    duration_s: float | None = None
    mix: dict[str, float] = field(
        default_factory=lambda: {"weighin": 0.6, "fill": 0.3, "health": 0.1}
    )
    qos: int = 1
    tls: bool = False
    ca_file: str | None = None
    seed: int = 0
    card_ids: Sequence[str] = ()
    #: seconds to wait for outstanding PUBACKs after the last publish
    drain_timeout_s: float = 15.0
    connect_timeout_s: float = 10.0
    start_seq: int | None = None

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("at least one device account is needed")
        for device_id, _ in self.accounts:
            if not valid_device_id(device_id):
                raise ValueError(f"invalid device id {device_id!r}")
        if self.rate <= 0:
            raise ValueError(f"rate must be positive, got {self.rate}")
        if self.count is None and not self.duration_s:
            raise ValueError("give a count or a duration")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {self.qos}")
        unknown = set(self.mix) - set(KINDS)
        if unknown or not self.mix or min(self.mix.values()) < 0 or sum(self.mix.values()) <= 0:
            raise ValueError(f"mix must weight some of {KINDS}, got {self.mix}")


@dataclass(frozen=True)
class LoadProgress:
    sent: int
    acked: int
    failed: int
    elapsed_s: float
    target: int | None

    @property
    def rate(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class LoadSummary:
    """The outcome: events ``sent``, PUBACKed (``acked``), ``failed`` to publish."""

    sent: int
    acked: int
    failed: int
    elapsed_s: float
    publish_s: float
    by_kind: dict[str, int]
    devices: int
    connect_failures: int

    @property
    def rate(self) -> float:
        """Acknowledged events per second over the whole run (publish + drain)."""
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": round(self.rate, 1)}


# --------------------------------------------------------------------------- events


class DeviceStream:
    """Valid events of one simulated device: seq, boot id and monotonic time kept."""

    def __init__(self, device_id: str, *, start_seq: int, rng: random.Random) -> None:
        self.device_id = device_id
        self.seq = start_seq
        self.boot_id = uuid.uuid4()
        self.t0 = time.monotonic()
        self.rng = rng

    def _base(self) -> dict[str, Any]:
        self.seq += 1
        return {
            "device_id": self.device_id,
            "seq": self.seq,
            "event_id": f"{self.device_id}:{self.seq}",
            "device_time": datetime.now(UTC),
            "clock_synced": True,
            "boot_id": self.boot_id,
            "mono_ms": int((time.monotonic() - self.t0) * 1000),
        }

    def event(self, kind: str, card_ids: Sequence[str]) -> tuple[str, bytes]:
        """``(topic, payload)`` of the next ``kind`` event."""
        rng = self.rng
        if kind == "weighin":
            category = rng.choice(CATEGORIES)
            grams = max(20, sample_grams(category, rng) // 20 * 20)
            card = rng.choice(card_ids) if card_ids else f"{rng.getrandbits(40):010X}"
            model: Weighin | Fill | Health = Weighin(
                **self._base(),
                card_id=card,
                category=category,
                net_g=grams,
                division_g=20,
                protocol="mtsics",
                stable_ms=1200,
            )
        elif kind == "fill":
            fill = round(rng.uniform(0, 100), 1)
            model = Fill(
                **self._base(),
                bin_id=self.device_id,
                fill_pct=fill,
                distance_mm=int(1000 - fill * 9),
            )
        else:
            model = Health(
                **self._base(),
                sw_version="load-0.1",
                uptime_s=int(time.monotonic() - self.t0),
                load1=round(rng.uniform(0, 1), 2),
                mem_used_pct=round(rng.uniform(20, 60), 1),
                disk_free_pct=round(rng.uniform(40, 90), 1),
                outbox_depth=0,
                outbox_capacity=50_000,
            )
        return device_topic(self.device_id, Kind(kind)), to_json(model)


# --------------------------------------------------------------------------- the run


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0
        self.acked = 0
        self.failed = 0


def _client(device_id: str, password: str, cfg: LoadConfig, counters: _Counters) -> Connection:
    """The device's own connection (client id = device id, as the broker requires)."""

    def on_publish(c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        with counters.lock:
            counters.acked += 1

    endpoint = Endpoint(
        cfg.host,
        cfg.port,
        device_id,
        password,
        tls=cfg.tls,
        ca_file=Path(cfg.ca_file) if cfg.ca_file else None,
    )
    return Connection(
        endpoint,
        device_id,
        max_inflight=100,
        on_publish=on_publish,
        reconnect=False,  # a lost connection is a failure of the run, not retried
        name=f"load-{device_id}",
    )


def run_load(
    cfg: LoadConfig,
    *,
    progress: Callable[[LoadProgress], None] | None = None,
    progress_every_s: float = 0.5,
    stop: threading.Event | None = None,
) -> LoadSummary:
    """Publish ``cfg.count`` events (or for ``cfg.duration_s``) and count the PUBACKs."""
    stop = stop or threading.Event()
    rng = random.Random(cfg.seed)
    start_seq = cfg.start_seq if cfg.start_seq is not None else int(time.time() * 1000) * 1000
    counters = _Counters()
    clients: list[tuple[mqtt.Client, DeviceStream]] = []
    started: list[Connection] = []
    connect_failures = 0
    try:
        waiting = []
        for device_id, password in cfg.accounts:
            conn = _client(device_id, password, cfg, counters).start()
            started.append(conn)
            stream = DeviceStream(device_id, start_seq=start_seq, rng=random.Random(rng.random()))
            waiting.append((conn, stream))
        deadline = time.monotonic() + cfg.connect_timeout_s
        for conn, stream in waiting:
            while not conn.wait_connected(0.05):
                if conn.refused or time.monotonic() >= deadline or stop.is_set():
                    break
            if conn.connected:
                clients.append((conn.client, stream))
            else:
                connect_failures += 1
        if not clients:
            raise ConnectionError(
                f"no device account could connect to {cfg.host}:{cfg.port} "
                "(wrong passwords, or the broker is not running?)"
            )
        return _publish(
            cfg, clients, counters, connect_failures, rng, progress, progress_every_s, stop
        )
    finally:
        for conn in started:
            conn.stop()


def _publish(
    cfg: LoadConfig,
    clients: list[tuple[mqtt.Client, DeviceStream]],
    counters: _Counters,
    connect_failures: int,
    rng: random.Random,
    progress: Callable[[LoadProgress], None] | None,
    progress_every_s: float,
    stop: threading.Event,
) -> LoadSummary:
    kinds = [k for k in KINDS if cfg.mix.get(k, 0) > 0]
    weights = [cfg.mix[k] for k in kinds]
    by_kind = dict.fromkeys(KINDS, 0)
    period = 1.0 / cfg.rate
    started = time.monotonic()
    next_report = started + progress_every_s
    end_at = started + cfg.duration_s if cfg.duration_s else math.inf
    i = 0
    while not stop.is_set():
        if cfg.count is not None and i >= cfg.count:
            break
        now = time.monotonic()
        if now >= end_at:
            break
        due = started + i * period
        if due > now + 0.002:
            time.sleep(due - now)
        client, stream = clients[i % len(clients)]
        kind = rng.choices(kinds, weights)[0]
        topic, payload = stream.event(kind, cfg.card_ids)
        info = client.publish(topic, payload, qos=cfg.qos)
        with counters.lock:
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                counters.sent += 1
            else:
                counters.failed += 1
        by_kind[kind] += 1
        i += 1
        if progress is not None and time.monotonic() >= next_report:
            next_report += progress_every_s
            progress(_snapshot(counters, started, cfg.count))
    publish_s = time.monotonic() - started
    drain_until = time.monotonic() + cfg.drain_timeout_s
    while counters.acked < counters.sent and time.monotonic() < drain_until:
        if stop.wait(0.05):
            break
        if progress is not None and time.monotonic() >= next_report:
            next_report += progress_every_s
            progress(_snapshot(counters, started, cfg.count))
    elapsed = time.monotonic() - started
    if progress is not None:
        progress(_snapshot(counters, started, cfg.count))
    return LoadSummary(
        sent=counters.sent,
        acked=min(counters.acked, counters.sent),
        failed=counters.failed,
        elapsed_s=elapsed,
        publish_s=publish_s,
        by_kind=by_kind,
        devices=len(clients),
        connect_failures=connect_failures,
    )


def _snapshot(counters: _Counters, started: float, target: int | None) -> LoadProgress:
    with counters.lock:
        return LoadProgress(
            counters.sent, counters.acked, counters.failed, time.monotonic() - started, target
        )


# --------------------------------------------------------------------------- CLI


def read_accounts(path: Path) -> list[tuple[str, str]]:
    """``device_id:password`` (or whitespace-separated) per line; ``#`` comments."""
    out = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        device_id, sep, password = line.partition(":")
        if not sep:
            device_id, _, password = line.partition(" ")
        out.append((device_id.strip(), password.strip()))
    return out


def _progress_line(p: LoadProgress) -> None:
    target = f"/{p.target}" if p.target is not None else ""
    bar = ""
    if p.target:
        done = int(30 * p.acked / p.target)
        bar = "[" + "#" * done + "." * (30 - done) + "] "
    sys.stderr.write(
        f"\r{bar}sent {p.sent}{target}  acked {p.acked}  failed {p.failed}  "
        f"{p.rate:,.0f}/s  {p.elapsed_s:5.1f}s "
    )
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """``salinmas sim load``: publish contract events at a set rate and report the result."""
    parser = argparse.ArgumentParser(
        prog="salinmas sim load",
        description=(
            "Publish valid weigh-in, fill and health events straight to the MQTT broker "
            "from many device accounts at a set rate, count the broker's acknowledgements "
            "and print a summary. The accounts must exist on the broker: give them in a "
            "file (--accounts, one 'device_id:password' per line) or as --devices N "
            "accounts named <prefix>-0001.. sharing --password."
        ),
    )
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--accounts", type=Path, help="file of device_id:password lines")
    parser.add_argument("--devices", type=int, default=10, help="number of generated accounts")
    parser.add_argument("--prefix", default="load", help="generated account name prefix")
    parser.add_argument("--password", default="", help="password of the generated accounts")
    parser.add_argument("--rate", type=float, default=500.0, help="events per second (total)")
    parser.add_argument("--count", type=int, default=10_000, help="events to publish")
    parser.add_argument("--duration", type=float, help="seconds to run (instead of --count)")
    parser.add_argument("--mix", default="weighin=6,fill=3,health=1", help="kind=weight,...")
    parser.add_argument("--qos", type=int, choices=[0, 1], default=1)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca-file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)

    if args.accounts:
        accounts = read_accounts(args.accounts)
    else:
        accounts = [(f"{args.prefix}-{i:04d}", args.password) for i in range(1, args.devices + 1)]
    mix = {}
    for part in args.mix.split(","):
        kind, _, weight = part.partition("=")
        mix[kind.strip()] = float(weight or 1)
    try:
        cfg = LoadConfig(
            accounts=accounts,
            host=args.host,
            port=args.port,
            rate=args.rate,
            count=None if args.duration else args.count,
            duration_s=args.duration,
            mix=mix,
            qos=args.qos,
            tls=args.tls,
            ca_file=args.ca_file,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    try:
        summary = run_load(cfg, progress=None if args.quiet else _progress_line, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        return 130
    except ConnectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(
            f"sent {summary.sent}, acked {summary.acked}, failed {summary.failed} from "
            f"{summary.devices} devices ({summary.connect_failures} could not connect) in "
            f"{summary.elapsed_s:.1f}s: {summary.rate:,.0f} acked/s; "
            + ", ".join(f"{k} {v}" for k, v in summary.by_kind.items())
        )
    return 0 if summary.acked == summary.sent and summary.failed == 0 else 1
