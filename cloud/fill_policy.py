"""The bin policy, pure: what one fill reading decides, given what is known of its bin.

No database and no clock of its own: :func:`decide` takes the bin's policy state and a
reading and returns a :class:`FillDecision`. Both ways a reading is applied use it —
the one-message path (:func:`cloud.pickups.apply_fill`, through the ORM) and the
ingest's cached batch path (:mod:`cloud.ingest.state`, which applies *routine*
decisions in memory and writes them behind, and hands every other one to the
one-message path) — so the rule is written once.

The rule, per bin:

- a reading not newer than the last one applied (``seq``) changes nothing;
- pickup: a level at or above ``threshold_pct`` while the bin is *armed* opens one
  pickup (priority 2 from 95 %, else 1) and disarms it; it re-arms only below
  ``threshold_pct - hysteresis_pct`` (the bin was emptied), so oscillation around the
  threshold opens no second one;
- alerts: ``lid_open``, ``tilt`` and ``sensor_fault`` are raised while their condition
  holds and cleared by a reading without it; ``bin_full`` with the pickup, cleared on
  re-arming; a faulty reading changes neither the level nor the arming;
- forecast samples: a level is kept as a sample when none is known, or when it is at
  least :data:`SAMPLE_EVERY` after the newest one kept; the fill rate is the
  least-squares slope of the samples in the last :data:`FORECAST_WINDOW` and is
  worked out again whenever a sample is kept; time-to-full extrapolates the latest
  level at that rate (:func:`forecast_full_at`). Samples older than
  :data:`SAMPLE_RETENTION` before a bin's newest are pruned.

A decision is *routine* when it changes nothing but the level (and maybe keeps a
sample): no alert to raise or clear, no pickup, no arming, fault, lid or tilt change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from cloud.clock import event_time
from contract import Fill

#: a forecast sample is kept at most this often per bin
SAMPLE_EVERY = timedelta(minutes=1)
#: the fill rate is the slope of the samples in this window before the newest
FORECAST_WINDOW = timedelta(hours=6)
#: samples this much older than a bin's newest are pruned
SAMPLE_RETENTION = timedelta(days=7)
#: a pickup opened by a full bin is due this long after opening at the latest
DEFAULT_DUE = timedelta(hours=12)
#: from this level a new pickup has the higher priority
URGENT_PCT = 95.0


class BinPolicyState(Protocol):
    """What the policy reads of a bin (a ``Bin`` row and a cached state both have it)."""

    @property
    def bin_id(self) -> str: ...
    @property
    def threshold_pct(self) -> float: ...
    @property
    def hysteresis_pct(self) -> float: ...
    @property
    def armed(self) -> bool: ...
    @property
    def fault(self) -> str | None: ...
    @property
    def lid_open(self) -> bool | None: ...
    @property
    def tilted(self) -> bool | None: ...
    @property
    def last_seq(self) -> int | None: ...


class FillDecision(NamedTuple):
    """What one (new) reading does to its bin; applied by the caller.

    (A named tuple: one is made per reading of a fleet, and it is the cheapest to make.)
    """

    seq: int
    at: datetime  # the reading's time by the clock rule
    lid_open: bool | None
    tilted: bool | None
    fault: str | None
    level: float | None  # None: a faulty reading (the level stays as it was)
    distance_mm: int | None
    armed: bool
    sample: bool  # keep the level as a forecast sample
    raise_alerts: tuple[tuple[str, str], ...]  # (kind, message)
    clear_alerts: tuple[str, ...]
    pickup_priority: int | None  # open a pickup with this priority
    routine: bool


def decide(
    state: BinPolicyState, sampled_at: datetime | None, fill: Fill, received_at: datetime
) -> FillDecision | None:
    """The decision for ``fill``; None if it is not newer than the last reading applied.

    ``sampled_at`` is the time of the bin's newest forecast sample (None if none).
    """
    if state.last_seq is not None and fill.seq <= state.last_seq:
        return None
    at = event_time(fill.device_time, fill.clock_synced, received_at)
    b = state.bin_id
    # written out rather than through a helper: this runs for every reading of a fleet
    raised: tuple[tuple[str, str], ...] = ()
    cleared: tuple[str, ...] = ()
    lid, tilt = fill.lid_open, fill.tilted
    if lid:
        raised += (("lid_open", f"lid of bin {b} is open"),)
    elif lid is False and state.lid_open is not False:  # clear only what may be raised
        cleared += ("lid_open",)
    if tilt:
        raised += (("tilt", f"bin {b} is tilted or knocked over"),)
    elif tilt is False and state.tilted is not False:
        cleared += ("tilt",)
    changed = lid != state.lid_open or tilt != state.tilted
    if fill.fault is not None:
        fault = fill.fault.value
        raised += (("sensor_fault", f"fill sensor of bin {b}: {fault}"),)
        return FillDecision(
            fill.seq,
            at,
            lid,
            tilt,
            fault,
            None,
            None,
            state.armed,
            False,
            raised,
            cleared,
            None,
            routine=False,
        )
    if state.fault is not None:
        cleared += ("sensor_fault",)
    level = fill.fill_pct
    assert level is not None  # the contract: exactly one of fault and fill_pct
    armed, priority = state.armed, None
    if armed and level >= state.threshold_pct:
        armed, priority = False, 2 if level >= URGENT_PCT else 1
        raised += (("bin_full", f"bin {b} is {level:.0f} % full"),)
    elif not armed and level < state.threshold_pct - state.hysteresis_pct:
        armed = True
        cleared += ("bin_full",)
    sample = sampled_at is None or at >= sampled_at + SAMPLE_EVERY
    routine = not changed and state.fault is None and armed == state.armed
    return FillDecision(
        fill.seq,
        at,
        lid,
        tilt,
        None,
        level,
        fill.distance_mm,
        armed,
        sample,
        raised,
        cleared,
        priority,
        routine,
    )


def fill_rate_pct_per_h(samples: Sequence[tuple[datetime, float]]) -> float | None:
    """Least-squares slope of fill % over time, in % per hour (None if < 2 samples)."""
    if len(samples) < 2:
        return None
    t0 = samples[0][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in samples]
    ys = [v for _, v in samples]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def forecast_full_at(at: datetime, level: float, rate: float | None) -> datetime | None:
    """When a bin at ``level`` % at ``at``, filling at ``rate`` %/h, will be full."""
    if level >= 100:
        return at
    if rate is not None and rate > 0.01:
        return at + timedelta(hours=(100 - level) / rate)
    return None


def pickup_due(at: datetime, forecast: datetime | None) -> datetime:
    """When a pickup opened at ``at`` is due: the forecast, but at most :data:`DEFAULT_DUE`."""
    latest = at + DEFAULT_DUE
    return min(forecast, latest) if forecast is not None else latest
