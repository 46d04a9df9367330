"""Clock (boot id, monotonic, sync flag) and the health probes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from edge.clock import Clock, boot_id, flag_file_check, read_boot_id
from edge.health import HealthProbe


def test_boot_id_from_the_kernel_file_or_none(tmp_path: Path) -> None:
    f = tmp_path / "boot_id"
    boot = uuid.uuid4()
    f.write_text(f"{boot}\n")
    assert read_boot_id(f) == boot
    f.write_text("not-a-uuid")
    assert read_boot_id(f) is None
    assert read_boot_id(tmp_path / "missing") is None


def test_kernel_boot_id_wins(tmp_path: Path) -> None:
    kernel = tmp_path / "boot_id"
    kernel.write_text(f"{uuid.uuid4()}\n")
    assert boot_id(kernel, tmp_path / "run" / "boot_id") == read_boot_id(kernel)
    assert not (tmp_path / "run" / "boot_id").exists()


def test_without_the_kernel_file_one_id_per_boot_kept_on_tmpfs(tmp_path: Path) -> None:
    run = tmp_path / "run" / "boot_id"  # /run/salinmas/boot_id: emptied at every boot
    a = Clock.from_system(boot_id_file=tmp_path / "none", boot_id_fallback=run)
    b = Clock.from_system(boot_id_file=tmp_path / "none", boot_id_fallback=run)
    assert a.boot_id == b.boot_id  # an agent restart within the boot keeps it
    run.unlink()  # a reboot
    assert boot_id(tmp_path / "none", run) != a.boot_id


def test_nowhere_to_keep_it_means_one_per_process_start(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    a = boot_id(tmp_path / "none", blocked / "boot_id")  # its parent is a file: unwritable
    b = boot_id(tmp_path / "none", blocked / "boot_id")
    assert a != b


def test_unsynced_until_the_flag_appears_then_latched(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    clock = Clock(boot_id=uuid.uuid4(), synced=flag_file_check(flag))
    assert clock.stamp().clock_synced is False
    flag.touch()
    assert clock.stamp().clock_synced is True
    flag.unlink()
    assert clock.synced() is True


def test_stamp_fields_come_from_the_injected_clocks() -> None:
    boot = uuid.uuid4()
    at = datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)
    clock = Clock(
        boot_id=boot, synced=lambda: True, wall=lambda: at, monotonic_ns=lambda: 5_432_100_000
    )
    stamp = clock.stamp()
    assert (stamp.boot_id, stamp.device_time, stamp.mono_ms) == (boot, at, 5432)


def test_health_probe_reads_linux_files(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    (tmp_path / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\n")
    (tmp_path / "uptime").write_text("12345.67 999.0\n")
    probe = HealthProbe(
        disk_path=tmp_path,
        thermal_file=tmp_path / "temp",
        meminfo_file=tmp_path / "meminfo",
        uptime_file=tmp_path / "uptime",
    )
    fields = probe.read()
    assert fields["cpu_temp_c"] == 48.3
    assert fields["mem_used_pct"] == 75.0
    assert fields["uptime_s"] == 12345
    assert 0 <= fields["disk_free_pct"] <= 100  # type: ignore[operator]


def test_health_probe_unreadable_is_none_not_an_error(tmp_path: Path) -> None:
    probe = HealthProbe(
        disk_path=tmp_path / "gone",
        thermal_file=tmp_path / "none",
        meminfo_file=tmp_path / "none",
        uptime_file=tmp_path / "none",
    )
    fields = probe.read()
    assert fields["cpu_temp_c"] is None
    assert fields["mem_used_pct"] is None
    assert fields["disk_free_pct"] is None
    assert fields["uptime_s"] == 0
