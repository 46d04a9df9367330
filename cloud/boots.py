"""The anchors of each device boot (:class:`cloud.clock.BootClock`), kept in ``device_boots``.

The ingest feeds every message of a batch (:meth:`BootClocks.saw_event`,
:meth:`BootClocks.saw_status`) before it credits the batch's weigh-ins, so a weigh-in is
dated with whatever its boot's messages told so far, in this batch or before; what
changed is written back in the batch's transaction (:meth:`BootClocks.save`).

Read from the database or known from before (:class:`KnownAnchors`): the boots whose
anchors date something in the batch — a weigh-in (:mod:`cloud.integrity`), a heartbeat's
telemetry point — are read from ``device_boots`` in every batch, as before any cache.
The others (a bin's fill readings, a status) only *tell* anchors; for them the worker's
memory of what it committed before is enough to see whether they tell something better.
Anchors only get better (the earliest synchronised event, the tightest status; a reboot
is another ``boot_id``, another row), so such a memory is never ahead of the database,
only perhaps behind another worker's: :meth:`BootClocks.save` re-reads the rows it
changes under a row lock (``FOR UPDATE``, in key order; SQLite's writers queue anyway)
and keeps the better of each anchor by :class:`~cloud.clock.BootClock`'s own rule, so
two workers never write an anchor back to a worse one. A steady stream of fill readings
thus costs no statement for its boots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from cloud.clock import Anchor, BootClock
from cloud.db import IN_LIST_MAX
from cloud.models import DeviceBoot
from contract import DeviceConfig, DeviceStatus, Fill, Health, Weighin

Event = Weighin | Fill | Health | DeviceConfig | DeviceStatus

Key = tuple[str, str]  # (device_id, boot_id)
Anchors = tuple[Anchor | None, Anchor | None]  # (synced, prompt)

_BOOTS: Table = DeviceBoot.__table__  # type: ignore[assignment]
#: the stored anchors of the boots ``keys`` ((device, boot) pairs), built once (a batch's
#: statement built anew cost more Python than SQLite took to run it: cloud.bulk.Prepared)
_ANCHORS = (
    select(
        _BOOTS.c.device_id,
        _BOOTS.c.boot_id,
        _BOOTS.c.synced_time,
        _BOOTS.c.synced_mono_ms,
        _BOOTS.c.prompt_time,
        _BOOTS.c.prompt_mono_ms,
    )
    .where(tuple_(_BOOTS.c.device_id, _BOOTS.c.boot_id).in_(bindparam("keys", expanding=True)))
    .order_by(_BOOTS.c.device_id, _BOOTS.c.boot_id)
)
_ANCHORS_LOCKED = _ANCHORS.with_for_update()
#: the events whose times the batch dates by their boot's anchor: their boots are read
#: from the database in every batch (the others only tell anchors)
DATED = (Weighin, Health)


def _anchors(clock: BootClock) -> Anchors:
    return clock.synced, clock.prompt


def _merge(clock: BootClock, anchors: Anchors) -> None:
    """Keep the better of each anchor (the rule is :class:`BootClock`'s); ``dirty`` says
    still whether the clock holds something its source did not."""
    synced, prompt = anchors
    dirty = clock.dirty
    if synced is not None:
        clock.saw_event(synced.time, True, synced.mono_ms, synced.time)
    if prompt is not None:
        clock.saw_status(prompt.time, prompt.mono_ms)
    clock.dirty = dirty


class KnownAnchors:
    """What one worker committed to ``device_boots`` (or read from it), boot by boot.

    Filled only after a batch's transaction committed (:meth:`keep`), emptied after a
    failed one (:meth:`clear`): an anchor in here is in the database, or a worse one is
    not (another worker may have written a better one since).
    """

    #: boots remembered at most (a fleet's boots of many months); then it starts again
    MAX = 200_000

    def __init__(self) -> None:
        self._anchors: dict[Key, Anchors] = {}

    def get(self, key: Key) -> Anchors | None:
        return self._anchors.get(key)

    def keep(self, clocks: BootClocks) -> None:
        """Remember the clocks of a committed batch (those read or remembered, all saved)."""
        if len(self._anchors) + len(clocks.known) > self.MAX:
            self._anchors.clear()
        for key in clocks.known:
            clock = clocks.clocks[key]
            if not clock.dirty:
                self._anchors[key] = _anchors(clock)

    def clear(self) -> None:
        self._anchors.clear()

    def __len__(self) -> int:
        return len(self._anchors)


class BootClocks:
    """The boot clocks one batch touches."""

    def __init__(self) -> None:
        self.clocks: dict[Key, BootClock] = {}
        #: the keys whose anchors were read from the database (in :attr:`_session`)
        self.read: set[Key] = set()
        #: the keys read or remembered (:class:`KnownAnchors`): what the clocks start from
        self.known: set[Key] = set()
        self._session: Session | None = None

    @classmethod
    def of(
        cls,
        session: Session,
        received: Sequence[tuple[datetime, Event]],
        memory: KnownAnchors | None = None,
    ) -> BootClocks:
        """The clocks of the boots of ``(received_at, event)``, with what each tells.

        The boots of :data:`DATED` events, and those ``memory`` does not know, are read.
        """
        clocks = cls()
        seen = [
            ((e.device_id, str(e.boot_id)), at, e)
            for at, e in received
            if not isinstance(e, DeviceStatus) or (e.boot_id is not None and e.mono_ms is not None)
        ]
        remembered: dict[Key, Anchors] = {}
        if memory is not None:
            dated = {key for key, _, e in seen if isinstance(e, DATED)}
            for key, _, _ in seen:
                if key not in dated and (known := memory.get(key)) is not None:
                    remembered[key] = known
        for key, (synced, prompt) in remembered.items():
            clocks.clocks[key] = BootClock(synced, prompt)
            clocks.known.add(key)
        unread = [key for key, _, _ in seen if key not in remembered]
        if unread:
            clocks.load(session, unread)
        for key, at, e in seen:
            clock = clocks.get(key)
            if isinstance(e, DeviceStatus):
                assert e.mono_ms is not None
                clock.saw_status(at, e.mono_ms)
            else:
                clock.saw_event(e.device_time, e.clock_synced, e.mono_ms, at)
        return clocks

    def _select(
        self, session: Session, keys: Sequence[Key], *, lock: bool = False
    ) -> dict[Key, Anchors]:
        """The stored anchors of ``keys`` (sorted), one query per :data:`IN_LIST_MAX`."""
        found: dict[Key, Anchors] = {}
        q = _ANCHORS_LOCKED if lock else _ANCHORS
        for start in range(0, len(keys), IN_LIST_MAX):
            chunk = {"keys": list(keys[start : start + IN_LIST_MAX])}
            for dev, boot, st, sm, pt, pm in session.execute(q, chunk):
                found[(dev, boot)] = (
                    Anchor(st, sm) if st is not None and sm is not None else None,
                    Anchor(pt, pm) if pt is not None and pm is not None else None,
                )
        return found

    def _in(self, session: Session) -> None:
        if self._session is not session:  # what was read in another session is not this one's
            self.read.clear()
            self._session = session

    def load(self, session: Session, keys: Iterable[Key]) -> None:
        """Read the stored anchors of ``keys`` not read yet in ``session``; a clock that
        already holds anchors keeps the better of each."""
        self._in(session)
        wanted = sorted(set(keys) - self.read)
        found = self._select(session, wanted)
        for key in wanted:
            clock = self.clocks.setdefault(key, BootClock())
            if key in found:
                _merge(clock, found[key])
            self.read.add(key)
            self.known.add(key)

    def get(self, key: Key) -> BootClock:
        return self.clocks.setdefault(key, BootClock())

    def save(self, session: Session) -> list[Key]:
        """Write the better anchors; the keys whose rows changed.

        The changed boots' rows are read again under a row lock, in key order, and each
        clock keeps the better of its anchors and the row's: a worker whose clocks started
        from what it remembered, or from a read before another worker committed, never
        writes an anchor back. Then one INSERT of the new boots, one UPDATE of the rest.
        """
        self._in(session)
        changed = sorted(k for k, c in self.clocks.items() if c.dirty)
        if not changed:
            return []
        stored = self._select(session, changed, lock=True)
        new: list[dict[str, object]] = []
        better: list[dict[str, object]] = []
        written: list[Key] = []
        for key in changed:
            clock = self.clocks[key]
            if key in stored:
                _merge(clock, stored[key])
            clock.dirty = False
            self.read.add(key)
            self.known.add(key)
            if stored.get(key) == _anchors(clock):
                continue  # another worker wrote as good or better
            synced, prompt = _anchors(clock)
            row: dict[str, object] = {
                "d": key[0],
                "b": key[1],
                "st": synced.time if synced else None,
                "sm": synced.mono_ms if synced else None,
                "pt": prompt.time if prompt else None,
                "pm": prompt.mono_ms if prompt else None,
            }
            (better if key in stored else new).append(row)
            written.append(key)
        conn = session.connection()
        if new:
            conn.execute(
                insert(_BOOTS).values(
                    device_id=bindparam("d"),
                    boot_id=bindparam("b"),
                    synced_time=bindparam("st"),
                    synced_mono_ms=bindparam("sm"),
                    prompt_time=bindparam("pt"),
                    prompt_mono_ms=bindparam("pm"),
                ),
                new,
            )
        if better:
            conn.execute(
                update(_BOOTS)
                .where(_BOOTS.c.device_id == bindparam("d"), _BOOTS.c.boot_id == bindparam("b"))
                .values(
                    synced_time=bindparam("st"),
                    synced_mono_ms=bindparam("sm"),
                    prompt_time=bindparam("pt"),
                    prompt_mono_ms=bindparam("pm"),
                ),
                better,
            )
        return written
