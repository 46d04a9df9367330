"""The clock rule: when an event counts as having happened (one home for every event).

A device's clock is trusted when it was NTP-synchronised and is not further ahead of the
receive time than :data:`MAX_CLOCK_AHEAD`; otherwise the event counts at its receive
time. Weigh-ins are priced and dated by it (:mod:`cloud.crediting`), fill readings
ordered and sampled by it (:mod:`cloud.fill_policy`), telemetry points stamped with it
(the ingest passes it to :mod:`cloud.telemetry`'s point builders).

>>> from datetime import UTC, datetime, timedelta
>>> rx = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
>>> event_time(rx - timedelta(hours=1), True, rx) == rx - timedelta(hours=1)
True
>>> event_time(rx - timedelta(hours=1), False, rx) == rx  # not synchronised
True
>>> event_time(rx + timedelta(hours=1), True, rx) == rx  # too far ahead
True
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: a device clock further ahead of the receive time than this is not trusted
MAX_CLOCK_AHEAD = timedelta(minutes=5)


def event_time(device_time: datetime, clock_synced: bool, received_at: datetime) -> datetime:
    """When an event happened: the device's clock if synced and not too far ahead, else
    the receive time."""
    if clock_synced and device_time <= received_at + MAX_CLOCK_AHEAD:
        return device_time
    return received_at
