"""What an ingest worker keeps in memory between batches: devices and the bins' state.

Both are caches in front of the ledger database, so that the steady stream of fill
readings costs a few statements per *batch* rather than several per message (the
profile in ``docs/benchmarks.md`` found ~90 % of a worker's time in per-message ORM
work before).

Devices (:class:`DeviceCache`): kind, revocation, site and scale capacity of each device
id, loaded in bulk for the ids of a batch. Every batch first reads a fingerprint of the
registry (one aggregate query: number of devices, newest registration, number and newest
of the revocations, sum of the capacities); when it changed — a device registered,
revoked or re-activated, a capacity changed — the cache is dropped, so a revocation
committed before a batch starts applies to that batch. Other edits (a device moved to
another site) are seen within ``ttl_s``.

What a device's row records of its messages — ``last_seen`` and the newest heartbeat
(version, boot, uptime, outbox) — is written behind: the cache keeps the newest of each
per device (the rule is :class:`cloud.devices.Heartbeat`'s: newer wins) and
:meth:`Processor.write_behind <cloud.ingest.processor.Processor.write_behind>` writes
what is due, in its own short transaction, sorted by device id, in one statement
(:func:`cloud.devices.write_device_state`): a heartbeat within ``health_interval_s``
(the worker's ``state_write_interval_s``), a ``last_seen`` within ``write_interval_s``
(the silent-device sweep works in minutes). This is telemetry-like state, not money: a
crash loses at most what was not written yet, and the device's next heartbeat (every
few minutes) restores it; every heartbeat itself is in the telemetry store before it is
acknowledged. A clean stop and a retirement write everything pending
(``write_behind(force=True)`` at the end of the worker's loop).

Bins (:class:`BinCache`): the pickup policy's state of each bin, with the time of its
newest forecast sample. Every reading is decided by the one bin policy
(:func:`cloud.fill_policy.decide`). A *routine* decision — nothing but the level
changes, the overwhelming majority — is applied to the cached state and written behind,
at most once per ``write_interval_s`` per bin, with a guarded ``UPDATE`` (``last_seq``
only grows, whichever worker writes), the samples it kept and the fill rate they give
(:func:`cloud.pickups.keep_samples`). Any other decision (the threshold or the re-arm
level crossed, a fault, lid or tilt change) first writes what is pending for that bin,
then goes through the one-message path :func:`cloud.pickups.apply_fill` in the batch's
transaction, and the cache takes the row it leaves. So both paths take the same
decisions and keep the same samples (``tests/cloud/test_bin_policy_paths.py``).

What this trades: the bin row's *level* may lag the newest reading by up to
``write_interval_s`` (and a crash loses that lag, until the bin's next reading). Every
reading itself is in the telemetry store before it is acknowledged, and every decision
(pickup, alert, re-arm) is committed before it is acknowledged. Several workers on a
shared subscription each see part of a bin's readings: cached policy state older than
``ttl_s`` is re-read from the database, so a decision another worker took is seen within
that time; the partial unique index on open pickups keeps a stale worker from opening a
second one. After a failed batch the worker drops both caches (the database is the truth),
but keeps the devices' pending last-seen times and heartbeats, which come from committed
batches; a failed write-behind drops those too.

One module of ~450 lines: the two caches are one piece — the same load / write-behind
scan rules, dropped together after a failed batch, written by one
:meth:`~cloud.ingest.processor.Processor.write_behind` in one lock order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from cloud.db import chunks
from cloud.devices import DeviceState, Heartbeat
from cloud.fill_policy import FillDecision, decide, forecast_full_at
from cloud.models import Bin, Device, FillSample, Site
from cloud.pickups import keep_samples
from contract import Fill

#: the caches are looked through for due writes at most every this much of their write
#: interval (not after every batch: a fleet has thousands of devices)
SCAN_FRACTION = 0.1
_DEV: Table = Device.__table__  # type: ignore[assignment]
_BIN: Table = Bin.__table__  # type: ignore[assignment]
#: the statements of every batch, built once (SQLAlchemy's cache key is then memoised)
_FINGERPRINT = select(
    func.count(),
    func.max(_DEV.c.registered_at),
    func.count(_DEV.c.revoked_at),
    func.max(_DEV.c.revoked_at),
    func.sum(_DEV.c.capacity_g),
)
_DEVICES = (
    select(
        _DEV.c.device_id,
        _DEV.c.kind,
        _DEV.c.revoked,
        _DEV.c.site_id,
        Site.code,
        _DEV.c.capacity_g,
    )
    .select_from(_DEV.outerjoin(Site, Site.id == _DEV.c.site_id))
    .where(_DEV.c.device_id.in_(bindparam("ids", expanding=True)))
)


# --------------------------------------------------------------------------- devices


@dataclass(slots=True)
class DeviceInfo:
    device_id: str
    kind: str
    revoked: bool
    site_id: int | None
    site_code: str | None
    capacity_g: int


@dataclass(slots=True)
class _Pending:
    """What this worker heard from a device and has not written yet."""

    since: float  # time.monotonic() when the oldest of it arrived
    seen: datetime | None = None
    heartbeat: Heartbeat | None = None


class DeviceCache:
    """The registry's view of each device, and each device's state waiting to be written.

    ``write_interval_s`` bounds how long a ``last_seen`` waits, ``health_interval_s`` a
    heartbeat (each device at most one write per interval). The pending state is kept
    apart from the registry's view: dropping that view (:meth:`clear`, a changed
    registry) keeps what was heard, since it comes from committed batches and is
    written with guards (:func:`cloud.devices.write_device_state`).
    """

    def __init__(
        self,
        *,
        ttl_s: float = 10.0,
        write_interval_s: float = 2.0,
        health_interval_s: float | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.write_interval_s = write_interval_s
        self.health_interval_s = (
            write_interval_s if health_interval_s is None else health_interval_s
        )
        self._known: dict[str, DeviceInfo | None] = {}  # None: not registered
        self._loaded_at: dict[str, float] = {}
        self._fingerprint: tuple[Any, ...] | None = None
        self._pending: dict[str, _Pending] = {}
        self._next_scan = 0.0

    def clear(self) -> None:
        """Forget the registry's view (the pending state stays: see the class)."""
        self._known.clear()
        self._loaded_at.clear()
        self._fingerprint = None

    def drop_pending(self) -> None:
        """Forget what was not written (it could not be: a crash would lose it too)."""
        self._pending.clear()

    def load(self, session: Session, device_ids: Iterable[str]) -> None:
        """Make sure the given ids are cached and fresh (one or two queries)."""
        conn = session.connection()
        fp: tuple[Any, ...] = tuple(conn.execute(_FINGERPRINT).one())
        if fp != self._fingerprint:
            self.clear()
            self._fingerprint = fp
        now = time.monotonic()
        stale = [d for d in set(device_ids) if now - self._loaded_at.get(d, -1e9) > self.ttl_s]
        for chunk in chunks(stale):
            for d in chunk:
                self._known[d] = None
                self._loaded_at[d] = now
            rows = conn.execute(_DEVICES, {"ids": chunk})
            for dev_id, kind, revoked, site_id, code, capacity_g in rows:
                self._known[dev_id] = DeviceInfo(
                    dev_id, kind, bool(revoked), site_id, code, capacity_g
                )

    def get(self, device_id: str) -> DeviceInfo | None:
        return self._known.get(device_id)

    def note(self, device_id: str, at: datetime, heartbeat: Heartbeat | None = None) -> None:
        """Note that ``device_id`` was heard from at ``at`` (with a heartbeat): kept
        until written, the newest of each (:meth:`cloud.devices.Heartbeat.supersedes`)."""
        p = self._pending.get(device_id)
        if p is None:
            p = self._pending[device_id] = _Pending(time.monotonic())
        if p.seen is None or at > p.seen:
            p.seen = at
        if heartbeat is not None and heartbeat.supersedes(
            p.heartbeat.received_at if p.heartbeat else None
        ):
            p.heartbeat = heartbeat

    def pending(self, device_ids: Iterable[str]) -> list[DeviceState]:
        """What is waiting for the given devices (to be written before their rows are)."""
        return [
            DeviceState(d, p.seen, p.heartbeat)
            for d in sorted(set(device_ids))
            if (p := self._pending.get(d)) is not None
        ]

    def due(self, *, force: bool = False) -> list[DeviceState]:
        """The pending state whose interval has passed (all of it with ``force``)."""
        now = time.monotonic()
        if not force and now < self._next_scan:
            return []  # looked through every device a moment ago
        self._next_scan = now + min(self.write_interval_s, self.health_interval_s) * SCAN_FRACTION
        return [
            DeviceState(d, p.seen, p.heartbeat)
            for d, p in self._pending.items()
            if force or now - p.since >= self._interval(p)
        ]

    def _interval(self, p: _Pending) -> float:
        if p.heartbeat is None:
            return self.write_interval_s
        return min(self.write_interval_s, self.health_interval_s)

    def written(self, states: Iterable[DeviceState]) -> None:
        """Drop what was written (after its transaction committed), unless newer came."""
        for st in states:
            p = self._pending.get(st.device_id)
            if p is not None and p.seen == st.seen and p.heartbeat is st.heartbeat:
                del self._pending[st.device_id]


# --------------------------------------------------------------------------- bins

#: what a bin's cached state is loaded from: every field of :class:`BinState` named in
#: ``bins``, and the time of the bin's newest forecast sample
_BIN_FIELDS = (
    "bin_id",
    "device_id",
    "site_id",
    "category_code",
    "threshold_pct",
    "hysteresis_pct",
    "armed",
    "fault",
    "lid_open",
    "tilted",
    "last_seq",
    "fill_pct",
    "distance_mm",
    "state_at",
    "fill_rate_pct_per_h",
    "forecast_full_at",
)
_NEWEST_SAMPLE = (
    select(func.max(FillSample.at))
    .where(FillSample.bin_id == _BIN.c.bin_id)
    .scalar_subquery()
    .label("sampled_at")
)
_BINS = select(*(_BIN.c[name] for name in _BIN_FIELDS), _NEWEST_SAMPLE).where(
    _BIN.c.bin_id.in_(bindparam("ids", expanding=True))
)


@dataclass(slots=True)
class BinState:
    """A bin's policy state and latest level as this worker knows them."""

    bin_id: str
    device_id: str | None
    site_id: int | None
    category_code: str | None
    threshold_pct: float
    hysteresis_pct: float
    armed: bool
    fault: str | None
    lid_open: bool | None
    tilted: bool | None
    last_seq: int | None
    fill_pct: float | None
    distance_mm: int | None
    state_at: datetime | None
    fill_rate_pct_per_h: float | None
    forecast_full_at: datetime | None
    sampled_at: datetime | None  # the bin's newest forecast sample, kept or pending
    loaded_at: float = 0.0
    #: forecast samples not written yet: (at, level)
    samples: list[tuple[datetime, float]] = field(default_factory=list)
    dirty: bool = False
    written_at: float = 0.0

    def forecast(self) -> datetime | None:
        """When the bin will be full, from its latest level and fill rate."""
        if self.state_at is None or self.fill_pct is None:
            return self.forecast_full_at
        return forecast_full_at(self.state_at, self.fill_pct, self.fill_rate_pct_per_h)

    def decide(self, fill: Fill, received_at: datetime) -> FillDecision | None:
        """The policy's decision for ``fill`` on this state (see :mod:`cloud.fill_policy`)."""
        return decide(self, self.sampled_at, fill, received_at)


class BinCache:
    def __init__(self, *, ttl_s: float = 5.0, write_interval_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self.write_interval_s = write_interval_s
        self._states: dict[str, BinState | None] = {}  # None: no such bin
        self._next_scan = 0.0

    def clear(self) -> None:
        self._states.clear()

    def load(self, session: Session, bin_ids: Iterable[str]) -> None:
        """Re-read the policy state of the given bins when older than ``ttl_s``."""
        now = time.monotonic()
        stale = []
        for b in set(bin_ids):
            st = self._states.get(b)
            if st is None or now - st.loaded_at > self.ttl_s:
                stale.append(b)
        for chunk in chunks(stale):
            found = set()
            for row in session.connection().execute(_BINS, {"ids": chunk}):
                found.add(row.bin_id)
                self._merge(BinState(**row._asdict(), loaded_at=now, written_at=now))
            for b in chunk:
                if b not in found:
                    self._states[b] = None

    def _merge(self, fresh: BinState) -> None:
        old = self._states.get(fresh.bin_id)
        if old is None:
            self._states[fresh.bin_id] = fresh
            return
        if old.last_seq is not None and (fresh.last_seq is None or old.last_seq > fresh.last_seq):
            # this worker holds a newer level than the database (written behind): keep it
            fresh.last_seq, fresh.fill_pct, fresh.distance_mm = (
                old.last_seq,
                old.fill_pct,
                old.distance_mm,
            )
            fresh.state_at, fresh.fill_rate_pct_per_h, fresh.forecast_full_at = (
                old.state_at,
                old.fill_rate_pct_per_h,
                old.forecast_full_at,
            )
            fresh.dirty = old.dirty
        if old.sampled_at is not None and (
            fresh.sampled_at is None or old.sampled_at > fresh.sampled_at
        ):
            fresh.sampled_at = old.sampled_at  # a sample pending here
        fresh.written_at, fresh.samples = old.written_at, old.samples
        self._states[fresh.bin_id] = fresh

    def get(self, bin_id: str) -> BinState | None:
        return self._states.get(bin_id)

    def adopt(self, b: Bin, sampled_at: datetime | None) -> None:
        """Take the state of a bin row just changed through the one-message path."""
        old = self._states.get(b.bin_id)
        fresh = BinState(
            **{name: getattr(b, name) for name in _BIN_FIELDS},
            sampled_at=sampled_at,
            loaded_at=old.loaded_at if old is not None else time.monotonic(),
            written_at=time.monotonic(),
        )
        if old is not None:
            fresh.samples = old.samples  # none: written before the decision (flush)
            fresh.dirty = bool(old.samples)
        self._states[b.bin_id] = fresh

    def apply_routine(self, st: BinState, d: FillDecision) -> None:
        """Apply a routine decision (see :class:`cloud.fill_policy.FillDecision`) in memory.

        The level is written behind (:meth:`write_behind`), with the samples kept and the
        fill rate they give.
        """
        assert d.routine
        assert d.level is not None
        st.last_seq, st.state_at, st.fill_pct, st.distance_mm = (
            d.seq,
            d.at,
            d.level,
            d.distance_mm,
        )
        if d.sample:
            st.samples.append((d.at, d.level))
            st.sampled_at = d.at
        st.dirty = True

    def flush(self, session: Session, st: BinState) -> None:
        """Write what is pending for one bin now (before a decision reads its row)."""
        if st.dirty or st.samples:
            self._write(session, [st], time.monotonic())

    def due(self, *, force: bool = False) -> list[BinState]:
        """The cached levels whose interval has passed (all with ``force``), by bin id."""
        now = time.monotonic()
        if not force and now < self._next_scan:
            return []  # looked through every bin a moment ago
        self._next_scan = now + self.write_interval_s * SCAN_FRACTION
        due = [
            s
            for s in self._states.values()
            if s is not None and s.dirty and (force or now - s.written_at >= self.write_interval_s)
        ]
        due.sort(key=lambda s: s.bin_id)  # one lock order for every worker
        return due

    def write(self, session: Session, due: list[BinState]) -> None:
        """Write cached levels (from :meth:`due`; guarded: ``last_seq`` only grows)."""
        if due:
            self._write(session, due, time.monotonic())

    def write_behind(self, session: Session, *, force: bool = False) -> int:
        """Write the due cached levels (guarded: ``last_seq`` only grows)."""
        due = self.due(force=force)
        self.write(session, due)
        return len(due)

    def _write(self, session: Session, states: list[BinState], now: float) -> None:
        """Samples (with the fill rates they give), then the levels: a fixed statement count."""
        rates = keep_samples(
            session, [(s.bin_id, at, level) for s in states for at, level in s.samples]
        )
        for s in states:
            if s.bin_id in rates:
                s.fill_rate_pct_per_h = rates[s.bin_id]
            s.samples = []
        stmt = (
            update(_BIN)
            .where(
                and_(
                    _BIN.c.bin_id == bindparam("b_id"),
                    or_(_BIN.c.last_seq.is_(None), _BIN.c.last_seq < bindparam("b_seq")),
                )
            )
            .values(
                last_seq=bindparam("b_seq"),
                state_at=bindparam("b_at"),
                fill_pct=bindparam("b_pct"),
                distance_mm=bindparam("b_mm"),
                fill_rate_pct_per_h=bindparam("b_rate"),
                forecast_full_at=bindparam("b_full"),
            )
        )
        session.connection().execute(
            stmt,
            [
                {
                    "b_id": s.bin_id,
                    "b_seq": s.last_seq,
                    "b_at": s.state_at,
                    "b_pct": s.fill_pct,
                    "b_mm": s.distance_mm,
                    "b_rate": s.fill_rate_pct_per_h,
                    "b_full": s.forecast(),
                }
                for s in states
            ],
        )
        for s in states:
            s.dirty, s.written_at = False, now
