"""A&D balances (GX/GF/FX/EK...), A&D standard format.

Source: A&D balance instruction manuals, "Data format / A&D standard format": a
two-character header, a comma, 9 characters of data (sign, zero-padded digits and the
decimal point), a 3-character unit, CR LF::

    ST,+00123.45␣␣g     stable weight            (header ST)
    US,+00123.47␣␣g     unstable                 (header US)
    ST,-00012.30␣kg     negative
    OL,+9999999E+19     out of weighing range, over (OL; ``-`` when under)
    QT,+000012345␣PC    stable count data        (not produced here)

Commands (each ending CR LF): ``Q`` send now, ``S`` send when stable, ``SI`` send now,
``SIR`` continuous, ``C`` cancel S/SIR, ``Z``/``R`` re-zero, ``T`` tare. An undefined
command is answered ``EC,E1``. Default line settings: 2400 baud, 7 data bits, even
parity, 1 stop bit.

Sources: https://manualshive.com/en/manual/aandd/gc-series/446421?page=51 (standard
format), https://manualshive.com/ru/manual/aandd/ad-4212d-33/3070564?page=29 (OL frame).
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
    b"Q": Action.SEND_NOW,
    b"SI": Action.SEND_NOW,
    b"S": Action.SEND_STABLE,
    b"SIR": Action.STREAM_ON,
    b"C": Action.STREAM_OFF,
    b"Z": Action.ZERO,
    b"R": Action.ZERO,
    b"T": Action.TARE,
}


def data_field(grams: int, division_g: int, width: int, unit: str) -> tuple[str, str]:
    """``(sign + zero-padded value of `width` characters, unit)``."""
    digits = magnitude(grams, unit, decimals_for(division_g, unit))
    sign = "-" if grams < 0 else "+"
    return sign + digits.rjust(width - 1, "0"), unit


@register
class AndBalanceEncoder(Encoder):
    name = "and_balance"
    default_line = (2400, 7, "E", 1)
    default_mode = "continuous"

    def frame(self, display: Display) -> bytes:
        if display.overload or display.underload:
            sign = "-" if display.underload else "+"
            return f"OL,{sign}9999999E+19\r\n".encode("ascii")
        data, unit = data_field(
            display.weight_g, display.division_g, 9, self.unit_of(display.division_g)
        )
        header = "ST" if display.stable else "US"
        return f"{header},{data}{unit:>3}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.UNKNOWN:
            return b"EC,E1\r\n"
        if action is Action.SEND_STABLE and not ok:
            return b"EC,E3\r\n"  # time-out: no stable weight
        return super().reply(action, display, ok=ok)
