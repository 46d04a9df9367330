"""Telemetry points, the measurement schema, and the writer and reader interfaces.

Measurements (tags are low-cardinality identity; everything else is a field):

==========  ==========================  ==============================================
measurement tags                        fields
==========  ==========================  ==============================================
weighin     device, site, category      net_g, tare_g, amount_rp, price_rp_per_kg,
                                        household_id, status, seq
fill        device, site, bin, category fill_pct, distance_mm, fault, lid_open, tilted,
                                        seq
health      device, site                uptime_s, outbox_depth, outbox_capacity,
                                        weighins_refused, telemetry_thinned, load1,
                                        mem_used_pct, disk_free_pct, cpu_temp_c, seq
==========  ==========================  ==============================================

Timestamp: the event's time by the clock rule (``at``, worked out by the caller with
the domain's :func:`cloud.clock.event_time`), in whole milliseconds, plus
``seq mod 10**6`` nanoseconds. Two readings of one device therefore never collide, and a
replayed event lands on the same timestamp and overwrites itself harmlessly (same
series, same time, same fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable

from contract import Fill, Health, Weighin

FieldValue = int | float | bool | str
MEASUREMENTS = ("weighin", "fill", "health")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_ns(at: datetime, seq: int) -> int:
    """Milliseconds of ``at`` in ns, plus ``seq mod 10**6`` ns (see the module docstring)."""
    d = at - _EPOCH  # exact integer arithmetic (a float timestamp could round a ms off)
    ms = (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000
    return ms * 1_000_000 + seq % 1_000_000


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    ts_ns: int

    @property
    def time(self) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.ts_ns // 1000)


def _tags(**kw: str | None) -> dict[str, str]:
    return {k: v for k, v in kw.items() if v}


def _fields(**kw: FieldValue | None) -> dict[str, FieldValue]:
    return {k: v for k, v in kw.items() if v is not None}


def weighin_point(
    event: Weighin,
    *,
    at: datetime,
    site: str | None,
    status: str,
    amount_rp: int,
    price_rp_per_kg: int | None,
    household_id: int | None,
) -> TelemetryPoint:
    """The point of one weigh-in; ``at`` is its effective time (from the ledger record).

    A rejected weigh-in has no ``category`` tag: its category may be one nobody
    registered, and a device must not be able to open a new series by naming one.
    """
    category = None if status == "rejected" else event.category
    return TelemetryPoint(
        "weighin",
        _tags(device=event.device_id, site=site, category=category),
        _fields(
            net_g=event.net_g,
            tare_g=event.tare_g,
            amount_rp=amount_rp,
            price_rp_per_kg=price_rp_per_kg,
            household_id=household_id,
            status=status,
            seq=event.seq,
        ),
        timestamp_ns(at, event.seq),
    )


def fill_point(
    event: Fill, *, at: datetime, site: str | None, category: str | None
) -> TelemetryPoint:
    """The point of one fill reading; ``at`` is its event time (the clock rule)."""
    # the ingest makes one of these per fill reading: dicts built directly, not via kwargs
    tags = {"device": event.device_id, "bin": event.bin_id}
    if site:
        tags["site"] = site
    if category:
        tags["category"] = category
    fields: dict[str, FieldValue] = {"seq": event.seq}
    if event.fill_pct is not None:
        fields["fill_pct"] = event.fill_pct
    if event.distance_mm is not None:
        fields["distance_mm"] = event.distance_mm
    if event.fault is not None:
        fields["fault"] = event.fault.value
    if event.lid_open is not None:
        fields["lid_open"] = event.lid_open
    if event.tilted is not None:
        fields["tilted"] = event.tilted
    return TelemetryPoint("fill", tags, fields, timestamp_ns(at, event.seq))


def health_point(event: Health, *, at: datetime, site: str | None) -> TelemetryPoint:
    """The point of one health report; ``at`` is its event time (the clock rule)."""
    return TelemetryPoint(
        "health",
        _tags(device=event.device_id, site=site),
        _fields(
            uptime_s=event.uptime_s,
            outbox_depth=event.outbox_depth,
            outbox_capacity=event.outbox_capacity,
            weighins_refused=event.weighins_refused,
            telemetry_thinned=event.telemetry_thinned,
            load1=event.load1,
            mem_used_pct=event.mem_used_pct,
            disk_free_pct=event.disk_free_pct,
            cpu_temp_c=event.cpu_temp_c,
            seq=event.seq,
        ),
        timestamp_ns(at, event.seq),
    )


@dataclass(frozen=True, slots=True)
class FillSample:
    time: datetime
    fill_pct: float


#: a fill history longer than this comes hourly (each hour's mean, at the hour's start),
#: a shorter one reading by reading: a month is 720 points, not 8,640
FILL_READINGS_UP_TO = timedelta(days=2)


def fill_hourly(start: datetime, end: datetime) -> bool:
    """Whether :meth:`TelemetryReader.fill_history` answers hourly for this range."""
    return end - start > FILL_READINGS_UP_TO


@dataclass(frozen=True, slots=True)
class CategoryDay:
    """Weight and money of one category on one local day (optionally per site/device)."""

    day: date
    category: str
    net_g: int
    amount_rp: int
    weighins: int
    site: str | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class HealthSample:
    time: datetime
    values: dict[str, FieldValue] = field(default_factory=dict)


def check_group_by(by: str | None) -> None:
    """Refuse a grouping :meth:`TelemetryReader.category_days` does not know."""
    if by not in (None, "site", "device"):
        raise ValueError("by must be None, 'site' or 'device'")


@runtime_checkable
class TelemetryWriter(Protocol):
    """Where the ingest's telemetry goes (InfluxDB, the embedded SQLite file, several).

    :meth:`write` returns once the points are *durable* (buffered on disk or stored);
    it never waits for a remote server.
    """

    def start(self) -> None: ...

    def write(self, points: Sequence[TelemetryPoint]) -> None: ...

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything written has reached the store; False on timeout."""
        ...

    def pending(self) -> int:
        """Points written but not yet in the store (0 for a local store)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TelemetryReader(Protocol):
    """What the API's charts and reports read; what has reached the store."""

    def close(self) -> None: ...

    def count(self, measurement: str) -> int: ...

    def fill_history(self, *, bin_id: str, start: datetime, end: datetime) -> list[FillSample]:
        """A bin's readings, or hourly means over a long range (:func:`fill_hourly`)."""
        ...

    def category_days(
        self,
        *,
        start: datetime,
        end: datetime,
        by: str | None = None,
        site: str | None = None,
        device: str | None = None,
    ) -> list[CategoryDay]:
        """Per local day and category (``by``: None, ``"site"`` or ``"device"``)."""
        ...

    def device_health(
        self, *, device_id: str, start: datetime, end: datetime
    ) -> list[HealthSample]: ...
