"""Private instances of the real services, each in its own temp dir on a free port.

Used by the pytest fixtures (``tests/conftest.py``) and by the benchmarks (``bench/``).
Every server is started with the project's own configuration and stopped (and its
directory removed) by ``stop()``; they are context managers too.

When a binary is missing on Debian/Ubuntu, :func:`ensure_packages` installs it with
apt-get (as root, or through sudo) — the test command calls it before pytest starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cloud.broker_accounts import DynsecControl, DynsecFile, initial_document
from salinmas.mqtt import Endpoint
from stack.mosquitto import mosquitto_config, start_mosquitto
from tests.support.waiting import wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")

#: binary -> Debian package
PACKAGES = {
    "mosquitto": "mosquitto",
    "mosquitto_pub": "mosquitto-clients",
    "openssl": "openssl",  # a throw-away certificate for the broker's TLS test
    "influxd": "influxdb",
    str(PG_BIN / "initdb"): "postgresql",
}


def missing_packages() -> list[str]:
    missing = []
    for binary, package in PACKAGES.items():
        found = Path(binary).exists() if binary.startswith("/") else shutil.which(binary)
        found = found or Path("/usr/sbin", binary).exists()
        if not found:
            missing.append(package)
    return sorted(set(missing))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _kill(self, sig: int = signal.SIGTERM, timeout_s: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        raise NotImplementedError

    def log_tail(self, n: int = 40) -> str:
        log = self.workdir / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


# --------------------------------------------------------------------------- Mosquitto


@dataclass
class MosquittoServer(_Server):
    """A private Mosquitto with the project's configuration and dynamic-security accounts.

    ``devices`` maps device ids to passwords; ``services`` maps service usernames to
    ``(role, password)``. Both are in the initial dynsec document; :meth:`add_device` and
    :meth:`remove_device` later go through the plugin's control topic (as provisioning
    does), with the ``admin`` service account.
    """

    port: int = 0
    services: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "salinmas-ingest": ("ingest", "ingest-pw"),
            "salinmas-api": ("api", "api-pw"),
            "salinmas-admin": ("admin", "admin-pw"),
        }
    )
    devices: dict[str, str] = field(default_factory=dict)
    max_inflight: int = 20
    max_queued: int = 100_000
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sal-mqtt-")))

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.dynsec = DynsecFile(self.workdir / "dynamic-security.json")
        self.dynsec.write(initial_document(self.services, self.devices))
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            mosquitto_config(
                port=self.port,
                workdir=self.workdir,
                dynsec_file=self.dynsec.path,
                max_inflight=self.max_inflight,
                max_queued=self.max_queued,
            )
        )
        self.conf = conf

    def start(self) -> Self:
        self.proc = start_mosquitto(self.conf, self.port)
        return self

    def endpoint(self, role: str, **kw: Any) -> Endpoint:
        """Where and who a service account of ``role`` is (for :mod:`salinmas.mqtt`)."""
        user, password = self.service(role)
        return Endpoint("127.0.0.1", self.port, user, password, **kw)

    def account_store(self) -> DynsecControl:
        """Provisioning's view of this broker: the control topic, as the admin account."""
        return DynsecControl(self.endpoint("admin"))

    def add_device(self, device_id: str, password: str) -> None:
        """Create (or re-create) a device account; nothing to do if it exists as asked."""
        if self.devices.get(device_id) == password:
            return
        store = self.account_store()
        if device_id in self.devices:
            store.remove_device(device_id)
        store.add_device(device_id, password)
        self.devices[device_id] = password

    def remove_device(self, device_id: str) -> None:
        """Delete a device account (the broker disconnects it at once)."""
        self.account_store().remove_device(device_id)
        self.devices.pop(device_id, None)

    def kill(self) -> None:
        """Crash the broker (SIGKILL): nothing flushed, like a power cut."""
        self._kill(signal.SIGKILL)

    def terminate(self) -> None:
        """A clean stop (SIGTERM: persistence saved); :meth:`start` brings it back."""
        self._kill()

    def restart(self) -> None:
        self._kill()
        self.start()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def service(self, role: str) -> tuple[str, str]:
        """(username, password) of the service account with ``role``."""
        for user, (r, pw) in self.services.items():
            if r == role:
                return user, pw
        raise KeyError(role)


# --------------------------------------------------------------------------- InfluxDB


@dataclass
class InfluxServer(_Server):
    """A private InfluxDB 1.x speaking the v1 HTTP API (``/write``, ``/query``)."""

    port: int = 0
    database: str = "salinmas"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sal-influx-")))

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.rpc_port = free_port()
        d = self.workdir
        self.conf = d / "influxdb.conf"
        self.conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n'
            "  log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            '[continuous_queries]\n  log-enabled = false\n  run-interval = "1s"\n'
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen([binary, "-config", str(self.conf)], stdout=log, stderr=log)
        try:
            wait_until(self.ping, 30, f"influxd on {self.port}", 0.1)
        except TimeoutError:
            self.stop()
            raise
        self.query(f'CREATE DATABASE "{self.database}"', method="POST")
        return self

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                return int(r.status) == 204
        except (OSError, urllib.error.URLError):
            return False

    def query(self, q: str, *, method: str = "GET", db: str | None = None) -> dict[str, object]:
        import json

        params = urllib.parse.urlencode({"q": q, "db": db or self.database, "epoch": "ms"})
        if method == "GET":
            req = urllib.request.Request(f"{self.url}/query?{params}")
        else:
            req = urllib.request.Request(f"{self.url}/query", data=params.encode())
        with urllib.request.urlopen(req, timeout=10) as r:
            result: dict[str, object] = json.loads(r.read())
            return result

    def rows(self, q: str) -> list[dict[str, object]]:
        """Rows of the first series of a SELECT, as dicts."""
        res = self.query(q)
        out: list[dict[str, object]] = []
        for result in res.get("results", []):  # type: ignore[attr-defined]
            for series in result.get("series", []):
                cols = series["columns"]
                out.extend(dict(zip(cols, v, strict=True)) for v in series["values"])
        return out

    def count(self, measurement: str, field_name: str) -> int:
        rows = self.rows(f'SELECT count("{field_name}") FROM "{measurement}"')
        return int(rows[0]["count"]) if rows else 0  # type: ignore[call-overload]

    def pause(self) -> None:
        """Stop the server but keep its data (an outage)."""
        self._kill()

    def resume(self) -> None:
        self.start()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresServer(_Server):
    """A private PostgreSQL 15 cluster (trust auth on 127.0.0.1) in a temp dir."""

    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sal-pg-")))

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.data = self.workdir / "data"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> Self:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        opts = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c max_connections=200"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.workdir / "server.log"),
            "-w",
            "start",
        )
        return self

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a fresh database (a copy of the database ``template``, which nobody may be
        connected to, if given) and return its SQLAlchemy URL."""
        copy = ["-T", template] if template else []
        self._run(str(PG_BIN / "createdb"), *self._client_args(), *copy, name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._run(str(PG_BIN / "dropdb"), *self._client_args(), name)

    def _client_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def crash(self) -> None:
        """Stop immediately, as in a power cut (recovery runs on the next start)."""
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop and delete the cluster. Immediate mode: the shut-down checkpoint of a fast
        stop would flush to disk what is deleted next. 200 databases (~3 GB, a suite's
        worth): fast stop 34.6 s + rmtree 19.3 s, immediate 0.1 s + rmtree 35.5 s."""
        self.crash()
        shutil.rmtree(self.workdir, ignore_errors=True)
