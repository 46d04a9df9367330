"""Shared helpers of the benchmark commands: /proc accounting, percentiles, machine facts."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
OUT_DIR = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parent.parent


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``timeout``, ``kill``) into SystemExit so ``finally`` blocks stop the
    private servers and child processes instead of leaving them behind."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    """Resident set (``VmRSS``) or its peak (``VmHWM``) in MiB; 0 if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for utilisation over an interval."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total


def machine_md(facts: dict[str, str]) -> str:
    """The machine facts as the markdown list docs/benchmarks.md shows."""
    return "Machine:\n\n" + "\n".join(f"- {k}: {v}" for k, v in facts.items()) + "\n"


class LoadSampler:
    """The machine's 1-minute load average, sampled every ``every_s`` while a run goes on
    (the figures of a run taken while others load the machine are noise: say so).

    >>> with LoadSampler(every_s=60) as load:  # doctest: +SKIP
    ...     run()
    >>> load.summary()  # doctest: +SKIP
    '1-min load average during the run: min 0.4, mean 1.1, max 2.0 (12 samples, 2 cores)'
    """

    def __init__(self, every_s: float = 5.0) -> None:
        import threading

        self.every_s = every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadavg", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def stats(self) -> dict[str, float]:
        s = self.samples or [0.0]
        return {"min": min(s), "mean": sum(s) / len(s), "max": max(s), "samples": len(s)}

    def summary(self) -> str:
        st = self.stats()
        return (
            f"1-min load average during the run: min {st['min']:.1f}, mean {st['mean']:.1f}, "
            f"max {st['max']:.1f} ({st['samples']:.0f} samples, {os.cpu_count()} cores)"
        )


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def _version(cmd: list[str], pattern: str) -> str:
    exe = shutil.which(cmd[0]) or (
        f"/usr/sbin/{cmd[0]}" if Path(f"/usr/sbin/{cmd[0]}").exists() else cmd[0]
    )
    try:
        out = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "?"


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS and the versions of everything in the path."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    os_name = "?"
    osr = Path("/etc/os-release")
    if osr.exists():
        m = re.search(r'^PRETTY_NAME="(.+)"', osr.read_text(), re.M)
        os_name = m.group(1) if m else "?"
    import paho.mqtt
    import pydantic
    import sqlalchemy

    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", cpuinfo, re.M)
    cpu = model.group(1).strip() if model else platform.processor()
    load = " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "cpu": cpu + (f" ({float(mhz.group(1)):.0f} MHz)" if mhz else ""),
        "cores": str(os.cpu_count()),
        "ram": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?",
        "os": f"{os_name}, kernel {platform.release()}",
        "python": sys.version.split()[0],
        "mosquitto": _version(["mosquitto", "-h"], r"mosquitto version (\S+)"),
        "influxd": _version(["influxd", "version"], r"InfluxDB v?(\S+)"),
        "postgres": _version(["/usr/lib/postgresql/15/bin/postgres", "--version"], r"\) (\S+)"),
        "paho-mqtt": paho.mqtt.__version__,
        "pydantic": pydantic.VERSION,
        "sqlalchemy": sqlalchemy.__version__,
        "load average (1/5/15 min) when written": load,
    }


def save_report(out_dir: Path, name: str, started: datetime, data: Any, md: str) -> Path:
    """``<name>-<UTC stamp>.json`` (``data``) and ``.md`` (``md``, printed too) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"{name}-{stamp}.json").write_text(json.dumps(data, indent=1, default=str))
    path = out_dir / f"{name}-{stamp}.md"
    path.write_text(md)
    print("\n" + md)
    return path
