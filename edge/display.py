"""The station's character display: an HD44780 16x2 LCD on an I2C backpack (RPLCD).

After each receipt it shows the amount and who got it::

    Rp 2.640
    → BMS-0001

(an unassigned weigh-in shows its weight and "kartu?"; a rejected one "DITOLAK"). The
LCD is opened on first use and again after an I2C error, so a display unplugged and
plugged back recovers; a display that fails never affects the weigh-in (the agent calls
it inside a guard). Wiring: the backpack's SDA/SCL to the Pi's GPIO2/GPIO3 (I2C bus 1),
5 V and GND; address 0x27 (PCF8574) or 0x20 (MCP23008), see ``i2cdetect -y 1``.

``bus_factory`` ("module:function", called with the bus number) provides an SMBus-like
object instead of ``smbus2.SMBus``: the simulator's decoding bus
(``simulators.lcd:shared_bus``) in tests and the demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from contract.models import Receipt, ReceiptStatus
from edge.config import DisplaySettings
from salinmas.formats import kilograms, rupiah

log = logging.getLogger("salinmas.edge.display")


def receipt_text(r: Receipt) -> tuple[str, str]:
    """The two lines shown for a receipt."""
    if r.status is ReceiptStatus.CREDITED:
        return rupiah(r.amount_rp), f"→ {r.member_no or '-'}"
    if r.status is ReceiptStatus.UNASSIGNED:
        return kilograms(r.net_g or 0), "kartu? / card?"
    return "DITOLAK", (r.reason or "rejected")


class StationDisplay:
    """A character LCD that shows receipts (see the module docs)."""

    def __init__(
        self, settings: DisplaySettings, *, bus_factory: Callable[[int], Any] | None = None
    ) -> None:
        self.settings = settings
        self._bus_factory = bus_factory
        self._lcd: Any = None
        self._lock = threading.Lock()
        self.errors = 0

    def _open(self) -> Any:
        if self._lcd is not None:
            return self._lcd
        from RPLCD.i2c import CharLCD

        s = self.settings
        factory: Callable[[int], Any]
        if self._bus_factory is not None:
            factory = self._bus_factory
        elif s.bus_factory:
            from edge.hardware import load_callable

            factory = load_callable(s.bus_factory)
        else:
            from smbus2 import SMBus

            factory = SMBus

        class _Lcd(CharLCD):  # type: ignore[misc]
            def _init_connection(self) -> None:
                self.bus = factory(s.bus)
                if s.i2c_expander == "MCP23008":
                    self._mcp_data = 0
                    self._mcp_gpio = 0x09
                    self.bus.write_byte_data(self._address, 0x00, 0x00)

        self._lcd = _Lcd(
            s.i2c_expander,
            s.address,
            port=s.bus,
            cols=s.cols,
            rows=s.rows,
            charmap="A00",
            auto_linebreaks=False,
        )
        return self._lcd

    def show(self, *lines: str) -> bool:
        """Show up to ``rows`` lines (cut to ``cols``); False when the LCD failed."""
        with self._lock:
            try:
                lcd = self._open()
                lcd.clear()
                for row, text in enumerate(lines[: self.settings.rows]):
                    lcd.cursor_pos = (row, 0)
                    lcd.write_string(text[: self.settings.cols])
                return True
            except (OSError, ValueError) as exc:
                self.errors += 1
                log.warning("display failed (%s); it is opened again next time", exc)
                self._lcd = None
                return False

    def show_receipt(self, receipt: Receipt) -> None:
        self.show(*receipt_text(receipt))

    def close(self) -> None:
        with self._lock:
            lcd, self._lcd = self._lcd, None
        if lcd is not None:
            try:
                lcd.close(clear=False)
            except OSError:
                log.debug("closing the display failed", exc_info=True)
