"""Sartorius SBI output, 16 characters (``sartorius``) or 22 with an ID code (``sartorius22``).

Source: Sartorius operating instructions (GC803S, LE, FB, ME215S, CPA series),
"Data output format with 16 characters" / "with 22 characters":

    position  1    sign (+, - or space)
              2    space
              3-10 the weight with its decimal point, leading zeros as spaces
              11   space
              12-14 unit symbol, or spaces while the weight is not stable
              15-16 CR LF
    22 characters: a 6-character ID code (``N␣␣␣␣␣`` net weight) first.

    +␣␣␣1255.7␣g␣␣CRLF     stable 1255.7 g
    +␣␣␣1255.9␣␣␣␣CRLF     unstable (no unit)
    Stat␣␣␣␣␣␣␣␣H␣␣␣␣␣␣CRLF  (22) overload; ``L`` underload (status code at 13-14)
    ␣␣␣␣␣␣H␣␣␣␣␣␣␣CRLF        (16) the same line without its 6-character ID field

Commands: ``ESC P`` print, ``ESC T`` tare/zero, ``ESC f3_`` zero, ``ESC f4_`` tare
(SBI escape sequences; a trailing CR LF is allowed). 9600 7O1 is a common default;
the simulator uses 9600 8N1 to match the bridge's configuration.

Sources: https://www.easymanua.ls/sartorius/fb/manual?p=66,
https://www.easymanua.ls/sartorius/gc803s-0ce/manual?p=57,
https://www.manualslib.com/manual/733709/Sartorius-Master-Series.html?page=79
"""

from __future__ import annotations

from collections.abc import Iterator

from simulators.scales.encoders.base import (
    Action,
    Display,
    Encoder,
    decimals_for,
    magnitude,
    register,
)

ESC = 0x1B

_COMMANDS = {
    b"\x1bP": Action.SEND_NOW,
    b"\x1bT": Action.TARE,
    b"\x1bf3_": Action.ZERO,
    b"\x1bf4_": Action.TARE,
}


@register
class SartoriusEncoder(Encoder):
    name = "sartorius"
    default_line = (9600, 8, "N", 1)
    id_code = ""

    def frame(self, display: Display) -> bytes:
        if display.overload or display.underload:
            code = "H" if display.overload else "L"
            if self.id_code:
                return f"Stat{'':8}{code:<2}{'':6}\r\n".encode("ascii")
            return f"{'':6}{code:<2}{'':6}\r\n".encode("ascii")
        unit = self.unit_of(display.division_g)
        value = magnitude(display.weight_g, unit, decimals_for(display.division_g, unit))
        sign = "-" if display.weight_g < 0 else "+"
        shown = unit if display.stable else ""
        return f"{self.id_code}{sign} {value:>8} {shown:<3}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(b"\r\n"), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.UNKNOWN:
            return b""
        return super().reply(action, display, ok=ok)

    def split_commands(self, data: bytearray) -> Iterator[bytes]:
        """ESC sequences: ``ESC <upper>`` or ``ESC <lower> ... _``; other bytes dropped."""
        while data:
            start = data.find(bytes([ESC]))
            if start < 0:
                del data[:]
                return
            del data[:start]
            if len(data) < 2:
                return
            if 0x41 <= data[1] <= 0x5A:
                cmd = bytes(data[:2])
                del data[:2]
                yield cmd
                continue
            end = data.find(b"_")
            if end < 0:
                if len(data) > 32:
                    del data[:1]
                    continue
                return
            cmd = bytes(data[: end + 1])
            del data[: end + 1]
            yield cmd


@register
class Sartorius22Encoder(SartoriusEncoder):
    name = "sartorius22"
    id_code = "N     "
