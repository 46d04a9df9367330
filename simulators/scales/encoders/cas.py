"""CAS indicators (CI-150/200/400/600, NT-200, PDI...): the 22-byte and 10-byte formats.

Source: CAS CI-400 / CI-150A / CI-600D / NT-200 manuals, "Data format":

22 bytes (``cas22``)::

    S T , G S , <id> <lamp> , D D D D D D D D ␣ k g CR LF
    header 1: ST stable, US unstable, OL overload;  header 2: GS gross, NT net
    <id>: the device number as one ASCII byte ('1' = 0x31 for device 01)
    <lamp>: a binary byte: bit7 = 1, bit6 stable, bit5 constant, bit4 hold, bit3 print,
            bit2 gross, bit1 tare, bit0 zero point
    data: 8 ASCII characters, e.g. 13.5 kg -> "0" "0" "0" "0" "1" "3" "." "5"

10 bytes (``cas10``): the 8 data characters, CR, LF — no status at all, so a reading
carries no stability or overload flag (the bridge's software window decides; in
overload this indicator sends nothing the host could use, so nothing is sent).

A negative weight carries ``-`` in the first data character. Both are streamed
(no commands), 9600 8N1.

Sources: https://www.easymanua.ls/cas/ci-400-series/manual?p=103,
https://www.easymanua.ls/cas/ci-600d-series/manual?p=74,
https://www.easymanua.ls/cas/weighing-solution-nt-200-series/manual?p=48
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

LAMP_STABLE = 0x40
LAMP_GROSS = 0x04
LAMP_TARE = 0x02
LAMP_ZERO = 0x01


def data8(grams: int, division_g: int, unit: str) -> tuple[str, str]:
    """8 data characters (zero-padded, ``-`` first when negative) and the unit."""
    digits = magnitude(grams, unit, decimals_for(division_g, unit))
    if grams < 0:
        return "-" + digits.rjust(7, "0"), unit
    return digits.rjust(8, "0"), unit


@register
class Cas22Encoder(Encoder):
    name = "cas22"
    default_line = (9600, 8, "N", 1)
    #: constant bits of the lamp byte: bit 7 is always 1; manuals differ on bit 5
    lamp_constant = 0x80

    def __init__(self, device_no: int = 1) -> None:
        if not 0 <= device_no <= 0x4E:
            raise ValueError(f"device_no must be 0..78, got {device_no}")
        self.device_id = 0x30 + device_no

    def lamp(self, display: Display) -> int:
        lamp = self.lamp_constant
        if display.stable and not (display.overload or display.underload):
            lamp |= LAMP_STABLE
        lamp |= LAMP_TARE if display.net else LAMP_GROSS
        if display.weight_g == 0 and not display.net:
            lamp |= LAMP_ZERO
        return lamp

    def frame(self, display: Display) -> bytes:
        data, unit = data8(display.weight_g, display.division_g, self.unit_of(display.division_g))
        header = "ST" if display.stable else "US"
        if display.overload or display.underload:
            header = "OL"
        mode = "NT" if display.net else "GS"
        head = f"{header},{mode},".encode("ascii")
        tail = f",{data} {unit:>2}\r\n".encode("ascii")
        return head + bytes([self.device_id, self.lamp(display)]) + tail

    def command(self, line: bytes) -> Action | None:
        del line
        return None  # a streaming indicator ignores the host


@register
class Cas10Encoder(Encoder):
    name = "cas10"
    default_line = (9600, 8, "N", 1)

    def frame(self, display: Display) -> bytes:
        if display.overload or display.underload:
            return b""
        data, _ = data8(display.weight_g, display.division_g, self.unit_of(display.division_g))
        return f"{data}\r\n".encode("ascii")

    def command(self, line: bytes) -> Action | None:
        del line
        return None
