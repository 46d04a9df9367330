"""OHAUS balances and indicators (Scout, Navigator, Defender, Ranger, Courier).

Source: OHAUS RS232 interface manual (Scout Pro / Navigator "Output examples"),
Courier 5000/7000 "OHAUS commands", Defender 5000 command table:

    ␣␣␣␣␣192.21␣g           stable
    ␣␣␣␣␣␣␣0.01␣g␣?         unstable: ``?`` after the unit

The weight is right-aligned in 11 characters (a ``-`` directly before the digits when
negative), then a space and the unit. Commands (CR LF): ``IP`` print now, ``P`` print,
``SP`` print when stable, ``CP`` continuous, ``0P`` auto-print off, ``Z`` zero, ``T``
tare; an invalid command is answered ``ES``. In overload the display shows an error
and the print output carries no weight; the simulator sends nothing then.

Sources: https://azmanual.top/manuals/257078/ohaus-rs232-interface-manual-ru.html?page=5,
https://www.manualslib.com/manual/3170485/Ohaus-Courier-7000.html?page=59
"""

from __future__ import annotations

from simulators.scales.encoders.base import (
    Action,
    Display,
    Encoder,
    decimals_for,
    magnitude,
    register,
)

_COMMANDS = {
    b"IP": Action.SEND_NOW,
    b"P": Action.SEND_NOW,
    b"SP": Action.SEND_STABLE,
    b"CP": Action.STREAM_ON,
    b"0P": Action.STREAM_OFF,
    b"Z": Action.ZERO,
    b"T": Action.TARE,
}


@register
class OhausEncoder(Encoder):
    name = "ohaus"
    default_line = (9600, 8, "N", 1)

    def frame(self, display: Display) -> bytes:
        if display.overload or display.underload:
            return b""
        unit = self.unit_of(display.division_g)
        value = magnitude(display.weight_g, unit, decimals_for(display.division_g, unit))
        if display.weight_g < 0:
            value = "-" + value
        stab = "" if display.stable else " ?"
        return f"{value:>11} {unit}{stab}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.UNKNOWN:
            return b"ES\r\n"
        if action is Action.SEND_STABLE and not ok:
            return b""  # SP keeps waiting for stability; nothing is printed
        return super().reply(action, display, ok=ok)
