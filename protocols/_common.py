"""Helpers shared by the protocol parsers (number and unit handling, error readings)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from protocols.base import Mode, Reading, Status, to_grams

#: A signed decimal number as indicators print it; spaces may sit between sign and digits.
_NUMBER = re.compile(r"^([+-]?)\s*(\d+\.?\d*|\.\d+)$")

#: Largest magnitude accepted (100 t); anything larger is a garbled frame.
MAX_GRAMS = 100_000_000


def number(text: str) -> Decimal | None:
    """``" - 12.30"`` -> ``Decimal("-12.30")``; ``None`` if it is not a plain decimal."""
    match = _NUMBER.match(text.strip())
    if match is None:
        return None
    sign, digits = match.groups()
    try:
        return Decimal(f"{sign}{digits}")
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def grams(value: Decimal | str, unit: str) -> int | None:
    """``value`` in ``unit`` as integer grams (half up), or ``None`` if either is invalid."""
    amount = number(value) if isinstance(value, str) else value
    if amount is None:
        return None
    try:
        result = to_grams(str(amount), unit)
    except (KeyError, InvalidOperation, ValueError):
        return None
    return result if abs(result) <= MAX_GRAMS else None


def ascii_text(frame: bytes) -> str | None:
    """The frame as text if it is printable 7-bit ASCII (plus CR/LF/STX/ETX), else ``None``."""
    if any(b > 0x7E or (b < 0x20 and b not in (0x02, 0x03, 0x0A, 0x0D)) for b in frame):
        return None
    return frame.decode("ascii")


def error(frame: bytes, protocol: str, detail: str) -> Reading:
    """A reading that says: this frame is not a usable weight (kept for audit)."""
    return Reading(Status.ERROR, None, bytes(frame), protocol, detail=detail)


def weight_reading(
    frame: bytes,
    protocol: str,
    *,
    status: Status,
    value: Decimal | str,
    unit: str,
    mode: Mode = Mode.GROSS,
    tare_g: int | None = None,
    division_g: int | None = None,
) -> Reading:
    """A weight reading, or an ERROR reading if the value/unit do not convert.

    A frame in TARE mode reports the tare itself: its weight is also the ``tare_g``.
    """
    g = grams(value, unit)
    if g is None:
        return error(frame, protocol, f"bad weight {value!s} {unit!r}")
    if mode is Mode.TARE and tare_g is None:
        tare_g = g
    return Reading(
        status,
        g,
        bytes(frame),
        protocol,
        mode=mode,
        tare_g=tare_g,
        division_g=division_g,
        unit=unit.strip().lower(),
    )
