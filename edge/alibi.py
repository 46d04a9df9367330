"""The device's configuration log: every change of its software or metrological settings.

In the spirit of a legal-for-trade scale's event logger (OIML D 31 / WELMEC 7.2): an
append-only file of JSON lines beside the key (``config-log.jsonl``), one entry per
change of the installed code (``sw_hash``), the station's configuration (protocol,
division, capacity, stability window, verification mark) or the signing key. Each entry
carries the SHA-256 of the line before it (``prev``), so an entry removed or edited on
the SD card breaks the log; each is written with ``fsync`` before the agent goes on,
and shipped to the cloud as a ``config`` event (``contract.DeviceConfig``) through the
outbox, where ingest keeps it in the device's configuration history.

The agent records at start and after each ``reload``; nothing is written when nothing
changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the fields compared between entries (a change of any is a new entry)
TRACKED = (
    "sw_hash",
    "config_hash",
    "public_key",
    "protocol",
    "division_g",
    "capacity_g",
    "min_divisions",
    "stable_window_ms",
    "min_stable_samples",
    "calibration",
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    pos: int
    change: str
    fields: dict[str, Any]


def _short(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text[:12] if len(text) == 64 else text  # hashes and keys: their first digits


def describe(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """``"division_g 10 -> 5; sw_hash 1f2e... -> 9a8b..."``, or ``"installed"`` at first."""
    if old is None:
        return "installed"
    parts = [
        f"{k} {_short(old.get(k))} -> {_short(new.get(k))}"
        for k in TRACKED
        if old.get(k) != new.get(k)
    ]
    return "; ".join(parts)[:200]


class ConfigLog:
    """The append-only, hash-chained log file (see the module docs)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (a torn last line after a crash is ignored)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return out

    def verify(self) -> int | None:
        """The position of the first entry whose ``prev`` does not match, or ``None``."""
        prev = ""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return None
        for i, line in enumerate(lines, start=1):
            if json.loads(line).get("prev") != prev:
                return i
            prev = hashlib.sha256(line.encode()).hexdigest()
        return None

    def record(self, fields: dict[str, Any], *, at: str, boot_id: str) -> LogEntry | None:
        """Append an entry when ``fields`` differ from the last one's; return it, else None."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        last = json.loads(lines[-1]) if lines else None
        now = {k: fields.get(k) for k in TRACKED}
        if last is not None and {k: last.get(k) for k in TRACKED} == now:
            return None
        change = describe(last, now)
        entry = {
            "pos": len(lines) + 1,
            "at": at,
            "boot_id": boot_id,
            "change": change,
            **fields,
            "prev": hashlib.sha256(lines[-1].encode()).hexdigest() if lines else "",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return LogEntry(int(entry["pos"]), change, dict(fields))
