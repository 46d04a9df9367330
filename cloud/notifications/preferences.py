"""Households' notification preferences, quiet hours, and the registry of channels.

A household without a preference row gets the defaults: the in-app inbox plus every
channel a sender registered with ``household_default`` (SMS when Gammu is set up), in
Indonesian, with the programme's quiet hours. ``opt_out`` silences every channel, the
inbox included.

Quiet hours are local times (the programme's zone) ``start``-``end``; a window may wrap
past midnight (``21:00-06:00``); ``start == end`` means none. A message due inside the
window is deferred to its end (:func:`quiet_until`), never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.bulk import Prepared
from cloud.db import chunks
from cloud.models import Household, utcnow
from cloud.models.notifications import INAPP, NotificationChannel, NotificationPreference
from cloud.notifications.templates import LANGS

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PreferenceError(ValueError):
    """A preference that cannot be stored (the message says which field and why)."""


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as a sender registers it."""

    name: str
    kind: str
    household_default: bool = False
    operators: bool = False
    enabled: bool = True
    needs_address: bool = True


def register_channels(session: Session, specs: Iterable[ChannelSpec]) -> None:
    """Record the channels this sender serves (added or updated; others left alone)."""
    for spec in specs:
        row = session.get(NotificationChannel, spec.name)
        if row is None:
            row = NotificationChannel(name=spec.name)
            session.add(row)
        row.kind = spec.kind
        row.enabled = spec.enabled
        row.household_default = spec.household_default
        row.operators = spec.operators
        row.needs_address = spec.needs_address
        row.updated_at = utcnow()
    session.flush()


_ENABLED_CHANNELS = select(NotificationChannel).where(NotificationChannel.enabled)


def channel_registry(session: Session) -> dict[str, NotificationChannel]:
    """The enabled channels, by name."""
    return {r.name: r for r in session.scalars(_ENABLED_CHANNELS)}


def parse_hhmm(value: str) -> time:
    m = _HHMM.match(value)
    if m is None:
        raise PreferenceError(f"{value!r} is not a time of day HH:MM (00:00-23:59)")
    return time(int(m.group(1)), int(m.group(2)))


def quiet_until(now: datetime, window: tuple[str, str] | None, tz: str) -> datetime | None:
    """The end of the quiet window ``now`` falls in (UTC), or None when not quiet."""
    if window is None:
        return None
    start, end = parse_hhmm(window[0]), parse_hhmm(window[1])
    if start == end:
        return None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # wraps past midnight
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def window_of(
    pref: NotificationPreference | None, default: tuple[str, str] | None
) -> tuple[str, str] | None:
    """A household's quiet window: its own when set, else the programme's."""
    if pref is not None and pref.quiet_start is not None and pref.quiet_end is not None:
        return pref.quiet_start, pref.quiet_end
    return default


def default_channels(registry: Mapping[str, NotificationChannel]) -> list[str]:
    return [INAPP, *sorted(n for n, c in registry.items() if c.household_default)]


def household_channels(
    pref: NotificationPreference | None, registry: Mapping[str, NotificationChannel]
) -> list[str]:
    """The channels a household is told on (empty when it opted out)."""
    if pref is not None and pref.opt_out:
        return []
    if pref is None or pref.channels is None:
        return default_channels(registry)
    return [c for c in dict.fromkeys(pref.channels) if c == INAPP or c in registry]


def set_preference(
    session: Session,
    *,
    household_id: int,
    by: str,
    opt_out: bool | None = None,
    channels: Sequence[str] | None = None,
    reset_channels: bool = False,
    lang: str | None = None,
    quiet_hours: tuple[str, str] | None = None,
    reset_quiet_hours: bool = False,
    contacts: Mapping[str, str] | None = None,
) -> NotificationPreference:
    """Change a household's preference (only the given fields); flushes, no commit."""
    if session.get(Household, household_id) is None:
        raise PreferenceError(f"unknown household {household_id}")
    pref = session.get(NotificationPreference, household_id)
    if pref is None:
        pref = NotificationPreference(household_id=household_id, opt_out=False, lang="id")
        session.add(pref)
    if opt_out is not None:
        pref.opt_out = opt_out
    if reset_channels:
        pref.channels = None
    elif channels is not None:
        known = set(channel_registry(session)) | {INAPP}
        unknown = [c for c in channels if c not in known]
        if unknown:
            raise PreferenceError(
                f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        pref.channels = list(dict.fromkeys(channels))
    if lang is not None:
        if lang not in LANGS:
            raise PreferenceError(f"language must be one of {', '.join(LANGS)}")
        pref.lang = lang
    if reset_quiet_hours:
        pref.quiet_start = pref.quiet_end = None
    elif quiet_hours is not None:
        parse_hhmm(quiet_hours[0])
        parse_hhmm(quiet_hours[1])
        pref.quiet_start, pref.quiet_end = quiet_hours
    if contacts is not None:
        pref.contacts = {str(k): str(v) for k, v in contacts.items() if v}
    pref.updated_at = utcnow()
    pref.updated_by = by
    session.flush()
    return pref


_RECIPIENTS = Prepared(
    lambda keys: (
        select(Household.id, Household.phone, Household.active, NotificationPreference)
        .outerjoin(NotificationPreference, NotificationPreference.household_id == Household.id)
        .where(keys(Household.id))
    )
)


def recipients(
    session: Session, household_ids: Iterable[int]
) -> tuple[dict[int, NotificationPreference], dict[int, tuple[str | None, bool]]]:
    """What telling ``household_ids`` needs: each one's preference row (when it has one)
    and (phone as stored, active). One query per chunk: the households with their
    preference rows outer-joined (a batch of credits told with one statement, not two)."""
    prefs: dict[int, NotificationPreference] = {}
    phones: dict[int, tuple[str | None, bool]] = {}
    for chunk in chunks(household_ids):
        for hh, phone, active, pref in session.execute(_RECIPIENTS(session), {"keys": chunk}):
            phones[hh] = (phone, bool(active))
            if pref is not None:
                prefs[hh] = pref
    return prefs, phones
