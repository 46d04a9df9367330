"""Mettler Toledo MT-SICS (Standard Interface Command Set), level 0/1.

Line: 9600 8N1 on current balances (older ones 2400 7E1); frames end with CR LF.
Commands (host -> balance, each ``<cmd> CR LF``):

- ``S``   weight when stable; ``SI`` immediately; ``SIR`` immediately and repeatedly;
- ``Z``   zero; ``T`` tare; ``TA`` query/preset tare; ``TAC`` clear tare.

Responses parsed here (balance -> host)::

    S S     100.00 g     stable weight           -> STABLE
    S D     100.01 g     dynamic (in motion)     -> MOTION
    S +                  overload                -> OVERLOAD
    S -                  underload               -> UNDERLOAD
    S I                  command not executable  -> None (busy, no weight)
    T S     100.00 g     tare taken              -> a TARE reading, remembered
    TA A     10.00 g     current tare            -> a TARE reading, remembered
    Z A / Z I / Z + / Z -, T I/+/-, TAC A        -> None (acknowledgements)
    ES / ET / EL         syntax / transmission / logical error -> ERROR

The weight field is right-aligned in 10 characters; units g, kg, mg, lb, oz, ozt, ct.
The frame does not carry the division d (only the display resolution), so readings
leave ``division_g=None`` and the station's configured d applies. After a tare the
balance sends *net* weights: the parser remembers the last tare it saw (``T S``/``TA A``)
and marks following weights ``Mode.NET`` with ``tare_g``; a zero tare clears it.
"""

from __future__ import annotations

import re

from protocols._common import ascii_text, error, grams, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

_WEIGHT = re.compile(r"^(S|SI|SIR) ([SD]) +(-?\d+(?:\.\d+)?) +([A-Za-z]{1,3})$")
_LIMIT = re.compile(r"^(S|SI|SIR) ([+\-I])$")
_TARE = re.compile(r"^(T S|TA A) +(-?\d+(?:\.\d+)?) +([A-Za-z]{1,3})$")
_ACK = re.compile(r"^(Z|ZI|T|TI|TA|TAC) [AISD+\-]$")


@register
class MtSics(ScaleProtocol):
    name = "mtsics"
    default_line = (9600, 8, "N", 1)
    poll_command = b"SI\r\n"
    zero_command = b"Z\r\n"
    tare_command = b"T\r\n"

    def __init__(self) -> None:
        self.tare_g: int | None = None

    def reset(self) -> None:
        self.tare_g = None  # a power-cycled balance has no tare

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) > 40:
            return error(frame, self.name, "not an MT-SICS response")
        text = text.strip()
        if text in ("ES", "ET", "EL"):
            return error(
                frame,
                self.name,
                {"ES": "syntax error", "ET": "transmission error", "EL": "logical error"}[text],
            )
        m = _WEIGHT.match(text)
        if m:
            status = Status.STABLE if m.group(2) == "S" else Status.MOTION
            if self.tare_g:
                return weight_reading(
                    frame,
                    self.name,
                    status=status,
                    value=m.group(3),
                    unit=m.group(4),
                    mode=Mode.NET,
                    tare_g=self.tare_g,
                )
            return weight_reading(
                frame, self.name, status=status, value=m.group(3), unit=m.group(4)
            )
        m = _LIMIT.match(text)
        if m:
            flag = m.group(2)
            if flag == "I":
                return None
            status = Status.OVERLOAD if flag == "+" else Status.UNDERLOAD
            return Reading(status, None, bytes(frame), self.name, detail=f"S {flag}")
        m = _TARE.match(text)
        if m:
            tare = grams(m.group(2), m.group(3))
            if tare is None or tare < 0:
                return error(frame, self.name, "bad tare value")
            self.tare_g = tare or None
            return Reading(
                Status.STABLE,
                tare,
                bytes(frame),
                self.name,
                mode=Mode.TARE,
                tare_g=tare,
                unit=m.group(3).lower(),
            )
        if _ACK.match(text):
            if text == "TAC A":
                self.tare_g = None
            return None
        return error(frame, self.name, "unknown MT-SICS response")
