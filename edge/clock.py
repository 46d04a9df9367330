"""The device clock as the wire contract needs it: which boot, how long since, and trust.

A Raspberry Pi has no real-time clock. Until NTP has synchronised it, its wall time may
be days off (the fake-hwclock restores the last shutdown time). So every event carries:

- ``boot_id`` — the kernel's random id of this boot (``/proc/sys/kernel/random/boot_id``);
  where that is unreadable, a random id kept in a file on a tmpfs (``/run/salinmas``), so
  agent restarts within one boot share it and a reboot (which empties ``/run``) changes
  it; failing that too, a random id per process start;
- ``mono_ms`` — ``CLOCK_MONOTONIC`` in milliseconds (never jumps, restarts at boot);
- ``clock_synced`` — whether NTP had synchronised the clock; when false, the cloud uses
  its receive time instead of ``device_time``.

The sync check is injectable; the default looks for systemd-timesyncd's flag file
``/run/systemd/timesync/synchronized`` (created once the first sync succeeded).

Example::

    clock = Clock.from_system()
    stamp = clock.stamp()   # Stamp(device_time=..., clock_synced=..., boot_id=..., mono_ms=...)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
DEFAULT_SYNC_FLAG = Path("/run/systemd/timesync/synchronized")
DEFAULT_BOOT_ID_FALLBACK = Path("/run/salinmas/boot_id")


@dataclass(frozen=True, slots=True)
class Stamp:
    """The time fields of one event."""

    device_time: datetime
    clock_synced: bool
    boot_id: uuid.UUID
    mono_ms: int


def read_boot_id(path: Path = DEFAULT_BOOT_ID_FILE) -> uuid.UUID | None:
    """The kernel's boot id, or ``None`` when the file is missing or malformed."""
    try:
        return uuid.UUID(path.read_text().strip())
    except (OSError, ValueError):
        return None


def boot_id(
    kernel_file: Path = DEFAULT_BOOT_ID_FILE, fallback_file: Path | None = DEFAULT_BOOT_ID_FALLBACK
) -> uuid.UUID:
    """This boot's id: the kernel's, else one kept in ``fallback_file``, else a new one."""
    found = read_boot_id(kernel_file)
    if found is not None:
        return found
    if fallback_file is not None:
        kept = read_boot_id(fallback_file)
        if kept is not None:
            return kept
    made = uuid.uuid4()
    if fallback_file is not None:
        try:
            fallback_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = fallback_file.with_suffix(".tmp")
            tmp.write_text(f"{made}\n")
            tmp.replace(fallback_file)
        except OSError:
            pass  # unwritable: one id per process start, still never wrong within it
    return made


def flag_file_check(path: Path = DEFAULT_SYNC_FLAG) -> Callable[[], bool]:
    """A sync check that is true while ``path`` exists (systemd-timesyncd's flag)."""
    return path.exists


class Clock:
    """Boot id, monotonic and wall time, and whether the wall time can be trusted."""

    def __init__(
        self,
        *,
        boot_id: uuid.UUID,
        synced: Callable[[], bool],
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.boot_id = boot_id
        self._synced = synced
        self._wall = wall
        self._monotonic_ns = monotonic_ns
        self._synced_latched = False

    @classmethod
    def from_system(
        cls,
        *,
        boot_id_file: Path = DEFAULT_BOOT_ID_FILE,
        boot_id_fallback: Path | None = DEFAULT_BOOT_ID_FALLBACK,
        sync_flag: Path = DEFAULT_SYNC_FLAG,
    ) -> Clock:
        """The Pi's clock: the boot id (see :func:`boot_id`) and timesyncd's flag."""
        return cls(
            boot_id=boot_id(boot_id_file, boot_id_fallback), synced=flag_file_check(sync_flag)
        )

    def mono_ms(self) -> int:
        return self._monotonic_ns() // 1_000_000

    def synced(self) -> bool:
        """Whether NTP has synchronised the clock during this boot (latched once true)."""
        if not self._synced_latched:
            try:
                self._synced_latched = bool(self._synced())
            except OSError:
                return False
        return self._synced_latched

    def stamp(self) -> Stamp:
        return Stamp(
            device_time=self._wall(),
            clock_synced=self.synced(),
            boot_id=self.boot_id,
            mono_ms=self.mono_ms(),
        )
