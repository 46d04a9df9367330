"""Mettler Toledo continuous output ("Toledo 8142/8530 continuous"), framed on STX.

Frame (17 or 18 bytes; a "short" variant has no tare field)::

    STX SWA SWB SWC  W W W W W W  T T T T T T  CR [CHK]
    02  status words weight, 6 digits  tare, 6    0D  optional checksum

- Bits 0-6 of every byte are significant; bit 7 is the line's parity bit and ignored.
- **SWA**: bits 0-2 decimal point (000 ``XXXX00``, 001 ``XXXXX0``, 010 ``XXXXXX``,
  011 ``XXXXX.X``, 100 ``XXXX.XX``, 101 ``XXX.XXX``, 110 ``XX.XXXX``, 111 ``X.XXXXX``),
  bits 3-4 increment (01 = x1, 10 = x2, 11 = x5), bit 5 always 1, bit 6 always 0.
  Together they give the division d (e.g. ``XXXX.XX`` x5 in kg -> d = 0.05 kg = 50 g).
- **SWB**: bit 0 net, bit 1 negative, bit 2 out of range (over capacity or under zero),
  bit 3 motion, bit 4 kg (else lb), bit 6 power-up (not yet zeroed: not a weight).
- **SWC**: bits 0-2 unit (000 = SWB's lb/kg, 001 g, 010 metric t, 011 oz, 100 ozt),
  bit 3 print request, bit 4 expanded x10 display (resolution not approved: not a
  weight for trade), bit 5 always 1.
- **CHK**: the two's complement of the sum of the low 7 bits of all bytes from STX to CR,
  masked to 7 bits (the sum of everything including CHK is 0 mod 128).

Because the checksum byte can be any value, frames are cut on STX + fixed length, not on
line endings. ``checksum=None`` (default) detects it: a byte after CR that is not STX
marks a checksummed stream, and from then on every frame must carry a valid checksum;
``checksum=True``/``False`` fixes the choice. A frame with a bad checksum is an ERROR.
Continuous only: no poll; many terminals accept ``T`` and ``Z`` + CR (tare, zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from protocols._common import error, grams
from protocols.base import FrameBuffer, Mode, Reading, ScaleProtocol, Status, register

STX = 0x02
CR = 0x0D
_LONG = 17  # STX .. CR
_SHORT = 11  # STX SWA SWB SWC W6 CR

_DECIMALS = {0: -2, 1: -1, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}
_INCREMENT = {1: 1, 2: 2, 3: 5}
_UNITS_C = {1: "g", 2: "t", 3: "oz", 4: "ozt"}


def checksum(data: bytes) -> int:
    """Toledo checksum of ``data`` (STX .. CR): two's complement of the 7-bit sum."""
    return (-sum(b & 0x7F for b in data)) & 0x7F


def _find_stx(data: bytearray, start: int) -> int:
    """Index of the first STX at or after ``start`` (parity bit ignored), or -1."""
    for i in range(start, len(data)):
        if data[i] & 0x7F == STX:
            return i
    return -1


@register
class Toledo(ScaleProtocol):
    name = "toledo"
    default_line = (9600, 7, "E", 1)
    zero_command = b"Z\r"
    tare_command = b"T\r"

    def __init__(self, checksum: bool | None = None) -> None:
        self.checksum = checksum

    def frames(self, buffer: FrameBuffer) -> Iterator[bytes]:
        data = buffer.data
        while True:
            start = _find_stx(data, 0)
            if start < 0:
                if data:
                    junk = bytes(data)
                    data.clear()
                    yield junk  # reported as an ERROR reading, then resync
                return
            if start > 0:
                junk = bytes(data[:start])
                del data[:start]
                yield junk
                continue
            # data[0] is STX: where is CR?
            end = None
            for length in (_SHORT, _LONG):
                if len(data) >= length and data[length - 1] & 0x7F == CR:
                    end = length
                    break
            if end is None:
                if len(data) < _LONG:
                    return  # wait for more bytes
                # no CR where one must be: this STX was noise (or a cut frame); drop up
                # to the next STX and resync there
                nxt_stx = _find_stx(data, 1)
                cut = nxt_stx if nxt_stx > 0 else len(data)
                junk = bytes(data[:cut])
                del data[:cut]
                yield junk
                continue
            if self.checksum is False:
                frame = bytes(data[:end])
                del data[:end]
                yield frame
                continue
            if len(data) < end + 1:
                return  # the checksum (or the next STX) has not arrived yet
            nxt = data[end]
            if self.checksum is None and nxt & 0x7F != STX:
                self.checksum = True
            take = end + 1 if self.checksum else end
            frame = bytes(data[:take])
            del data[:take]
            yield frame

    def parse(self, frame: bytes) -> Reading | None:
        f = bytes(frame)
        if len(f) not in (_SHORT, _SHORT + 1, _LONG, _LONG + 1) or f[0] & 0x7F != STX:
            return error(f, self.name, "not a Toledo continuous frame")
        body_len = _LONG if len(f) >= _LONG else _SHORT
        body, chk = f[:body_len], f[body_len:]
        if body[-1] & 0x7F != CR:
            return error(f, self.name, "no CR at the end of the frame")
        if self.checksum and not chk:
            return error(f, self.name, "checksum missing")
        if chk and chk[0] & 0x7F != checksum(body):
            return error(f, self.name, "bad checksum")
        swa, swb, swc = (b & 0x7F for b in body[1:4])
        if swa & 0x60 != 0x20 or swb & 0x20 != 0x20 or swc & 0x20 != 0x20:
            return error(f, self.name, "status word with a wrong fixed bit")
        weight_digits = bytes(b & 0x7F for b in body[4:10])
        tare_digits = bytes(b & 0x7F for b in body[10:16]) if body_len == _LONG else b"000000"
        if not (weight_digits.isdigit() and tare_digits.isdigit()):
            return error(f, self.name, "non-digit in the weight or tare field")
        increment = _INCREMENT.get((swa >> 3) & 0x03)
        if increment is None:
            return error(f, self.name, "status word A has no increment size")
        decimals = _DECIMALS[swa & 0x07]
        unit = _UNITS_C.get(swc & 0x07) or ("kg" if swb & 0x10 else "lb")
        if swc & 0x07 > 4:
            return error(f, self.name, "unsupported unit code in status word C")
        mode = Mode.NET if swb & 0x01 else Mode.GROSS
        if swb & 0x04:
            status = Status.UNDERLOAD if swb & 0x02 else Status.OVERLOAD
            return Reading(status, None, f, self.name, mode=mode, detail="out of range")
        if swb & 0x40:
            return error(f, self.name, "power-up: scale not yet zeroed")
        if swc & 0x10:
            return error(f, self.name, "expanded (x10) display: not a weight for trade")
        scale = Decimal(1).scaleb(-decimals)
        weight = Decimal(int(weight_digits)) * scale * (-1 if swb & 0x02 else 1)
        tare = Decimal(int(tare_digits)) * scale
        division = grams(Decimal(increment) * scale, unit)
        value_g, tare_g = grams(weight, unit), grams(tare, unit)
        if value_g is None or tare_g is None:
            return error(f, self.name, "weight out of range")
        return Reading(
            Status.MOTION if swb & 0x08 else Status.STABLE,
            value_g,
            f,
            self.name,
            mode=mode,
            tare_g=tare_g if (mode is Mode.NET or tare_g) else None,
            division_g=division if division and division > 0 else None,
            unit=unit,
        )
