"""A 16x2 character LCD (HD44780) behind a PCF8574 I2C backpack, simulated at the bus.

:class:`LcdBus` stands in for ``smbus2.SMBus``: the station's display driver (RPLCD)
writes the backpack's port bytes to it (``write_byte``), and it decodes them the way the
LCD controller does — data lines D4-D7 latched on the falling edge of E, RS choosing
instruction or data, the power-on 8-bit mode until "function set" selects 4-bit, then
nibble pairs — into the display RAM. :meth:`LcdBus.lines` is what a person would read.

Pin map of the common backpack: P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7.

``shared_bus(n)`` returns one bus per bus number, so a test (or the demo) reads the same
display the agent writes to: set ``[edge.display] bus_factory =
"simulators.lcd:shared_bus"``.
"""

from __future__ import annotations

import threading

from RPLCD.codecs import hd44780_a00

RS, E, BACKLIGHT = 0x01, 0x04, 0x08
#: DDRAM address of the start of each row (16x2 and 20x4 modules)
ROW_START = (0x00, 0x40, 0x14, 0x54)


def _decode_table() -> dict[int, str]:
    """Byte -> character of the A00 ROM (the plain ASCII character where there are two)."""
    out: dict[int, str] = {}
    for ch, code in hd44780_a00.encoding_table.items():
        if code not in out or ch == chr(code):
            out[code] = ch
    return out


_DECODE = _decode_table()


class LcdBus:
    """An I2C bus with one PCF8574 backpack + HD44780 LCD on it (see the module docs)."""

    def __init__(self, *, address: int = 0x27, cols: int = 16, rows: int = 2) -> None:
        self.address = address
        self.cols, self.rows = cols, rows
        self._lock = threading.Lock()
        self.plugged = True
        self.writes = 0
        self._power_on()

    def _power_on(self) -> None:
        """The controller's state after power-up: 8-bit interface, blank display."""
        self._ddram = bytearray(b" " * 0x80)
        self._addr = 0
        self._increment = True
        self._four_bit = False
        self._high: int | None = None
        self._port = 0
        self.backlight = False
        #: the controller's CGRAM is written, not shown: data goes there after "set CGRAM"
        self._cgram = False

    def unplug(self) -> None:
        """Pull the display's cable: the backpack stops answering."""
        self.plugged = False

    def replug(self) -> None:
        """Plug it back: the module powers up again and must be initialised anew."""
        with self._lock:
            self._power_on()
        self.plugged = True

    # -- the smbus2.SMBus methods the driver uses ---------------------------------------

    def write_byte(self, address: int, value: int) -> None:
        if not self.plugged:
            raise OSError(121, "Remote I/O error (no device answers at this address)")
        if address != self.address:
            raise OSError(121, f"no device at 0x{address:02x}")
        with self._lock:
            self.writes += 1
            falling = bool(self._port & E) and not value & E
            self._port = value
            self.backlight = bool(value & BACKLIGHT)
            if falling:
                self._strobe((value >> 4) & 0x0F, bool(value & RS))

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        raise OSError(5, "this simulated backpack is a PCF8574 (no registers)")

    def close(self) -> None:
        return None

    # -- the controller -----------------------------------------------------------------

    def _strobe(self, nibble: int, rs: bool) -> None:
        if not self._four_bit:  # 8-bit mode after power-on: D0-D3 are not wired (0)
            self._execute(nibble << 4, rs)
            return
        if self._high is None:
            self._high = nibble
            return
        value, self._high = (self._high << 4) | nibble, None
        self._execute(value, rs)

    def _execute(self, value: int, rs: bool) -> None:
        if rs:
            if not self._cgram:
                self._ddram[self._addr & 0x7F] = value
            self._addr = (self._addr + (1 if self._increment else -1)) & 0x7F
            return
        if value & 0x80:
            self._addr, self._cgram = value & 0x7F, False
        elif value & 0x40:
            self._cgram = True
        elif value & 0x20:  # function set: DL bit chooses 8- or 4-bit
            self._four_bit = not value & 0x10
        elif value & 0x04 and not value & 0x08 and not value & 0x10:  # entry mode
            self._increment = bool(value & 0x02)
        elif value == 0x01:  # clear
            self._ddram[:] = b" " * 0x80
            self._addr, self._cgram = 0, False
        elif value in (0x02, 0x03):  # home
            self._addr, self._cgram = 0, False

    def lines(self) -> list[str]:
        """The characters on the display, row by row."""
        with self._lock:
            return [
                "".join(_DECODE.get(b, "?") for b in self._ddram[s : s + self.cols])
                for s in ROW_START[: self.rows]
            ]

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines())


_buses: dict[int, LcdBus] = {}
_buses_lock = threading.Lock()


def shared_bus(number: int) -> LcdBus:
    """The simulated bus ``number`` of this process (made on first use)."""
    with _buses_lock:
        return _buses.setdefault(number, LcdBus())
