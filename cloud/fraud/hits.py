"""What a fraud rule's detector returns, and the day helpers every detector shares.

A detector reads what it needs for the local days ``first..last`` (and the look-back its
window needs) in a few grouped queries, and returns one :class:`Hit` per subject and
local day on which the rule's threshold is crossed. It decides nothing else: what
becomes of a hit (a new case, or part of one already raised) is :mod:`cloud.fraud.cases`.

Times: days are the programme's local days (``tz``); opening hours are in each site's
own time zone. Only weigh-ins whose device clock was synchronised are judged on their
time of day (an unsynchronised one carries its receive time, which says nothing about
when it was weighed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cloud.models import WeighinRecord

W = WeighinRecord
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    subject_kind: str  # household | card | station | collector
    subject_key: str
    day: date
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    household_id: int | None = None
    site_id: int | None = None


Params = dict[str, float]
Detector = Callable[[Session, Params, date, date, ZoneInfo], list[Hit]]


def day_start(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(), tz)


def local_day(t: datetime, tz: ZoneInfo) -> date:
    return t.astimezone(tz).date()


def kg1(g: float) -> float:
    """Grams as kilograms with one decimal, for figures and summaries."""
    return round(g / 1000, 1)
