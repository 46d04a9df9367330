"""Mettler Toledo MT-SICS level 0/1, as a balance answers it.

Source: METTLER TOLEDO, *MT-SICS Interface Commands* reference manual (11780711) and the
balances' operating instructions ("Command S ... Response ``S S     100.00 g``", "S I
command not executable", "S + overload", "S - underload"); commands are upper case and
end with CR LF, and so do responses.

Frames (``␣`` is a space; the weight field is right-aligned in 10 characters)::

    S␣S␣␣␣␣␣100.00␣g        stable weight           (answer to S, SI, SIR)
    S␣D␣␣␣␣␣100.01␣g        dynamic (in motion)     (answer to SI, SIR)
    S␣+ / S␣-               overload / underload
    S␣I                     not executable (S timed out waiting for stability)
    Z␣A / Z␣I               zeroed / not executable
    T␣S␣␣␣␣␣␣10.00␣g        tare taken              (T␣I when in motion)
    TA␣A␣␣␣␣␣10.00␣g        current tare            (answer to TA)
    TAC␣A                   tare cleared
    ES / ET / EL            syntax / transmission / logical error

The simulator's continuous mode is what ``SIR`` starts: ``S S``/``S D`` lines at the rate.

Sources (retrieved for this module):
https://www.manualshelf.com/manual/mettler-toledo/at-balances/2-operating-instructions-english/page-87.html
https://mettler-toledo.manymanuals.com/kitchen-scales/al-ic/operations-instructions-7405/72
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
    b"S": Action.SEND_STABLE,
    b"SI": Action.SEND_NOW,
    b"SIR": Action.STREAM_ON,
    b"@": Action.STREAM_OFF,  # cancel: stops SIR
    b"Z": Action.ZERO,
    b"ZI": Action.ZERO,
    b"T": Action.TARE,
    b"TI": Action.TARE,
    b"TA": Action.TARE_QUERY,
    b"TAC": Action.CLEAR_TARE,
}


def weight_field(grams: int, division_g: int, unit: str) -> tuple[str, str]:
    """``(10-character right-aligned value, unit)`` for a weight in grams."""
    text = magnitude(grams, unit, decimals_for(division_g, unit))
    if grams < 0:
        text = "-" + text
    return f"{text:>10}", unit


@register
class MtSicsEncoder(Encoder):
    name = "mtsics"
    default_line = (9600, 8, "N", 1)
    default_mode = "polled"

    def frame(self, display: Display) -> bytes:
        if display.overload:
            return b"S +\r\n"
        if display.underload:
            return b"S -\r\n"
        value, unit = weight_field(
            display.weight_g, display.division_g, self.unit_of(display.division_g)
        )
        flag = "S" if display.stable else "D"
        return f"S {flag} {value} {unit}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.UNKNOWN:
            return b"ES\r\n"
        if action is Action.SEND_STABLE:
            return self.frame(display) if ok else b"S I\r\n"
        if action in (Action.SEND_NOW, Action.STREAM_ON):
            return self.frame(display)
        if action is Action.ZERO:
            return b"Z A\r\n" if ok else b"Z I\r\n"
        if action is Action.TARE:
            if not ok:
                return b"T I\r\n"
            value, unit = weight_field(
                display.tare_g, display.division_g, self.unit_of(display.division_g)
            )
            return f"T S {value} {unit}\r\n".encode("ascii")
        if action is Action.TARE_QUERY:
            value, unit = weight_field(
                display.tare_g, display.division_g, self.unit_of(display.division_g)
            )
            return f"TA A {value} {unit}\r\n".encode("ascii")
        if action is Action.CLEAR_TARE:
            return b"TAC A\r\n"
        return b""
