"""A&D weighing indicators (AD-4321/4325/4401...), A&D standard format.

Source: A&D indicator manuals (e.g. AD-4404 specifications 9.2.6, OP-05 "Output data"):
header 1 (``ST`` stable, ``US`` unstable, ``OL`` out of range), a comma, header 2
(``GS`` gross, ``NT`` net, ``TR`` tare), a comma, 8 characters of data (sign, digits and
the decimal point), a 2-character unit (``kg``, ``␣g``, ``␣t``), CR LF — 18 bytes::

    ST,GS,+0012.34kg    stable gross
    US,NT,+0010.00kg    unstable net
    ST,TR,+0002.34kg    the tare
    OL,GS,+␣␣␣␣.␣␣kg    overload: digits replaced by spaces (``-`` when under)

Commands (CR LF): ``RW`` read weight (also ``Q``), ``MZ`` zero, ``MT`` tare, ``CT``
clear tare. Default line settings 2400 7E1.

Sources: https://a-d.manymanuals.fr/measuring-testing-control/op-05/specifications-47631/60
and the AD-4404 specifications, 9.2.6 "A&D Data Format".
"""

from __future__ import annotations

from simulators.scales.encoders.and_balance import data_field
from simulators.scales.encoders.base import Action, Display, Encoder, register

_COMMANDS = {
    b"RW": Action.SEND_NOW,
    b"Q": Action.SEND_NOW,
    b"MZ": Action.ZERO,
    b"MT": Action.TARE,
    b"CT": Action.CLEAR_TARE,
}


@register
class AndIndicatorEncoder(Encoder):
    name = "and_indicator"
    default_line = (2400, 7, "E", 1)
    default_mode = "continuous"

    def frame(self, display: Display) -> bytes:
        mode = "NT" if display.net else "GS"
        data, unit = data_field(
            display.weight_g, display.division_g, 8, self.unit_of(display.division_g)
        )
        if display.overload or display.underload:
            sign = "-" if display.underload else "+"
            blank = "".join(c if c == "." else " " for c in data[1:])
            return f"OL,{mode},{sign}{blank}{unit:>2}\r\n".encode("ascii")
        header = "ST" if display.stable else "US"
        return f"{header},{mode},{data}{unit:>2}\r\n".encode("ascii")

    def tare_frame(self, display: Display) -> bytes:
        data, unit = data_field(
            display.tare_g, display.division_g, 8, self.unit_of(display.division_g)
        )
        return f"ST,TR,{data}{unit:>2}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.TARE and ok:
            return self.tare_frame(display)
        if action is Action.UNKNOWN:
            return b""  # indicators ignore what they do not understand
        return super().reply(action, display, ok=ok)
