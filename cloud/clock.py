"""The clock rule: when an event counts as having happened (one home for every event).

1. A device clock that was NTP-synchronised and is not further ahead of the receive
   time than :data:`MAX_CLOCK_AHEAD` is trusted: the event counts at its device time.
2. Otherwise the event is dated from its **boot's anchor**: every event carries its
   ``boot_id`` and monotonic ``mono_ms``, and ``CLOCK_MONOTONIC`` runs steadily through
   a boot whatever the wall clock does. An anchor is a pair (time, ``mono_ms``) of the
   same boot; the event counts at ``anchor.time - (anchor.mono_ms - event.mono_ms)``,
   never later than its receive time. The anchors, best first:

   - **synced**: the earliest synchronised event of the boot (a health heartbeat, a
     weigh-in, a fill, a configuration entry) — the device's NTP time;
   - **prompt**: the ``status`` an agent publishes the moment it connects (not queued
     in its outbox; it carries ``mono_ms``), the one with the smallest ``received_at -
     mono_ms`` — the cloud's own clock: an upper bound of when the boot started, late
     by that message's delivery time (typically well under a second). Queued events
     are no prompt anchors: their delivery may be hours late.

   A weigh-in is priced and dated by this (:mod:`cloud.crediting`). A weigh-in with no
   anchor but its own receipt **waits** (held ``clock``, :mod:`cloud.holds`) until one
   arrives, at most ``clock_wait`` (default an hour); then it counts at its receive
   time, as telemetry without an anchor always does.
3. Anything else: the receive time.
4. Whatever the rules above give, an event never counts before a time the caller knows
   it cannot precede (``not_before``: a weigh-in at a household's door cannot happen
   before the household asked for the pickup, :mod:`cloud.doorstep`); an earlier time
   counts at that bound (:func:`not_before_bound`).

How far back this reaches: the whole boot. A station that booted without network, weighed
for three hours (or three days) and then came online dates every one of those weigh-ins
to when it was weighed, within the crystal's drift (a Pi's ~50 ppm: at most ~4 s per
day of offline time) plus the anchor's own error. A reboot before the station reached
the network ends it: the weigh-ins of a boot that never sent a synchronised or prompt
message count at their receive time (after ``clock_wait``).

Fill readings are ordered and sampled by it (:mod:`cloud.fill_policy`), telemetry points
stamped with it (the ingest passes it to :mod:`cloud.telemetry`'s point builders).

>>> from datetime import UTC, datetime, timedelta
>>> rx = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
>>> event_time(rx - timedelta(hours=1), True, rx) == rx - timedelta(hours=1)
True
>>> event_time(rx - timedelta(hours=1), False, rx) == rx  # not synchronised, no anchor
True
>>> event_time(rx + timedelta(hours=1), True, rx) == rx  # too far ahead
True
>>> a = Anchor(rx, 10_800_000)  # at 12:00 the boot was 3 h old
>>> event_time(rx, False, rx, mono_ms=1_000, anchor=a) == rx - timedelta(hours=3, seconds=-1)
True
>>> asked = rx - timedelta(minutes=30)
>>> event_time(rx - timedelta(days=3), True, rx, not_before=asked) == asked  # too far back
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: a device clock further ahead of the receive time than this is not trusted
MAX_CLOCK_AHEAD = timedelta(minutes=5)
#: how long an unsynchronised weigh-in without an anchor waits for one
CLOCK_WAIT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A point of a boot's timeline: a time and the boot's monotonic ms at that time."""

    time: datetime
    mono_ms: int

    def date(self, mono_ms: int) -> datetime:
        """The time at which the boot's monotonic clock read ``mono_ms``."""
        return self.time - timedelta(milliseconds=self.mono_ms - mono_ms)


def trusted(device_time: datetime, clock_synced: bool, received_at: datetime) -> bool:
    """Whether the device's own clock dates this event (rule 1)."""
    return clock_synced and device_time <= received_at + MAX_CLOCK_AHEAD


def event_time(
    device_time: datetime,
    clock_synced: bool,
    received_at: datetime,
    *,
    mono_ms: int | None = None,
    anchor: Anchor | None = None,
    not_before: datetime | None = None,
) -> datetime:
    """When an event happened (see the module docs); ``anchor``: its boot's best."""
    if trusted(device_time, clock_synced, received_at):
        at = device_time
    elif anchor is not None and mono_ms is not None:
        at = min(anchor.date(mono_ms), received_at)
    else:
        at = received_at
    return not_before_bound(at, not_before)


def not_before_bound(at: datetime, not_before: datetime | None) -> datetime:
    """Rule 4: ``at``, or ``not_before`` if ``at`` is earlier."""
    return not_before if not_before is not None and at < not_before else at


def prompt_key(received_at: datetime, mono_ms: int) -> datetime:
    """What orders prompt anchors: the boot's start as this message bounds it (smaller
    is tighter)."""
    return received_at - timedelta(milliseconds=mono_ms)


@dataclass(slots=True)
class BootClock:
    """The anchors known for one boot (one ``device_boots`` row)."""

    synced: Anchor | None = None
    prompt: Anchor | None = None
    #: changed since loaded (to be written)
    dirty: bool = False

    def best(self) -> Anchor | None:
        return self.synced or self.prompt

    def saw_event(
        self, device_time: datetime, clock_synced: bool, mono_ms: int, received_at: datetime
    ) -> None:
        """An event of the boot: a synced anchor if its clock is trusted (the earliest)."""
        if trusted(device_time, clock_synced, received_at) and (
            self.synced is None or mono_ms < self.synced.mono_ms
        ):
            self.synced, self.dirty = Anchor(device_time, mono_ms), True

    def saw_status(self, received_at: datetime, mono_ms: int) -> None:
        """A status published on connect: a prompt anchor if it bounds the boot tighter."""
        if self.prompt is None or prompt_key(received_at, mono_ms) < prompt_key(
            self.prompt.time, self.prompt.mono_ms
        ):
            self.prompt, self.dirty = Anchor(received_at, mono_ms), True
