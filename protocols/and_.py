"""A&D (A and D Company) balances and weighing indicators, "A&D standard format".

Two registered protocols, because the two product lines print different frames:

``and_balance`` — GX/GF/FX-i/EK balances (15 characters + CR LF)::

    ST,+00123.45  g      header, comma, 9-character data (sign, zero-padded), 3-char unit
    US,-00018.36  g      US = unstable           -> MOTION
    OL,+9999999E+19      OL = out of range, no unit (only the CSV format adds it); the
                         sign says over (+) or under (-) -> OVERLOAD / UNDERLOAD
    QT,+000012345 PC     counting mode: not a weight -> ERROR ("counting mode")

Units: g, kg, mg, ct, oz, lb, ozt (others, e.g. mom, dwt, GN, PC, %, are rejected).
Default line 2400 7E1. Commands: ``Q`` (send one reading), ``Z`` (zero), ``T`` (tare).

``and_indicator`` — AD-4406/AD-4404/AD-4325-compatible indicators (18 characters)::

    ST,GS,+0012.34kg     header 1 ST/US/OL (LO on some models), header 2 GS/NT/TR,
    ST,NT,+0010000kg     8-character data (sign + 7 incl. decimal point), 2-char unit
    OL,GS,-    .  kg     out of range: digits replaced by spaces -> OVERLOAD/UNDERLOAD
    US,GS,+0123.45kg     -> MOTION

``NT`` frames are net (``Mode.NET``), ``TR`` frames show the tare (``Mode.TARE``).
The frames carry no division d. Commands: ``RW`` (read weight), ``MZ`` (zero),
``MT`` (tare); answers ``I`` when busy (ignored). A comma decimal separator is accepted.
"""

from __future__ import annotations

import re

from protocols._common import ascii_text, error, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

_UNITS = {
    "g": "g",
    "kg": "kg",
    "mg": "mg",
    "ct": "ct",
    "oz": "oz",
    "lb": "lb",
    "ozt": "ozt",
    "t": "t",
}

_BALANCE = re.compile(r"^(ST|US|QT),([+-][0-9. ]{8,10}) {0,3}([A-Za-z%]{1,3})$")
_BALANCE_OL = re.compile(r"^OL,([+-])[0-9. E+]{8,12}( {0,3}[A-Za-z%]{1,3})?$")
_INDICATOR = re.compile(r"^(ST|US|OL|LO|HD),(GS|NT|TR|G|N|T),([+-][0-9 .,]{7})([ a-z]{2,3})$")


def _status(header: str, data: str) -> Status:
    if header in ("OL", "LO"):
        return Status.UNDERLOAD if data.startswith("-") else Status.OVERLOAD
    return Status.STABLE if header in ("ST", "HD") else Status.MOTION


@register
class AndBalance(ScaleProtocol):
    name = "and_balance"
    default_line = (2400, 7, "E", 1)
    poll_command = b"Q\r\n"
    zero_command = b"Z\r\n"
    tare_command = b"T\r\n"

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) > 24:
            return error(frame, self.name, "not an A&D balance frame")
        text = text.strip("\r\n")
        if text.strip() == "I":  # command not executable (busy)
            return None
        over = _BALANCE_OL.match(text)
        if over:
            status = Status.UNDERLOAD if over.group(1) == "-" else Status.OVERLOAD
            return Reading(status, None, bytes(frame), self.name, detail=text)
        m = _BALANCE.match(text)
        if m is None:
            return error(frame, self.name, "not an A&D balance frame")
        header, data, unit = m.groups()
        if header == "QT":
            return error(frame, self.name, "counting mode (QT), not a weight")
        status = _status(header, data)
        unit_key = _UNITS.get(unit.strip().lower())
        if unit_key is None:
            return error(frame, self.name, f"unit {unit!r} is not a weight unit")
        return weight_reading(frame, self.name, status=status, value=data, unit=unit_key)


@register
class AndIndicator(ScaleProtocol):
    name = "and_indicator"
    default_line = (2400, 7, "E", 1)
    poll_command = b"RW\r\n"
    zero_command = b"MZ\r\n"
    tare_command = b"MT\r\n"

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) > 24:
            return error(frame, self.name, "not an A&D indicator frame")
        text = text.strip("\r\n")
        if text.strip() == "I":
            return None
        m = _INDICATOR.match(text)
        if m is None:
            return error(frame, self.name, "not an A&D indicator frame")
        header, kind, data, unit = m.groups()
        status = _status(header, data)
        mode = {"GS": Mode.GROSS, "G": Mode.GROSS, "NT": Mode.NET, "N": Mode.NET}.get(
            kind, Mode.TARE
        )
        if status in (Status.OVERLOAD, Status.UNDERLOAD):
            return Reading(status, None, bytes(frame), self.name, mode=mode, detail=text)
        unit_key = _UNITS.get(unit.strip().lower())
        if unit_key is None:
            return error(frame, self.name, f"unit {unit!r} is not a weight unit")
        value = data.replace(",", ".")
        reading = weight_reading(
            frame, self.name, status=status, value=value, unit=unit_key, mode=mode
        )
        return reading
