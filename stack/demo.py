"""``salinmas demo``: the whole system with simulated devices, on the embedded defaults.

:class:`DemoStack` starts, in order: the ledger (SQLite, migrated and seeded with a waste
bank, categories, prices, households with member cards and PINs, staff logins, devices
and bins), an MQTT broker (a private Mosquitto when installed, else the in-process amqtt
broker — both with one account per device and the project's ACL), cloud ingest and the
API with the dashboard (as child processes), and a fleet of simulated scale stations and
bins running as real edge agents. Browser tests and benchmarks use the same class.

Every child runs in its own process group; :meth:`DemoStack.stop` (and Ctrl-C) ends each
group, so no process is left behind. Passwords are generated per data directory
(``var/demo/secrets.json``, never committed) and printed in the banner.

One module of ~600 lines on purpose: the start order, the generated secrets, the
configuration each child reads and the stop in reverse order are one sequence; the
pieces it starts live in their own packages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

log = logging.getLogger("stack.demo")

SITE = "bank-sokaraja"
SITE_NAME = "Bank Sampah Sokaraja"
#: the demo's two-person payout threshold (cloud.payouts; a setting of the API)
DEMO_TWO_PERSON_RP = 50_000
CATEGORIES = [  # code, Indonesian, English, rupiah per kg
    ("organic", "Sampah organik", "Organic waste", 500),
    ("plastic-pet", "Plastik PET (botol)", "PET plastic (bottles)", 3000),
    ("plastic-mixed", "Plastik campur", "Mixed plastic", 1500),
    ("paper", "Kertas & kardus", "Paper & cardboard", 1800),
]
HOUSEHOLD_NAMES = [
    "Siti Aminah",
    "Budi Santoso",
    "Dewi Lestari",
    "Agus Riyanto",
    "Sri Wahyuni",
    "Joko Susilo",
    "Rina Marlina",
    "Eko Prasetyo",
    "Yuni Astuti",
    "Heru Purnomo",
    "Wati Suryani",
    "Bambang Hartono",
    "Nur Hidayah",
    "Slamet Riyadi",
    "Ratna Sari",
    "Teguh Wibowo",
    "Lastri Handayani",
    "Dwi Cahyono",
    "Endang Kurniasih",
    "Parno Sutrisno",
]
STREETS = ["Mawar", "Melati", "Kenanga", "Anggrek", "Flamboyan", "Cempaka", "Dahlia"]
BROKER_ADMIN = "salinmas-admin"
#: the demo's waste bank in Sokaraja (Banyumas; Purwokerto is ~-7.42, 109.23): stations
#: stand at the bank, bins in the streets around it
STATION_SPOT = (-7.4581, 109.2869)
BIN_SPOT = (-7.4552, 109.2812)


def place(spot: tuple[float, float], n: int) -> tuple[float, float]:
    """The n-th device around ``spot``: a few hundred metres apart on a loose grid."""
    lat, lon = spot
    return round(lat - 0.0021 * (n // 4) - 0.0007 * (n % 2), 6), round(lon + 0.0024 * (n % 4), 6)


def home_of(index: int) -> tuple[float, float, str]:
    """Where household ``index`` lives: around the bank (within ~1.5 km), with an address."""
    angle = 2.399963 * index  # the golden angle: homes spread evenly, none on top of another
    r = 0.004 + 0.0025 * (index % 4)
    lat = round(STATION_SPOT[0] + r * math.sin(angle), 6)
    lon = round(STATION_SPOT[1] + r * math.cos(angle), 6)
    return lat, lon, f"Jl. {STREETS[index % len(STREETS)]} {index + 1}, Sokaraja"


def card_of(index: int) -> str:
    """The demo member card of household ``index`` (10 hex characters, like an RDM6300)."""
    return f"0A{index + 0x10000:08X}"


def member_no(index: int) -> str:
    return f"BMS-{index + 1:04d}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoSecrets:
    """Generated once per data directory; printed in the banner, never committed."""

    jwt_secret: str
    ingest_password: str
    api_password: str
    broker_admin_password: str
    admin_password: str
    operator_password: str
    collector_password: str
    household_pin: str
    devices: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path, device_ids: list[str]) -> DemoSecrets:
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        made = cls(
            jwt_secret=data.get("jwt_secret") or secrets.token_urlsafe(48),
            ingest_password=data.get("ingest_password") or secrets.token_urlsafe(18),
            api_password=data.get("api_password") or secrets.token_urlsafe(18),
            broker_admin_password=data.get("broker_admin_password") or secrets.token_urlsafe(18),
            admin_password=data.get("admin_password") or secrets.token_urlsafe(9),
            operator_password=data.get("operator_password") or secrets.token_urlsafe(9),
            collector_password=data.get("collector_password") or secrets.token_urlsafe(9),
            household_pin=data.get("household_pin") or f"{secrets.randbelow(10**6):06d}",
            devices=dict(data.get("devices") or {}),
        )
        for d in device_ids:
            made.devices.setdefault(d, secrets.token_urlsafe(18))
        path.write_text(json.dumps(made.__dict__, indent=2))
        path.chmod(0o600)
        return made


@dataclass
class DemoStack:
    """The running demo. ``with DemoStack(...) as stack:`` starts and stops it."""

    data_dir: Path = Path("var/demo")
    api_port: int = 8000
    mqtt_port: int = 0
    stations: int = 2
    bins: int = 3
    households: int = 12
    speed: float = 288.0
    broker: str = "auto"  # auto | embedded | mosquitto
    #: how often (real seconds) the simulated households arrive at each station
    visit_every_s: float = 8.0
    #: JEKNYONG: households ask for pickups at their door and the collector rides its
    #: route (simulators.doorstep); off, the collector only serves what tests ask for
    doorstep: bool = True
    #: how often (real seconds) a household asks for a pickup at its door
    request_every_s: float = 15.0
    quiet: bool = False
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _embedded: Any = None
    _mosquitto: subprocess.Popen[bytes] | None = None
    _fleet: Any = None
    _doorstep: Any = None
    household_ids: list[int] = field(default_factory=list)

    # ------------------------------------------------------------------ naming

    @property
    def station_ids(self) -> list[str]:
        return [f"st-demo-{i + 1:02d}" for i in range(self.stations)]

    @property
    def bin_device_ids(self) -> list[str]:
        return [f"bin-demo-{i + 1:02d}" for i in range(self.bins)]

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'ledger.db').resolve()}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def broker_kind(self) -> str:
        return "mosquitto" if self._mosquitto is not None else "embedded"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DemoStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.mqtt_port = self.mqtt_port or free_port()
        self.secrets = DemoSecrets.load_or_create(
            self.data_dir / "secrets.json", self.station_ids + self.bin_device_ids
        )
        try:
            self._seed()
            self._start_broker()
            self._write_cloud_config()
            self.start_process("ingest")
            self.start_process("api")
            self._start_fleet()
            if self.doorstep:
                self._start_doorstep()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._doorstep is not None:
            with contextlib.suppress(Exception):
                self._doorstep.stop()
            self._doorstep = None
        if self._fleet is not None:
            with contextlib.suppress(Exception):
                self._fleet.stop()
            self._fleet = None
        for name, proc in reversed(list(self._procs.items())):
            _end_group(proc, name)
        self._procs.clear()
        if self._mosquitto is not None:
            _end_group(self._mosquitto, "mosquitto")
            self._mosquitto = None
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    @property
    def fleet(self) -> Any:
        """The running :class:`simulators.fleet.Fleet` (None before start/after stop)."""
        return self._fleet

    #: the cloud processes the stack runs, by name
    PROCESSES: ClassVar[dict[str, tuple[str, ...]]] = {
        "ingest": ("ingest", "run"),
        "api": ("api", "run"),
    }

    def stop_process(self, name: str, timeout_s: float = 10) -> None:
        """End one cloud process (``ingest`` or ``api``) and its children, as a crash would."""
        proc = self._procs.pop(name)
        _end_group(proc, name, timeout_s=timeout_s)

    def start_process(self, name: str) -> None:
        """Start a cloud process stopped with :meth:`stop_process`; the API is waited for."""
        self._spawn(name, *self.PROCESSES[name], "--config", str(self.cloud_config))
        if name == "api":
            self.wait_for_api()

    def check_children(self) -> list[str]:
        """Names of child processes that have exited (a healthy demo returns [])."""
        return [n for n, p in self._procs.items() if p.poll() is not None]

    # ------------------------------------------------------------------ parts

    def _seed(self) -> None:
        from sqlalchemy import select

        from cloud import auth, devices, households, pickups, pricing
        from cloud.db import make_engine, migrate, session_factory
        from cloud.models.auth import User
        from cloud.models.doorstep import CollectorProfile

        migrate(self.ledger_url)
        engine = make_engine(self.ledger_url)
        try:
            with session_factory(engine)() as s, s.begin():
                site = households.ensure_site(s, code=SITE, name=SITE_NAME)
                site.lat, site.lon = STATION_SPOT  # the depot of the collector's routes
                for code, name_id, name_en, price in CATEGORIES:
                    pricing.ensure_category(s, code=code, name_id=name_id, name_en=name_en)
                    current = pricing.price_at(s, category=code, at=datetime.now(UTC))
                    if current is None:
                        pricing.set_price(
                            s,
                            category=code,
                            rp_per_kg=price,
                            effective_from=datetime.now(UTC) - timedelta(days=1),
                            by="demo",
                        )
                self.household_ids = []
                for i in range(self.households):
                    existing = households.household_for_card(s, card_id=card_of(i))
                    if existing is not None:
                        self.household_ids.append(existing.id)
                        continue
                    lat, lon, address = home_of(i)
                    hh = households.register_household(
                        s,
                        member_no=member_no(i),
                        name=HOUSEHOLD_NAMES[i % 20],
                        site=SITE,
                        address=address,
                    )
                    hh.lat, hh.lon = lat, lon
                    s.flush()
                    self.household_ids.append(hh.id)
                    households.link_card(s, card_id=card_of(i), household_id=hh.id, by="demo")
                    auth.set_household_pin(
                        s, household_id=hh.id, pin=self.secrets.household_pin, by="demo"
                    )
                for n, d in enumerate(self.station_ids):
                    dev = devices.register_device(s, device_id=d, kind="station", site=SITE)
                    dev.lat, dev.lon = place(STATION_SPOT, n)
                for n, d in enumerate(self.bin_device_ids):
                    devices.register_device(s, device_id=d, kind="bin", site=SITE)
                    lat, lon = place(BIN_SPOT, n)
                    pickups.register_bin(
                        s,
                        bin_id=f"{d}-a",
                        site=SITE,
                        device_id=d,
                        category="plastic-mixed" if n % 2 else "organic",
                        name=f"Tong {n + 1}",
                        lat=lat,
                        lon=lon,
                        empty_depth_mm=1000,
                        threshold_pct=80.0,
                    )
                users = [
                    ("admin", self.secrets.admin_password, "admin", "Admin Salinmas"),
                    ("operator", self.secrets.operator_password, "operator", "Bu Sri (operator)"),
                    ("kolektor1", self.secrets.collector_password, "collector", "Pak Budi"),
                ]
                for username, password, role, display in users:
                    if s.scalar(select(User.id).where(User.username == username)) is None:
                        auth.create_user(
                            s,
                            username=username,
                            password=password,
                            role=role,
                            display_name=display,
                            site_id=None if role == "admin" else site.id,
                        )
                # the collector's motorbike: 60 kg, on shift from an hour ago for 12 hours
                collector = s.scalar(select(User).where(User.username == "kolektor1"))
                assert collector is not None
                profile = s.get(CollectorProfile, collector.id) or CollectorProfile(
                    user_id=collector.id
                )
                local = datetime.now(ZoneInfo("Asia/Jakarta")) - timedelta(hours=1)
                profile.site_id, profile.capacity_g = site.id, 60_000
                profile.shift_start, profile.shift_hours = f"{local:%H}:00", 12.0
                profile.empties_bins, profile.on_duty = self.doorstep, True
                s.add(profile)
        finally:
            engine.dispose()

    @property
    def _accounts_file(self) -> Path:
        return (self.data_dir / "broker-accounts.json").resolve()

    def _write_accounts(self) -> None:
        """The broker's dynamic-security document: service accounts and the demo devices."""
        from cloud.broker_accounts import ADMIN, API, INGEST, DynsecFile, initial_document

        services = {
            "salinmas-ingest": (INGEST, self.secrets.ingest_password),
            "salinmas-api": (API, self.secrets.api_password),
            BROKER_ADMIN: (ADMIN, self.secrets.broker_admin_password),
        }
        DynsecFile(self._accounts_file).write(initial_document(services, self.secrets.devices))

    def _start_broker(self) -> None:
        from stack.mosquitto import mosquitto_binary, mosquitto_config, start_mosquitto

        self._write_accounts()
        use_mosquitto = self.broker == "mosquitto" or (
            self.broker == "auto" and mosquitto_binary() is not None
        )
        if use_mosquitto:
            workdir = (self.data_dir / "mosquitto").resolve()
            workdir.mkdir(exist_ok=True)
            conf = workdir / "mosquitto.conf"
            conf.write_text(
                mosquitto_config(
                    port=self.mqtt_port,
                    workdir=workdir,
                    dynsec_file=self._accounts_file,
                    max_inflight=1000,
                )
            )
            self._mosquitto = start_mosquitto(conf, self.mqtt_port)
        else:
            from stack.broker import EmbeddedBroker

            self._embedded = EmbeddedBroker(port=self.mqtt_port, accounts_file=self._accounts_file)
            self._embedded.start()

    @property
    def cloud_config(self) -> Path:
        return self.data_dir / "cloud.toml"

    def _write_cloud_config(self) -> None:
        d = self.data_dir.resolve()
        mosq = self.broker_kind == "mosquitto"
        telemetry = {"backend": "sqlite", "sqlite_path": str(d / "telemetry.db")}
        doc = {
            "ingest": {
                "ledger_url": self.ledger_url,
                "mqtt_port": self.mqtt_port,
                "mqtt_password": self.secrets.ingest_password,
                "mqtt_protocol": "5" if mosq else "3.1.1",
                "share_group": "ingest" if mosq else "",
                "client_id": "salinmas-ingest-demo",
                "telemetry": telemetry,
            },
            "api": {
                "ledger_url": self.ledger_url,
                "port": self.api_port,
                "jwt_secret": self.secrets.jwt_secret,
                # low enough that the demo's bags reach it: a payout from Rp 50.000 on is
                # approved by a second person (production's default is Rp 200.000)
                "two_person_payout_rp": DEMO_TWO_PERSON_RP,
                "mqtt": {
                    "port": self.mqtt_port,
                    "host": "127.0.0.1",
                    "password": self.secrets.api_password,
                },
                "broker": {
                    "backend": "mosquitto" if mosq else "file",
                    "username": BROKER_ADMIN,
                    "password": self.secrets.broker_admin_password,
                    "path": str(self._accounts_file),
                },
                "telemetry": telemetry,
            },
            # `salinmas notify run --config cloud.toml` sends what the outbox holds; the
            # demo has no SMS modem or gateway: its households read their in-app inbox
            "notify": {"ledger_url": self.ledger_url},
        }
        self.cloud_config.write_text(_to_toml(doc))

    def _spawn(self, name: str, *args: str) -> None:
        logfile = (self.data_dir / f"{name}.log").open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._procs[name] = subprocess.Popen(
            [sys.executable, "-m", "salinmas", *args],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: stop() ends it and its children
        )

    def wait_for_api(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = self.check_children()
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited; see {self.data_dir}/*.log")
            try:
                url = f"{self.api_url}/api/v1/health"
                with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 (our own http URL)
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the API did not answer on {self.api_url} in {timeout_s:.0f}s")

    def _start_fleet(self) -> None:
        from simulators.fleet import Fleet

        self._fleet = Fleet(
            workdir=self.data_dir / "fleet",
            mqtt_host="127.0.0.1",
            mqtt_port=self.mqtt_port,
            stations={d: self.secrets.devices[d] for d in self.station_ids},
            bins={d: self.secrets.devices[d] for d in self.bin_device_ids},
            cards=[card_of(i) for i in range(self.households)],
            speed=self.speed,
            visit_every_s=self.visit_every_s,
            api_url=self.api_url,
            api_login=("admin", self.secrets.admin_password),
            tickets=self.tickets_file,
            waste_bank=SITE_NAME,
            category_names={code: name for code, name, _, _ in CATEGORIES},
        )
        self._fleet.start()

    @property
    def tickets_file(self) -> Path:
        """Where the stations' simulated ticket printers write what they print."""
        return self.data_dir / "tickets.txt"

    def _start_doorstep(self) -> None:
        from simulators.doorstep import DoorstepSim, Home

        homes = [
            Home(member_no(i), self.secrets.household_pin, *home_of(i))
            for i in range(self.households)
        ]
        self._doorstep = DoorstepSim(
            api_url=self.api_url,
            homes=homes,
            collector=("kolektor1", self.secrets.collector_password),
            operator=("operator", self.secrets.operator_password),
            speed=self.speed,
            request_every_s=self.request_every_s,
        ).start()

    # ------------------------------------------------------------------ banner

    def banner(self) -> str:
        s = self.secrets
        broker = "Mosquitto" if self.broker_kind == "mosquitto" else "embedded amqtt"
        return "\n".join(
            [
                "",
                "Salinmas demo is running (Ctrl-C stops everything).",
                f"  dashboard      {self.api_url}/",
                f"  API docs       {self.api_url}/docs",
                f"  admin login    admin / {s.admin_password}",
                f"  operator       operator / {s.operator_password}",
                f"  collector      kolektor1 / {s.collector_password}",
                f"  households     {member_no(0)} .. {member_no(self.households - 1)}, "
                f"PIN {s.household_pin}",
                f"  MQTT broker    {broker} on 127.0.0.1:{self.mqtt_port}",
                f"  devices        {', '.join(self.station_ids + self.bin_device_ids)}",
                f"  state, logs    {self.data_dir}/",
                f"  ticket printer {self.tickets_file} (the stations' simulated printers)",
                "",
                "JEKNYONG: households ask for plastic pickups at their door; the collector's",
                f"  route and phone page: {self.api_url}/collector.html (kolektor1), the routes",
                "  on the dashboard's Penjemputan view; each doorstep weigh-in is credited.",
                "",
                f"Watch {member_no(0)}'s balance grow:",
                f"  TOKEN=$(curl -s -X POST {self.api_url}/api/v1/auth/household-login "
                f"-H 'Content-Type: application/json' "
                f'-d \'{{"member_no":"{member_no(0)}","pin":"{s.household_pin}"}}\' '
                "| python3 -c 'import sys,json;print(json.load(sys.stdin)[\"access_token\"])')",
                f'  curl -s -H "Authorization: Bearer $TOKEN" '
                f"{self.api_url}/api/v1/households/{self.household_ids[0]}/balance",
                "",
            ]
        )


def _end_group(proc: subprocess.Popen[bytes], name: str, timeout_s: float = 10) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", name, timeout_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever its children left behind
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _to_toml(doc: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the demo's generated config (tables, scalars, strings)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((f"{prefix}{key}", value))
        elif value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        out += f"\n[{name}]\n" + _to_toml(table, f"{name}.")
    if not prefix:
        tomllib.loads(out)  # never write a file the processes cannot read
    return out


def main(ns: argparse.Namespace) -> int:
    stack = DemoStack(
        data_dir=ns.data_dir,
        api_port=ns.port,
        mqtt_port=ns.mqtt_port,
        stations=ns.stations,
        bins=ns.bins,
        speed=ns.speed,
        broker=ns.broker,
    )
    stop = {"now": False}

    def _signal(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    for noisy in ("alembic", "amqtt", "transitions", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    print("Starting the Salinmas demo ...", flush=True)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        started = time.monotonic()
        while not stop["now"]:
            if ns.seconds and time.monotonic() - started >= ns.seconds:
                break
            dead = stack.check_children()
            if dead:
                print(f"{', '.join(dead)} exited; see {stack.data_dir}/*.log", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


def iter_logs(stack: DemoStack) -> Iterator[Path]:
    yield from sorted(stack.data_dir.glob("*.log"))
