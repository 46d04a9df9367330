"""A private gammu-smsd (Debian ``gammu-smsd`` 1.42) on its dummy phone driver.

The dummy driver (``model = dummy``, a directory as the "device") is a phone without a
modem: gammu-smsd reads its SQL outbox, "sends" each message and moves it to
``sentitems`` with ``Status = SendingOKNoReport`` — the same code path as with a modem,
minus the radio. It looks at an empty outbox again after ``commtimeout`` seconds (1
here; gammu's default is 30). The SQL backend is the ledger database (SQLite via
libdbi's sqlite3 driver, PostgreSQL natively), configured by
:func:`cloud.notifications.channels.gammu.smsdrc` exactly as in production.

``gammu-smsd-monitor`` reads the daemon's shared-memory status (sent/failed counters);
:meth:`GammuSmsd.monitor` returns it as a dict.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from cloud.notifications.channels.gammu import smsdrc
from cloud.notifications.settings import GammuChannelSettings
from tests.support.waiting import wait_until

#: binary -> Debian package (libdbd-sqlite3: gammu-smsd's SQLite driver through libdbi)
PACKAGES = {
    "gammu-smsd": "gammu-smsd",
    "/usr/lib/x86_64-linux-gnu/dbd/libdbdsqlite3.so": "libdbd-sqlite3",
}


def missing_packages() -> list[str]:
    out = []
    for binary, package in PACKAGES.items():
        found = Path(binary).exists() if binary.startswith("/") else shutil.which(binary)
        if not found:
            out.append(package)
    return out


@dataclass
class GammuSmsd:
    """gammu-smsd on the dummy phone, sending from ``ledger_url``'s Gammu tables."""

    ledger_url: str
    settings: GammuChannelSettings = field(default_factory=GammuChannelSettings)
    phone_id: str = "salinmas-test"
    #: gammu-smsd's DebugLevel (255: every SQL statement in the log; 0 keeps numbers out)
    debug_level: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sal-gammu-")))
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        (self.workdir / "phone").mkdir(exist_ok=True)
        self.log = self.workdir / "smsd.log"
        self.config = self.workdir / "smsdrc"
        self.config.write_text(
            smsdrc(
                self.ledger_url,
                self.settings,
                device=str(self.workdir / "phone"),
                connection="none",
                model="dummy",
                phone_id=self.phone_id,
                logfile=self.log,
                comm_timeout_s=1,
            ).replace("debuglevel = 0", f"debuglevel = {self.debug_level}")
        )

    def start(self) -> Self:
        missing = missing_packages()
        if missing:
            raise RuntimeError(f"install {' '.join(missing)} (scripts/bootstrap dev does)")
        out = (self.workdir / "stdout.log").open("ab")
        self.proc = subprocess.Popen(
            ["gammu-smsd", "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT
        )
        wait_until(self._connected, 20, "gammu-smsd to reach its database")
        return self

    def _connected(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"gammu-smsd exited:\n{self.log_tail()}")
        return self.log.exists() and "Starting phone communication" in self.log.read_text(
            errors="replace"
        )

    def monitor(self) -> dict[str, str]:
        """``gammu-smsd-monitor`` once: PhoneID, Sent, Failed, ... (shared memory)."""
        out = subprocess.run(
            ["gammu-smsd-monitor", "-c", str(self.config), "-n", "1", "-d", "0"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        return {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in out.splitlines())
            if v
        }

    def log_tail(self, n: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
