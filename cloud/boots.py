"""The anchors of each device boot (:class:`cloud.clock.BootClock`), kept in ``device_boots``.

The ingest feeds every message of a batch (:meth:`BootClocks.saw_event`,
:meth:`BootClocks.saw_status`) before it credits the batch's weigh-ins, so a weigh-in is
dated with whatever its boot's messages told so far, in this batch or before; what
changed is written back in the batch's transaction (:meth:`BootClocks.save`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cloud.clock import Anchor, BootClock
from cloud.db import IN_LIST_MAX
from cloud.models import DeviceBoot
from contract import DeviceConfig, DeviceStatus, Fill, Health, Weighin

Event = Weighin | Fill | Health | DeviceConfig | DeviceStatus

Key = tuple[str, str]  # (device_id, boot_id)


class BootClocks:
    """The boot clocks one batch touches."""

    def __init__(self) -> None:
        self.clocks: dict[Key, BootClock] = {}
        #: what :meth:`load` found in its session: the row, or None (no row yet)
        self.rows: dict[Key, DeviceBoot | None] = {}
        self._session: Session | None = None

    @classmethod
    def of(cls, session: Session, received: Sequence[tuple[datetime, Event]]) -> BootClocks:
        """The clocks of the boots of ``(received_at, event)``, with what each tells."""
        clocks = cls()
        seen = [
            ((e.device_id, str(e.boot_id)), at, e)
            for at, e in received
            if not isinstance(e, DeviceStatus) or (e.boot_id is not None and e.mono_ms is not None)
        ]
        clocks.load(session, (key for key, _, _ in seen))
        for key, at, e in seen:
            clock = clocks.get(key)
            if isinstance(e, DeviceStatus):
                assert e.mono_ms is not None
                clock.saw_status(at, e.mono_ms)
            else:
                clock.saw_event(e.device_time, e.clock_synced, e.mono_ms, at)
        return clocks

    def load(self, session: Session, keys: Iterable[Key]) -> None:
        """Read the stored anchors of ``keys`` (one query per :data:`IN_LIST_MAX`)."""
        wanted = sorted(set(keys) - self.clocks.keys())
        if self._session is not session:  # rows read in another session are not this one's
            self.rows.clear()
            self._session = session
        for start in range(0, len(wanted), IN_LIST_MAX):
            chunk = wanted[start : start + IN_LIST_MAX]
            for key in chunk:
                self.clocks[key] = BootClock()
                self.rows[key] = None
            for row in session.scalars(
                select(DeviceBoot).where(
                    tuple_(DeviceBoot.device_id, DeviceBoot.boot_id).in_(chunk)
                )
            ):
                self.rows[(row.device_id, row.boot_id)] = row
                clock = self.clocks[(row.device_id, row.boot_id)]
                if row.synced_time is not None and row.synced_mono_ms is not None:
                    clock.synced = Anchor(row.synced_time, row.synced_mono_ms)
                if row.prompt_time is not None and row.prompt_mono_ms is not None:
                    clock.prompt = Anchor(row.prompt_time, row.prompt_mono_ms)

    def get(self, key: Key) -> BootClock:
        return self.clocks.setdefault(key, BootClock())

    def save(self, session: Session) -> list[Key]:
        """Write the changed anchors (upserts, in key order); the keys that changed.

        The rows :meth:`load` read in this session are changed as they are, the boots it
        found no row for get one: no statement per boot (a fleet's first batch is
        mostly new boots), one flush writes them all.
        """
        changed = sorted(k for k, c in self.clocks.items() if c.dirty)
        known = self.rows if self._session is session else {}
        for key in changed:
            clock = self.clocks[key]
            row = known[key] if key in known else session.get(DeviceBoot, key)
            if row is None:
                row = DeviceBoot(device_id=key[0], boot_id=key[1])
                session.add(row)
                if self._session is session:
                    self.rows[key] = row
            if clock.synced is not None:
                row.synced_time, row.synced_mono_ms = clock.synced.time, clock.synced.mono_ms
            if clock.prompt is not None:
                row.prompt_time, row.prompt_mono_ms = clock.prompt.time, clock.prompt.mono_ms
            clock.dirty = False
        if changed:
            session.flush()
        return changed
