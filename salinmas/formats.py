"""How amounts, weights and times are shown to people (SMS, tickets, displays).

Standard library only, so the edge (tickets, the station display) and the cloud
(notifications) print the same figures the same way. The dashboard has its own copy of
these rules in JavaScript (``cloud/api/static/js/util.js``); keep them in step.

>>> rupiah(2640), rupiah(-1500), rupiah(1250000)
('Rp 2.640', '-Rp 1.500', 'Rp 1.250.000')
>>> kilograms(1250), kilograms(1250, lang="en"), kilograms(880, lang="id")
('1,25 kg', '1.25 kg', '0,88 kg')
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Lang = Literal["id", "en"]

#: the programme's default time zone (Western Indonesia Time, WIB)
DEFAULT_TZ = "Asia/Jakarta"
#: abbreviations printed after local times
ZONE_ABBREVIATIONS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


def rupiah(amount_rp: int) -> str:
    """Integer rupiah the Indonesian way: ``Rp 4.500`` (dot thousands, no decimals)."""
    sign = "-" if amount_rp < 0 else ""
    return f"{sign}Rp {abs(amount_rp):,}".replace(",", ".")


def kilograms(grams: int, *, lang: Lang = "id", decimals: int = 2) -> str:
    """Grams as kilograms with ``decimals`` places; Indonesian uses a decimal comma."""
    text = f"{grams / 1000:.{decimals}f}"
    return f"{text.replace('.', ',') if lang == 'id' else text} kg"


def local_time(at: datetime, tz: str = DEFAULT_TZ, *, seconds: bool = False) -> str:
    """An aware time in the programme's zone, e.g. ``01-12-2026 17:53 WIB``."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: times must carry a time zone")
    local = at.astimezone(ZoneInfo(tz))
    stamp = local.strftime("%d-%m-%Y %H:%M:%S" if seconds else "%d-%m-%Y %H:%M")
    return f"{stamp} {ZONE_ABBREVIATIONS.get(tz, local.strftime('%Z'))}"
