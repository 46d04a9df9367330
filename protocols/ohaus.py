"""OHAUS balances and indicators (Defender/Ranger/Navigator/Scout/Valor, 3000 series).

Output line (fields right/left-justified with spaces, CR LF)::

    [-] weight  unit  [?]  [legend]
    "-    12.34 kg ? NET"     "?" marks an unstable reading -> MOTION
    "     192.21 g"           no "?" -> STABLE
    "      0.85 kg     G"     legends: G / B/G (gross), N / NET (net), T / Tare (tare)

The polarity sign may be separated from the digits by spaces. Overload is printed as
``OL`` (or ``-OL`` for underload) in the weight field on models that print it; an
``Err ...`` line is an ERROR. Units: g, kg, lb, oz, ozt, ct, t; counting (PCS) and
percent are not weights. The frames carry no division d.

Commands (CR LF terminated): ``IP`` immediate print (used as the poll), ``SP`` print
when stable, ``CP`` continuous print, ``Z`` zero, ``T`` tare. Default line 9600 8N1.
"""

from __future__ import annotations

import re

from protocols._common import ascii_text, error, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

_LINE = re.compile(
    r"^\s*(-?)\s*(\d+\.?\d*|\.\d+)\s+([A-Za-z]{1,3})\b\s*(\?)?\s*(G|B/G|N|NET|Net|T|Tare)?\s*$"
)
_OVER = re.compile(r"^\s*(-?)\s*(OL|oL|OVER|O-L)\b.*$")
_UNITS = {"g": "g", "kg": "kg", "lb": "lb", "oz": "oz", "ozt": "ozt", "ct": "ct", "t": "t"}
_LEGEND = {
    "G": Mode.GROSS,
    "B/G": Mode.GROSS,
    "N": Mode.NET,
    "NET": Mode.NET,
    "Net": Mode.NET,
    "T": Mode.TARE,
    "Tare": Mode.TARE,
}


@register
class Ohaus(ScaleProtocol):
    name = "ohaus"
    default_line = (9600, 8, "N", 1)
    poll_command = b"IP\r\n"
    zero_command = b"Z\r\n"
    tare_command = b"T\r\n"

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) > 48:
            return error(frame, self.name, "not an OHAUS output line")
        if text.strip().startswith("Err"):
            return error(frame, self.name, text.strip())
        over = _OVER.match(text)
        if over:
            status = Status.UNDERLOAD if over.group(1) else Status.OVERLOAD
            return Reading(status, None, bytes(frame), self.name, detail=text.strip())
        m = _LINE.match(text)
        if m is None:
            return error(frame, self.name, "not an OHAUS output line")
        sign, digits, unit, unstable, legend = m.groups()
        unit_key = _UNITS.get(unit.lower()) if unit != "T" else None
        if unit_key is None:
            return error(frame, self.name, f"unit {unit!r} is not a weight unit")
        mode = _LEGEND.get(legend or "G", Mode.GROSS)
        reading = weight_reading(
            frame,
            self.name,
            status=Status.MOTION if unstable else Status.STABLE,
            value=f"{sign}{digits}",
            unit=unit_key,
            mode=mode,
        )
        return reading
