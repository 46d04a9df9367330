"""The station's ticket printer: ESC/POS over a serial line or a USB printer device.

:func:`ticket_lines` lays a ticket out (pure: a receipt and the weigh-in in, lines out);
:class:`TicketPrinter` owns the connection (python-escpos), asks the printer for its
paper status before each ticket (``DLE EOT 4`` on a serial line), prints, and on any
failure closes the port and raises :class:`PrinterError` (:class:`PaperOut`) so the
caller keeps the ticket for later. It reopens the port on the next try, so a printer
that was unplugged and plugged back (same udev name) just works again.

Wiring (58 mm printers, 9600 8N1 by default): TX/RX to the Pi's USB-serial adapter, or a
USB printer the kernel shows as ``/dev/usb/lp0`` (``connection = "file"``; no status).

Example::

    printer = TicketPrinter(PrinterSettings(port="/dev/salinmas-printer"))
    printer.print_lines(ticket_lines(ticket, settings, device_id="st-bank01"))

The verification code (``Receipt.verify_code``, checked on the public verification
page) is printed as ``7K3Q-X9M2-PA4T``; a receipt without one (an older cloud) leaves a
blank line for it. What the receipt does not carry (wire contract v1) and the ticket
would show: the member's name (``Receipt.member_name``) and the balance after the credit
(``Receipt.balance_rp``). They are printed when the receipt has them; until then the
ticket shows the member number and no balance line.
"""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from contract.codes import format_code
from contract.models import Receipt, ReceiptStatus
from edge.config import PrinterSettings
from salinmas.formats import kilograms, local_time, rupiah

log = logging.getLogger("salinmas.edge.printer")

Style = Literal["title", "center", "normal", "bold", "rule"]
#: ``DLE EOT 4`` reply bits: paper near end (0x0C), paper end (0x60)
PAPER_NEAR_END = 0x0C
PAPER_END = 0x60

STATUS_TEXT = {
    ReceiptStatus.CREDITED: "TERCATAT / CREDITED",
    ReceiptStatus.UNASSIGNED: "BELUM TERDAFTAR / UNASSIGNED",
    ReceiptStatus.REJECTED: "DITOLAK / REJECTED",
}


class PrinterError(Exception):
    """The ticket was not printed (printer unplugged, not answering, ...)."""


class PaperOut(PrinterError):
    """The printer reports no paper."""


@dataclass(frozen=True, slots=True)
class TicketData:
    """What a ticket says: the station's record of the weigh-in plus the cloud's receipt."""

    event_id: str
    weighed_at: datetime
    category: str
    net_g: int
    receipt: Receipt | None


def _pair(label: str, value: str, width: int) -> list[str]:
    head = f"{label:<10}"
    lines = textwrap.wrap(value, width - len(head)) or [""]
    return [head + lines[0], *(" " * len(head) + ln for ln in lines[1:])]


def ticket_lines(
    t: TicketData, settings: PrinterSettings, *, device_id: str, reprint: bool = False
) -> list[tuple[str, Style]]:
    """The ticket as (text, style) lines, at most ``settings.width`` characters each."""
    w = settings.width
    r = t.receipt
    out: list[tuple[str, Style]] = [(settings.waste_bank.upper()[:w], "title")]
    if settings.address:
        out += [(ln, "center") for ln in textwrap.wrap(settings.address, w)]
    out += [(f"Stasiun {device_id}"[:w], "center"), ("-" * w, "rule")]
    rows: list[tuple[str, str, Style]] = [
        ("Waktu", local_time(t.weighed_at, settings.timezone), "normal")
    ]
    member_no = r.member_no if r is not None else None
    rows.append(("Anggota", member_no or "-", "normal"))
    name = getattr(r, "member_name", None)
    if name:
        rows.append(("Nama", str(name), "normal"))
    rows.append(("Jenis", settings.category_names.get(t.category, t.category), "normal"))
    net_g = r.net_g if r is not None and r.net_g is not None else t.net_g
    rows.append(("Berat", kilograms(net_g), "normal"))
    if r is not None and r.price_rp_per_kg is not None:
        rows.append(("Harga/kg", rupiah(r.price_rp_per_kg), "normal"))
    if r is not None:
        rows.append(("Jumlah", rupiah(r.amount_rp), "bold"))
    balance = getattr(r, "balance_rp", None)
    if balance is not None:
        rows.append(("Saldo", rupiah(int(balance)), "normal"))
    for label, value, style in rows:
        out += [(ln, style) for ln in _pair(label, value, w)]
    out.append(("-" * w, "rule"))
    out += [(ln, "normal") for ln in _pair("ID", t.event_id, w)]
    code = r.verify_code if r is not None else None  # the public page's code
    out += [(ln, "normal") for ln in _pair("Kode cek", format_code(code) if code else "_" * 10, w)]
    out.append(("-" * w, "rule"))
    status = STATUS_TEXT.get(r.status, r.status.value) if r is not None else "MENUNGGU / PENDING"
    out.append((status[:w], "center"))
    if r is not None and r.reason:
        out += [(ln, "center") for ln in textwrap.wrap(r.reason, w)]
    if reprint:
        out.append(("** CETAK ULANG / REPRINT **"[:w], "center"))
    out.append(("Terima kasih!", "center"))
    return out


class TicketPrinter:
    """One ESC/POS printer connection (see the module docs)."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._printer: Any = None

    def _open(self) -> Any:
        if self._printer is not None:
            return self._printer
        from escpos.exceptions import DeviceNotFoundError
        from escpos.printer import File, Serial

        s = self.settings
        try:
            if s.connection == "serial":
                p = Serial(
                    devfile=s.port, baudrate=s.baudrate, timeout=2, dsrdtr=False, profile=s.profile
                )
                p.open()
                p.device.write_timeout = 5  # a stuck line must not hang the print thread
            else:
                p = File(devfile=s.port, profile=s.profile)
                p.open()
        except (DeviceNotFoundError, OSError) as exc:
            raise PrinterError(f"printer {s.port} not available: {exc}") from None
        self._printer = p
        return p

    def paper_status(self) -> int | None:
        """2 plenty, 1 near end, 0 none (serial only; None when it cannot tell)."""
        if self.settings.connection != "serial":
            return None
        from escpos.constants import RT_STATUS_PAPER

        p = self._open()
        p.device.reset_input_buffer()
        p._raw(RT_STATUS_PAPER)
        reply = p.device.read(1)
        if not reply:
            raise PrinterError("the printer does not answer (off, or not an ESC/POS printer)")
        bits = reply[0]
        if bits & PAPER_END:
            return 0
        return 1 if bits & PAPER_NEAR_END else 2

    def print_lines(self, lines: list[tuple[str, Style]]) -> None:
        """Print one ticket and cut; :class:`PrinterError` if it could not be printed."""
        try:
            if self.paper_status() == 0:
                raise PaperOut("the printer is out of paper")
            p = self._open()
            p.hw("INIT")
            for text, style in lines:
                if style == "title":
                    p.set(align="center", bold=True, double_height=True)
                elif style == "center":
                    p.set(align="center", bold=False, normal_textsize=True)
                elif style == "bold":
                    p.set(align="left", bold=True, normal_textsize=True)
                else:
                    p.set(align="left", bold=False, normal_textsize=True)
                p.textln(text)
            p.cut()
            p.device.flush()
        except PrinterError:
            self.close()
            raise
        except Exception as exc:  # serial/OS/escpos errors: the ticket stays for later
            self.close()
            raise PrinterError(f"printing failed: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        p, self._printer = self._printer, None
        if p is not None:
            try:
                p.close()
            except Exception:  # closing a port that is gone
                log.debug("closing the printer failed", exc_info=True)
