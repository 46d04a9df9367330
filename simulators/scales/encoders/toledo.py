"""Mettler Toledo continuous output (the "Toledo" 8142/8530 stream), 18 bytes.

Source: METTLER TOLEDO IND445/ICS425 user manual 5.2 "TOLEDO Continuous mode", Rockwell
1771 Toledo scale interface appendix D, Fairbanks FB3000 appendix III, Rice Lake 520
13.8.1, Cardinal 225 "Continuous output formats":

    STX SWA SWB SWC  W W W W W W  T T T T T T  CR  CHK

- ``STX`` 0x02; weight and tare are 6 ASCII digits each, no sign, no decimal point;
- ``CHK`` (optional): the two's complement of the sum of the 7 low bits of every
  character before it, STX and CR included, masked to 7 bits;
- status word A: bits 0-2 decimal point (010 ``XXXXXX``, 011 ``XXXXX.X``, 100
  ``XXXX.XX``, 101 ``XXX.XXX``, 110 ``XX.XXXX``, 111 ``X.XXXXX``), bits 3-4 the
  increment (01 x1, 10 x2, 11 x5), bit 5 = 1, bit 6 = 0;
- status word B: bit 0 net, bit 1 negative, bit 2 out of range, bit 3 motion,
  bit 4 kg (0 = lb), bit 5 = 1, bit 6 = 0;
- status word C: bit 5 = 1, the rest 0 here (no print request, no expand);
- bit 7 of each byte is the line's parity bit (added by the UART, not here).

Commands (KERN/IND445 Toledo mode, CR LF): ``P`` print, ``T`` tare, ``Z`` zero,
``C`` clear.

Sources: https://www.manualshelf.com/manual/mettler-toledo/ics425a/user-manual-english/page-50.html,
https://www.easymanua.ls/kern/ftc/manual?p=42,
https://www.manualsdir.com/manuals/347099/fairbanks-fb3000-kernel-program-operators-manual.html?page=55,
https://manualshive.com/en/manual/liden-weighing/luw2001-lbw/1907226?page=16
"""

from __future__ import annotations

from decimal import Decimal

from simulators.scales.encoders.base import Action, Display, Encoder, decimals_for, register

STX = 0x02
CR = 0x0D

_DECIMAL_CODES = {0: 0b010, 1: 0b011, 2: 0b100, 3: 0b101, 4: 0b110, 5: 0b111}
_INCREMENTS = {1: 0b01, 2: 0b10, 5: 0b11}

_COMMANDS = {
    b"P": Action.SEND_NOW,
    b"T": Action.TARE,
    b"Z": Action.ZERO,
    b"C": Action.CLEAR_TARE,
}


def checksum(data: bytes) -> int:
    """The Toledo checksum of ``data`` (STX .. CR): -(sum of 7-bit values) & 0x7F."""
    return (-sum(b & 0x7F for b in data)) & 0x7F


def status_a(division_g: int) -> int:
    """Status word A for a scale of division ``d`` grams displayed in kg."""
    places = decimals_for(division_g, "kg")
    step = int(Decimal(division_g) / 1000 * (10**places))
    return 0x20 | _DECIMAL_CODES[places] | (_INCREMENTS.get(step, 0b01) << 3)


def digits6(grams: int, division_g: int) -> str | None:
    """``abs(grams)`` as 6 digits in kg at the scale's resolution; None if too wide."""
    places = decimals_for(division_g, "kg")
    value = Decimal(abs(grams)) / 1000 * (10**places)
    text = f"{int(value):06d}"
    return text if len(text) == 6 else None


@register
class ToledoEncoder(Encoder):
    name = "toledo"
    default_line = (9600, 7, "E", 1)

    def __init__(self, *, with_checksum: bool = True) -> None:
        self.with_checksum = with_checksum

    def frame(self, display: Display) -> bytes:
        weight = digits6(display.weight_g, display.division_g)
        tare = digits6(display.tare_g, display.division_g) or "999999"
        out_of_range = display.overload or display.underload or weight is None
        swb = 0x20 | 0x10  # kg
        if display.net:
            swb |= 0x01
        if display.weight_g < 0 or display.underload:
            swb |= 0x02
        if out_of_range:
            swb |= 0x04
            weight = "999999"
        if not display.stable:
            swb |= 0x08
        body = bytes([STX, status_a(display.division_g), swb, 0x20])
        body += f"{weight}{tare}".encode("ascii") + bytes([CR])
        if self.with_checksum:
            body += bytes([checksum(body)])
        return body

    def command(self, line: bytes) -> Action | None:
        return _COMMANDS.get(line.strip(), Action.UNKNOWN)

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        if action is Action.UNKNOWN:
            return b""
        return super().reply(action, display, ok=ok)
