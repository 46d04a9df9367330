"""Bin mode: sample each bin's fill level on a schedule, report on change and heartbeat.

A :class:`BinMonitor` wraps one bin's fill sensor (HC-SR04 via gpiozero, from the firmware
bridge) and decides when a sample is worth a ``fill`` event:

- the first sample after start-up;
- a fill level that moved ``report_delta_pct`` or more since the last report;
- a sensor fault appearing or clearing (a fault is reported as a fault, never as 0 % or
  100 %), a lid that opened or closed, a bin tipped over or set upright;
- otherwise at least every ``heartbeat_s`` so the cloud knows the bin is alive.

The agent calls :meth:`BinMonitor.poll` from its main loop; it samples only when due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contract.models import SensorFault
from edge.config import BinSettings

log = logging.getLogger("salinmas.edge.bins")


class Measurement(Protocol):
    @property
    def fill_pct(self) -> float | None: ...
    @property
    def distance_mm(self) -> int | None: ...
    @property
    def fault(self) -> object: ...


class FillSource(Protocol):
    def measure(self) -> Measurement: ...


@dataclass(frozen=True, slots=True)
class FillReport:
    """What goes into one ``contract.Fill`` event."""

    bin_id: str
    fill_pct: float | None
    distance_mm: int | None
    fault: SensorFault | None
    lid_open: bool | None
    tilted: bool | None = None


def as_fault(value: object) -> SensorFault | None:
    """The contract's fault code for whatever the sensor reported (``None`` = no fault)."""
    if value is None or value is False:
        return None
    raw = getattr(value, "value", value)
    try:
        return SensorFault(str(raw))
    except ValueError:
        return SensorFault.HARDWARE


class BinMonitor:
    """Schedules and filters one bin's samples (see the module docs)."""

    def __init__(
        self,
        settings: BinSettings,
        sensor: FillSource,
        *,
        lid_open: Callable[[], bool] | None = None,
        tilted: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.sensor = sensor
        self._lid_open = lid_open
        self._tilted = tilted
        self._next_sample: float | None = None
        self._last: FillReport | None = None
        self._last_report_at = 0.0
        self.samples = 0
        self.reports = 0

    def poll(self, now: float) -> FillReport | None:
        """Sample if due (monotonic ``now``); return a report when one should be sent."""
        if self._next_sample is not None and now < self._next_sample:
            return None
        self._next_sample = now + self.settings.sample_interval_s
        return self.sample(now)

    def sample(self, now: float) -> FillReport | None:
        m = self.sensor.measure()
        self.samples += 1
        fault = as_fault(m.fault)
        pct = None if fault is not None else m.fill_pct
        if pct is None and fault is None:
            fault = SensorFault.HARDWARE
        lid = self._lid_open() if self._lid_open is not None else None
        tilted = self._tilted() if self._tilted is not None else None
        report = FillReport(
            bin_id=self.settings.bin_id,
            fill_pct=None if pct is None else round(min(100.0, max(0.0, pct)), 1),
            distance_mm=m.distance_mm if fault is None else None,
            fault=fault,
            lid_open=lid,
            tilted=tilted,
        )
        if not self._worth_reporting(report, now):
            return None
        if fault is not None and (self._last is None or self._last.fault != fault):
            log.warning("bin %s sensor fault: %s", report.bin_id, fault.value)
        self._last = report
        self._last_report_at = now
        self.reports += 1
        return report

    def next_due(self) -> float | None:
        return self._next_sample

    def _worth_reporting(self, report: FillReport, now: float) -> bool:
        last = self._last
        if last is None:
            return True
        if now - self._last_report_at >= self.settings.heartbeat_s:
            return True
        if (report.fault, report.lid_open, report.tilted) != (
            last.fault,
            last.lid_open,
            last.tilted,
        ):
            return True
        if report.fill_pct is not None and last.fill_pct is not None:
            return abs(report.fill_pct - last.fill_pct) >= self.settings.report_delta_pct
        return False
