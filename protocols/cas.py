"""CAS indicators (CI-200/CI-400/CI-600/CI-6000/NT-200/PDI series): 22- and 10-byte formats.

``cas22`` — "22 bytes for CAS" (the indicators' default stream format)::

    byte  1-2   ST / US / OL          stable, unstable, overload
    byte  3     ","
    byte  4-5   GS / NT               gross, net
    byte  6     ","
    byte  7     device id             one byte (ASCII '1' = 0x31 for id 1)
    byte  8     lamp status byte      binary: bit7 = 1, bit6 stable, bit5 model-specific,
                                      bit4 hold, bit3 printer, bit2 gross, bit1 tare, bit0 zero
    byte  9     ","
    byte 10-17  data, 8 ASCII chars   e.g. "0013.5" padded: "00013.5" -> 13.5; sign optional
    byte 18     " "
    byte 19-20  unit "kg" or " t"
    byte 21-22  CR LF

A reading is STABLE only when the header says ST *and* the lamp byte's stable bit is set;
if they disagree the reading is MOTION (never trust one flag alone with money). The
lamp byte is >= 0x80, so it can never be mistaken for CR or LF.

``cas10`` — "10 bytes for CAS": 8 data characters + CR LF, nothing else. The format has
no stability flag and no unit: every numeric frame is reported STABLE in the configured
``unit`` (default kg) with ``has_stability_flag = False``, so a weigh-in from it rests on
the software window alone; prefer cas22 where the indicator offers it. A frame reading
``OL``/``-OL`` (overload shown on the display) maps to OVERLOAD/UNDERLOAD.

Default line 9600 8N1; CAS stream formats are continuous (no poll/zero/tare command).
"""

from __future__ import annotations

import re

from protocols._common import ascii_text, error, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

_DATA = re.compile(r"^[ +-]?[0-9 .]{1,8}$")


@register
class Cas22(ScaleProtocol):
    name = "cas22"
    default_line = (9600, 8, "N", 1)

    def parse(self, frame: bytes) -> Reading | None:
        f = bytes(frame)
        if len(f) != 20 or f[2:3] != b"," or f[5:6] != b"," or f[8:9] != b",":
            return error(frame, self.name, "not a CAS 22-byte frame")
        lamp = f[7]
        if not lamp & 0x80:
            return error(frame, self.name, "lamp byte without its always-1 bit")
        text = ascii_text(f[:7] + f[8:])
        if text is None:
            return error(frame, self.name, "non-ASCII byte in a CAS 22-byte frame")
        header, kind, data, unit = text[0:2], text[3:5], text[8:16], text[16:19]
        if header not in ("ST", "US", "OL") or kind not in ("GS", "NT") or unit[0] != " ":
            return error(frame, self.name, "bad CAS 22-byte header or unit field")
        if not 0x20 <= f[6] <= 0x7E:
            return error(frame, self.name, "bad device id byte")
        mode = Mode.NET if kind == "NT" else Mode.GROSS
        if header == "OL":
            status = Status.UNDERLOAD if data.lstrip().startswith("-") else Status.OVERLOAD
            return Reading(status, None, f, self.name, mode=mode, detail=f"lamp=0x{lamp:02x}")
        if _DATA.match(data) is None:
            return error(frame, self.name, "bad CAS weight field")
        stable = header == "ST" and bool(lamp & 0x40)
        status = Status.STABLE if stable else Status.MOTION
        reading = weight_reading(
            f, self.name, status=status, value=data, unit=unit.strip(), mode=mode
        )
        if header == "ST" and not lamp & 0x40 and reading.status is Status.MOTION:
            return Reading(
                Status.MOTION,
                reading.grams,
                f,
                self.name,
                mode=mode,
                unit=reading.unit,
                detail="ST header but lamp not stable",
            )
        return reading


@register
class Cas10(ScaleProtocol):
    name = "cas10"
    default_line = (9600, 8, "N", 1)
    has_stability_flag = False

    def __init__(self, unit: str = "kg") -> None:
        if unit not in ("kg", "g", "t", "lb"):
            raise ValueError(f"unit must be kg, g, t or lb, got {unit!r}")
        self.unit = unit

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) != 8:
            return error(frame, self.name, "not a CAS 10-byte frame")
        compact = text.replace(" ", "")
        if compact in ("OL", "+OL"):
            return Reading(Status.OVERLOAD, None, bytes(frame), self.name, detail=text)
        if compact == "-OL":
            return Reading(Status.UNDERLOAD, None, bytes(frame), self.name, detail=text)
        if _DATA.match(text) is None:
            return error(frame, self.name, "bad CAS 10-byte weight field")
        return weight_reading(frame, self.name, status=Status.STABLE, value=text, unit=self.unit)
