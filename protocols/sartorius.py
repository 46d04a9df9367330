"""Sartorius SBI output (balances and Combics/Signum indicators): 16- and 22-byte lines.

16 characters::

    pos 1      "+", "-" or space            sign
    pos 2      space (or "[" on verified balances with e > d)
    pos 3-10   weight incl. decimal point, leading zeros as spaces
    pos 11     space (or "]")
    pos 12-14  unit, or spaces while the value is *unstable*
    pos 15-16  CR LF

    "+  1255.7 g  "    stable 1255.7 g           -> STABLE
    "+  1255.9     "   no unit: not stable       -> MOTION
    "      H       "   H overload (HH checkweighing over) -> OVERLOAD
    "      L       "   L underload (LL)          -> UNDERLOAD
    "   Err 54     "   error                     -> ERROR; "      C" adjustment -> ERROR

22 characters: a 6-character ID code first (``N`` net, ``G``/``G#`` gross, ``T``/``T2``
tare, ``Stat`` status lines whose code, e.g. ``H``, follows further right), then the 16
characters above. A 16-character ``Stat  H`` line is read the same way. A weight read while
unstable has no unit, so it is converted with the unit of the last stable reading (or
``unit``, default kg). The frames carry no division d.

Commands: ``ESC P`` print (the poll), ``ESC T`` tare/zero, ``ESC f3_`` zero.
Default line 1200 7O1 (Sartorius factory setting).
"""

from __future__ import annotations

import re

from protocols._common import ascii_text, error, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

_DIGITS = re.compile(r"^(\d+\.?\d*|\.\d+)$")
_SPECIAL = re.compile(r"^\s*(HH|H|LL|L|C|--)\s*$")
_UNITS = {
    "g": "g",
    "kg": "kg",
    "mg": "mg",
    "lb": "lb",
    "oz": "oz",
    "ozt": "ozt",
    "ct": "ct",
    "t": "t",
}


@register
class Sartorius(ScaleProtocol):
    name = "sartorius"
    default_line = (1200, 7, "O", 1)
    poll_command = b"\x1bP\r\n"
    zero_command = b"\x1bf3_\r\n"
    tare_command = b"\x1bT\r\n"

    def __init__(self, unit: str = "kg") -> None:
        if unit not in _UNITS:
            raise ValueError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
        self.unit = unit

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) not in (14, 20):
            return error(frame, self.name, "not a 16/22-character Sartorius SBI line")
        ident, body = ("", text) if len(text) == 14 else (text[:6].strip(), text[6:])
        mode = Mode.GROSS
        if ident.startswith("Stat") or (not ident and body.startswith("Stat")):
            # "Stat" status lines carry the special code (H, L, ...) further right
            ident, body = "", f"{body.removeprefix('Stat'):<14}"[:14]
            if _SPECIAL.match(body) is None:
                return error(frame, self.name, f"status line: {body.strip()}")
        if ident:
            if ident[0] == "N":
                mode = Mode.NET
            elif ident[0] == "T":
                mode = Mode.TARE
            elif ident[0] != "G":
                return None  # another ID line (date, time, Qnt, ...): no weight
        if "Err" in body:
            return error(frame, self.name, body.strip())
        special = _SPECIAL.match(body)
        if special:
            code = special.group(1)
            if code.startswith("H"):
                return Reading(
                    Status.OVERLOAD, None, bytes(frame), self.name, mode=mode, detail=code
                )
            if code.startswith("L"):
                return Reading(
                    Status.UNDERLOAD, None, bytes(frame), self.name, mode=mode, detail=code
                )
            return error(frame, self.name, f"special code {code!r}")
        sign, unit = body[0], body[11:14].strip()
        digits = body[1:11].replace("[", "").replace("]", "").strip()
        if sign not in "+- " or _DIGITS.match(digits) is None or body[11:14] != f"{unit:<3}":
            return error(frame, self.name, "not a Sartorius SBI weight")
        value = ("-" if sign == "-" else "") + digits
        if unit:
            unit_key = _UNITS.get(unit.lower())
            if unit_key is None:
                return error(frame, self.name, f"unit {unit!r} is not a weight unit")
            self.unit = unit_key
            status = Status.STABLE
        else:
            unit_key, status = self.unit, Status.MOTION
        reading = weight_reading(
            frame, self.name, status=status, value=value, unit=unit_key, mode=mode
        )
        return reading
