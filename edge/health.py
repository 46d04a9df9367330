"""The device's vital signs for the ``health`` heartbeat (``contract.Health``).

Every probe reads a Linux file and returns ``None`` where it is not readable (a
container, a laptop without thermal zones), never raising:

====================  ==============================================  =========
field                 source                                          unit
====================  ==============================================  =========
``cpu_temp_c``        ``/sys/class/thermal/thermal_zone0/temp``       degC
``load1``             ``os.getloadavg()``                              -
``mem_used_pct``      ``/proc/meminfo`` (MemTotal - MemAvailable)     %
``disk_free_pct``     ``os.statvfs`` of the outbox's filesystem       %
``uptime_s``          ``/proc/uptime``                                s
====================  ==============================================  =========
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


@dataclass(frozen=True)
class HealthProbe:
    """Where to read from (overridable for tests and unusual boards)."""

    disk_path: Path = Path("/")
    thermal_file: Path = DEFAULT_THERMAL
    meminfo_file: Path = Path("/proc/meminfo")
    uptime_file: Path = Path("/proc/uptime")

    def cpu_temp_c(self) -> float | None:
        try:
            value = round(int(self.thermal_file.read_text().strip()) / 1000, 1)
        except (OSError, ValueError):
            return None
        return value if -60 <= value <= 150 else None

    def load1(self) -> float | None:
        try:
            return round(os.getloadavg()[0], 2)
        except OSError:
            return None

    def mem_used_pct(self) -> float | None:
        try:
            fields = {}
            for line in self.meminfo_file.read_text().splitlines():
                name, _, rest = line.partition(":")
                fields[name] = int(rest.split()[0])
            total, available = fields["MemTotal"], fields["MemAvailable"]
        except (OSError, ValueError, KeyError, IndexError):
            return None
        if total <= 0:
            return None
        return round(min(100.0, max(0.0, 100 * (total - available) / total)), 1)

    def disk_free_pct(self) -> float | None:
        try:
            st = os.statvfs(self.disk_path)
        except OSError:
            return None
        if st.f_blocks == 0:
            return None
        return round(100 * st.f_bavail / st.f_blocks, 1)

    def uptime_s(self) -> int:
        try:
            return int(float(self.uptime_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            return 0

    def read(self) -> dict[str, object]:
        """The probe fields of ``contract.Health`` (``None`` where unreadable)."""
        return {
            "cpu_temp_c": self.cpu_temp_c(),
            "load1": self.load1(),
            "mem_used_pct": self.mem_used_pct(),
            "disk_free_pct": self.disk_free_pct(),
            "uptime_s": self.uptime_s(),
        }
