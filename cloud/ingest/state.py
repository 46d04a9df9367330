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
another site) are seen within ``ttl_s``. ``last_seen`` is
written behind, at most once per ``write_interval_s`` per device (the silent-device
sweep works in minutes).

Bins (:class:`BinCache`): the pickup policy's state of each bin. A reading that changes
nothing but the level — the overwhelming majority — is applied to the cached state and
written behind, at most once per ``write_interval_s`` per bin, with a guarded ``UPDATE``
(``last_seq`` only grows, whichever worker writes). A reading that matters (crosses the
threshold or the re-arm level, raises or clears a fault, lid or tilt, or the first
reading of a bin this worker sees) goes through :func:`cloud.pickups.apply_fill` in the
batch's transaction, like before. Forecast samples are kept at most once per
:data:`SAMPLE_EVERY` per bin; between samples the forecast moves with the level at the
last computed fill rate.

What this trades: the bin row's *level* may lag the newest reading by up to
``write_interval_s`` (and a crash loses that lag, until the bin's next reading). Every
reading itself is in the telemetry store before it is acknowledged, and every decision
(pickup, alert, re-arm) is committed before it is acknowledged. Several workers on a
shared subscription each see part of a bin's readings: cached policy state older than
``ttl_s`` is re-read from the database, so a decision another worker took is seen within
that time; the partial unique index on open pickups keeps a stale worker from opening a
second one. After a failed batch the worker drops both caches (the database is the truth).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from cloud import pickups
from cloud.models import Bin, Device, FillSample, Site
from contract import Fill

#: a forecast sample is kept at most this often per bin (and per worker)
SAMPLE_EVERY = timedelta(minutes=1)
#: the caches are looked through for due writes at most every this much of their write
#: interval (not after every batch: a fleet has thousands of devices)
SCAN_FRACTION = 0.1
#: ids per ``IN (...)`` list (well under SQLite's and PostgreSQL's parameter limits)
_CHUNK = 500

_DEV: Table = Device.__table__  # type: ignore[assignment]
_BIN: Table = Bin.__table__  # type: ignore[assignment]


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


# --------------------------------------------------------------------------- devices


@dataclass(slots=True)
class DeviceInfo:
    device_id: str
    kind: str
    revoked: bool
    site_id: int | None
    site_code: str | None
    capacity_g: int
    seen: datetime | None = None  # newest receive time not yet written
    written_at: float = 0.0


class DeviceCache:
    def __init__(self, *, ttl_s: float = 10.0, write_interval_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self.write_interval_s = write_interval_s
        self._known: dict[str, DeviceInfo | None] = {}  # None: not registered
        self._loaded_at: dict[str, float] = {}
        self._fingerprint: tuple[Any, ...] | None = None
        self._next_scan = 0.0

    def clear(self) -> None:
        self._known.clear()
        self._loaded_at.clear()
        self._fingerprint = None

    def load(self, session: Session, device_ids: Iterable[str]) -> None:
        """Make sure the given ids are cached and fresh (one or two queries)."""
        fp: tuple[Any, ...] = tuple(
            session.execute(
                select(
                    func.count(),
                    func.max(Device.registered_at),
                    func.count(Device.revoked_at),
                    func.max(Device.revoked_at),
                    func.sum(Device.capacity_g),
                )
            ).one()
        )
        if fp != self._fingerprint:
            self.write_behind(session, force=True)
            self._known.clear()
            self._loaded_at.clear()
            self._fingerprint = fp
        now = time.monotonic()
        stale = [d for d in set(device_ids) if now - self._loaded_at.get(d, -1e9) > self.ttl_s]
        for chunk in _chunks(stale):
            old = {d: self._known.get(d) for d in chunk}
            for d in chunk:
                self._known[d] = None
                self._loaded_at[d] = now
            rows = session.execute(
                select(
                    _DEV.c.device_id,
                    _DEV.c.kind,
                    _DEV.c.revoked,
                    _DEV.c.site_id,
                    Site.code,
                    _DEV.c.capacity_g,
                )
                .select_from(_DEV.outerjoin(Site, Site.id == _DEV.c.site_id))
                .where(_DEV.c.device_id.in_(chunk))
            )
            for dev_id, kind, revoked, site_id, code, capacity_g in rows:
                info = DeviceInfo(
                    dev_id, kind, bool(revoked), site_id, code, capacity_g, written_at=now
                )
                prev = old.get(dev_id)
                if prev is not None:  # keep a last_seen not yet written
                    info.seen, info.written_at = prev.seen, prev.written_at
                self._known[dev_id] = info

    def get(self, device_id: str) -> DeviceInfo | None:
        return self._known.get(device_id)

    def touch(self, info: DeviceInfo, at: datetime) -> None:
        if info.seen is None or at > info.seen:
            info.seen = at

    def write_behind(self, session: Session, *, force: bool = False) -> int:
        """Write the due ``last_seen`` values (guarded: it only moves forward)."""
        now = time.monotonic()
        if not force and now < self._next_scan:
            return 0  # looked through every device a moment ago
        self._next_scan = now + self.write_interval_s * SCAN_FRACTION
        due = [
            i
            for i in self._known.values()
            if i is not None
            and i.seen is not None
            and (force or now - i.written_at >= self.write_interval_s)
        ]
        if not due:
            return 0
        due.sort(key=lambda i: i.device_id)  # one lock order for every worker
        stmt = (
            update(_DEV)
            .where(
                _DEV.c.device_id == bindparam("d_id"),
                or_(_DEV.c.last_seen.is_(None), _DEV.c.last_seen < bindparam("d_seen")),
            )
            .values(last_seen=bindparam("d_seen"))
        )
        session.connection().execute(stmt, [{"d_id": i.device_id, "d_seen": i.seen} for i in due])
        for i in due:
            i.seen, i.written_at = None, now
        return len(due)


# --------------------------------------------------------------------------- bins

_BIN_COLUMNS = (
    _BIN.c.bin_id, _BIN.c.device_id, _BIN.c.site_id, _BIN.c.category_code,
    _BIN.c.threshold_pct, _BIN.c.hysteresis_pct, _BIN.c.armed, _BIN.c.fault,
    _BIN.c.lid_open, _BIN.c.tilted, _BIN.c.last_seq, _BIN.c.fill_pct, _BIN.c.distance_mm,
    _BIN.c.state_at, _BIN.c.fill_rate_pct_per_h, _BIN.c.forecast_full_at,
)  # fmt: skip


@dataclass(slots=True)
class BinState:
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
    loaded_at: float = 0.0
    sampled_at: datetime | None = None  # the last forecast sample this worker kept
    #: forecast samples not written yet: (at, level, whether to work out the rate)
    samples: list[tuple[datetime, float, bool]] = field(default_factory=list)
    dirty: bool = False
    written_at: float = 0.0

    def forecast(self) -> datetime | None:
        """When the bin will be full, from its latest level and fill rate."""
        if self.state_at is None or self.fill_pct is None:
            return self.forecast_full_at
        return pickups.forecast_full_at(self.state_at, self.fill_pct, self.fill_rate_pct_per_h)

    def routine(self, fill: Fill) -> bool:
        """Whether ``fill`` changes nothing but the level (no decision to take)."""
        if fill.fault is not None or self.fault is not None or fill.fill_pct is None:
            return False
        if fill.lid_open != self.lid_open or fill.tilted != self.tilted:
            return False
        if self.armed:
            return fill.fill_pct < self.threshold_pct
        return fill.fill_pct >= self.threshold_pct - self.hysteresis_pct


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
        for chunk in _chunks(stale):
            found = set()
            for row in session.execute(select(*_BIN_COLUMNS).where(_BIN.c.bin_id.in_(chunk))):
                found.add(row.bin_id)
                self._merge(BinState(*row, loaded_at=now, written_at=now))  # type: ignore[call-arg]
            for b in chunk:
                if b not in found:
                    self._states[b] = None

    def _merge(self, fresh: BinState) -> None:
        old = self._states.get(fresh.bin_id)
        if (
            old is not None
            and old.last_seq is not None
            and (fresh.last_seq is None or old.last_seq > fresh.last_seq)
        ):
            # this worker holds a newer level than the database (written behind): keep it
            fresh.last_seq, fresh.fill_pct, fresh.distance_mm = (
                old.last_seq, old.fill_pct, old.distance_mm
            )  # fmt: skip
            fresh.state_at, fresh.fill_rate_pct_per_h, fresh.forecast_full_at = (
                old.state_at, old.fill_rate_pct_per_h, old.forecast_full_at
            )  # fmt: skip
            fresh.dirty = old.dirty
        if old is not None:
            fresh.sampled_at, fresh.written_at = old.sampled_at, old.written_at
            fresh.samples = old.samples
        self._states[fresh.bin_id] = fresh

    def get(self, bin_id: str) -> BinState | None:
        return self._states.get(bin_id)

    def adopt(self, b: Bin) -> None:
        """Take the state of a bin row just changed through the ORM (the slow path)."""
        old = self._states.get(b.bin_id)
        fresh = BinState(
            b.bin_id, b.device_id, b.site_id, b.category_code, b.threshold_pct,
            b.hysteresis_pct, b.armed, b.fault, b.lid_open, b.tilted, b.last_seq, b.fill_pct,
            b.distance_mm, b.state_at, b.fill_rate_pct_per_h, b.forecast_full_at,
            loaded_at=old.loaded_at if old is not None else time.monotonic(),
        )  # fmt: skip
        fresh.sampled_at = b.state_at if b.fill_pct is not None else None
        fresh.written_at = time.monotonic()
        self._states[b.bin_id] = fresh

    def apply_routine(self, st: BinState, fill: Fill, at: datetime) -> None:
        """Apply a routine reading (see :meth:`BinState.routine`) to the cached state.

        A forecast sample is due once per :data:`SAMPLE_EVERY`; it is kept, and the fill
        rate and forecast worked out, when the state is written (:meth:`write_behind`).
        """
        level = fill.fill_pct
        assert level is not None
        st.last_seq, st.state_at, st.fill_pct, st.distance_mm = (
            fill.seq,
            at,
            level,
            fill.distance_mm,
        )
        sampled = st.sampled_at
        if sampled is None:
            # the first reading this worker sees of the bin: keep it as a sample, keep the
            # fill rate the row has, and spread the bins' next samples over the interval
            st.samples.append((at, level, False))
            st.sampled_at = at - SAMPLE_EVERY * random.random()
        elif at - sampled >= SAMPLE_EVERY or at < sampled:
            st.samples.append((at, level, True))
            st.sampled_at = at
        st.dirty = True

    def _keep_samples(self, session: Session, states: list[BinState]) -> None:
        """Insert the pending forecast samples, prune old ones, work out fill rates.

        A fixed number of statements for any number of bins (per :data:`_CHUNK`).
        """
        pending = [(s, sample) for s in states for sample in s.samples]
        if not pending:
            return
        session.execute(
            insert(FillSample),
            [{"bin_id": s.bin_id, "at": at, "fill_pct": level} for s, (at, level, _) in pending],
        )
        for i in range(0, len(pending), _CHUNK):
            chunk = pending[i : i + _CHUNK]
            oldest = min(at for _, (at, _, _) in chunk)
            session.execute(
                delete(FillSample).where(
                    FillSample.bin_id.in_({s.bin_id for s, _ in chunk}),
                    FillSample.at < oldest - pickups.SAMPLE_RETENTION,
                )
            )
            rate_of = {s.bin_id: (s, at) for s, (at, _, recompute) in chunk if recompute}
            if not rate_of:
                continue
            window: dict[str, list[tuple[datetime, float]]] = {b: [] for b in rate_of}
            for bin_id, t, v in session.execute(
                select(FillSample.bin_id, FillSample.at, FillSample.fill_pct)
                .where(
                    FillSample.bin_id.in_(list(rate_of)),
                    FillSample.at >= oldest - pickups.FORECAST_WINDOW,
                )
                .order_by(FillSample.bin_id, FillSample.at)
            ):
                st, at = rate_of[bin_id]
                if at - pickups.FORECAST_WINDOW <= t <= at:
                    window[bin_id].append((t, v))
            for bin_id, (st, _) in rate_of.items():
                st.fill_rate_pct_per_h = pickups.fill_rate_pct_per_h(window[bin_id])
        for s in states:
            s.samples = []

    def write_behind(self, session: Session, *, force: bool = False) -> int:
        """Write the due cached levels (guarded: ``last_seq`` only grows)."""
        now = time.monotonic()
        if not force and now < self._next_scan:
            return 0  # looked through every bin a moment ago
        self._next_scan = now + self.write_interval_s * SCAN_FRACTION
        due = [
            s
            for s in self._states.values()
            if s is not None and s.dirty and (force or now - s.written_at >= self.write_interval_s)
        ]
        if not due:
            return 0
        due.sort(key=lambda s: s.bin_id)  # one lock order for every worker
        self._keep_samples(session, due)
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
                for s in due
            ],
        )
        for s in due:
            s.dirty, s.written_at = False, now
        return len(due)
