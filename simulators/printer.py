"""A thermal ticket printer on a pseudo-terminal that decodes ESC/POS back to text.

The station opens the pty's stable path as it would a USB-serial printer. Everything it
sends is decoded by :class:`EscPosDecoder` (initialise, print modes, alignment, code
page, feeds, cuts, QR/barcode/raster blocks skipped by their declared lengths); text goes
into the current ticket, a cut (``GS V``) ends it. Finished tickets are kept in
:attr:`PrinterSimulator.tickets` and appended to ``out`` (a text file), each followed by
a ``-- cut --`` line. ``DLE EOT n`` status requests are answered like an Epson printer
(paper sensor: ``0x12`` plenty, ``0x1E`` near end, ``0x72`` out).

:attr:`PrinterSimulator.paper` ``= False`` is an empty roll: the status says so and
whatever is sent meanwhile is lost (not printed). :meth:`PtyDevice.unplug` / ``replug``
pull and plug the cable.

Example::

    with PtyDevice(tmp, name="usb-Sim_Printer-if00") as dev, PrinterSimulator(dev) as p:
        ...  # the station prints
        p.wait_tickets(1, timeout_s=10)
        print(p.tickets[-1])

``salinmas sim printer --out tickets.txt`` runs one until Ctrl-C and prints its path.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from pathlib import Path

from simulators._io import on_sigterm
from simulators.pty import PtyDevice

ESC, GS, DLE, LF, CR = 0x1B, 0x1D, 0x10, 0x0A, 0x0D
#: DLE EOT 4 replies (Epson): fixed bits 0x12, paper near end 0x0C, paper end 0x60
PAPER_OK, PAPER_LOW, PAPER_OUT = 0x12, 0x1E, 0x72
STATUS_ONLINE = 0x12
#: ESC commands -> number of parameter bytes
_ESC_ARGS = {
    0x40: 0,
    0x21: 1,
    0x45: 1,
    0x2D: 1,
    0x61: 1,
    0x74: 1,
    0x64: 1,
    0x4D: 1,
    0x47: 1,
    0x7B: 1,
    0x56: 1,
    0x32: 0,
    0x33: 1,
    0x4A: 1,
    0x20: 1,
    0x52: 1,
    0x63: 2,
    0x70: 3,
    0x69: 0,
    0x6D: 0,
    0x42: 2,
    0x2A: 3,
}
#: GS commands -> number of parameter bytes (variable-length ones handled apart)
_GS_ARGS = {
    0x21: 1,
    0x42: 1,
    0x62: 1,
    0x48: 1,
    0x66: 1,
    0x68: 1,
    0x77: 1,
    0x4C: 2,
    0x57: 2,
    0x61: 1,
}
_CODEPAGES = {0: "cp437", 2: "cp850", 3: "cp860", 16: "cp1252", 17: "cp866", 19: "cp858"}


class EscPosDecoder:
    """Incremental ESC/POS -> text (feed bytes in any chunks; see the module docs)."""

    def __init__(self, width: int = 32) -> None:
        self.width = width
        self._buf = bytearray()
        self._line = bytearray()
        self._lines: list[str] = []
        self._align = 0
        self._codepage = "cp437"
        self.tickets: list[str] = []
        #: status requests seen (n of DLE EOT n), answered by the simulator
        self.status_requests: list[int] = []

    def feed(self, data: bytes) -> list[int]:
        """Decode ``data``; returns the DLE EOT status requests it contained."""
        self._buf += data
        asked: list[int] = []
        while self._buf:
            used = self._step(asked)
            if used == 0:
                break  # an incomplete command: wait for more bytes
            del self._buf[:used]
        self.status_requests += asked
        return asked

    def _step(self, asked: list[int]) -> int:
        b = self._buf
        c = b[0]
        if c == LF:
            self._end_line()
            return 1
        if c == CR:
            return 1
        if c == ESC:
            if len(b) < 2:
                return 0
            n = _ESC_ARGS.get(b[1], 0)
            if len(b) < 2 + n:
                return 0
            self._esc(b[1], bytes(b[2 : 2 + n]))
            return 2 + n
        if c == GS:
            return self._gs()
        if c == DLE:
            if len(b) < 3:
                return 0
            if b[1] == 0x04:
                asked.append(b[2])
            return 3
        if c < 0x20:
            return 1  # other control bytes: nothing to print
        self._line.append(c)
        return 1

    def _esc(self, cmd: int, args: bytes) -> None:
        if cmd == 0x40:  # ESC @ initialise
            self._align, self._codepage = 0, "cp437"
        elif cmd == 0x61:  # ESC a n
            self._align = args[0] % 48 if args[0] >= 48 else args[0]
        elif cmd == 0x74:  # ESC t n
            self._codepage = _CODEPAGES.get(args[0], "latin-1")
        elif cmd == 0x64:  # ESC d n: print and feed n lines
            if self._line:
                self._end_line()
        elif cmd in (0x69, 0x6D):  # ESC i / ESC m: cut
            self._cut()

    def _gs(self) -> int:
        b = self._buf
        if len(b) < 2:
            return 0
        cmd = b[1]
        if cmd == 0x56:  # GS V m [n]
            if len(b) < 3:
                return 0
            size = 4 if b[2] in (65, 66) else 3
            if len(b) < size:
                return 0
            self._cut()
            return size
        if cmd == 0x28:  # GS ( fn pL pH ...: QR codes and other functions
            if len(b) < 5:
                return 0
            size = 5 + b[3] + 256 * b[4]
            return size if len(b) >= size else 0
        if cmd == 0x76:  # GS v 0 m xL xH yL yH data: raster image
            if len(b) < 8:
                return 0
            size = 8 + (b[4] + 256 * b[5]) * (b[6] + 256 * b[7])
            return size if len(b) >= size else 0
        if cmd == 0x6B:  # GS k m ...: barcode (m >= 65: with a length byte)
            if len(b) < 3:
                return 0
            if b[2] >= 65:
                size = 4 + (b[3] if len(b) > 3 else 0)
                return size if len(b) >= 4 and len(b) >= size else 0
            end = b.find(b"\x00", 3)
            return end + 1 if end >= 0 else 0
        n = _GS_ARGS.get(cmd, 1)
        return 2 + n if len(b) >= 2 + n else 0

    def _end_line(self) -> None:
        text = self._line.decode(self._codepage, errors="replace").rstrip()
        self._line.clear()
        if self._align == 1:
            text = text.center(self.width).rstrip()
        elif self._align == 2:
            text = text.rjust(self.width)
        self._lines.append(text)

    def _cut(self) -> None:
        if self._line:
            self._end_line()
        while self._lines and not self._lines[-1]:
            self._lines.pop()
        self.tickets.append("\n".join(self._lines))
        self._lines = []


class PrinterSimulator:
    """An ESC/POS printer on a :class:`PtyDevice` (see the module docs)."""

    def __init__(self, device: PtyDevice, *, out: Path | None = None, width: int = 32) -> None:
        self.device = device
        self.out = out
        self.decoder = EscPosDecoder(width)
        self.paper = True
        self.paper_low = False
        self.lost_bytes = 0
        self._discard = EscPosDecoder(width)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="printer-sim", daemon=True)

    @property
    def tickets(self) -> list[str]:
        with self._lock:
            return list(self.decoder.tickets)

    def start(self) -> PrinterSimulator:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.device.plugged:
                self._stop.wait(0.05)
                continue
            try:
                data = self.device.read_available(0.1)
            except (OSError, TypeError):  # unplugged while reading (the fd went away)
                continue
            if data:
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        with self._lock:
            before = len(self.decoder.tickets)
            if self.paper:
                asked = self.decoder.feed(data)
            else:  # an empty roll: answer status requests, print nothing
                asked = self._discard.feed(data)
                self.lost_bytes += len(data)
            new = self.decoder.tickets[before:]
        for n in asked:
            self._answer(n)
        if new and self.out is not None:
            with self.out.open("a", encoding="utf-8") as fh:
                for ticket in new:
                    fh.write(ticket + "\n-- cut --\n")

    def _answer(self, n: int) -> None:
        if n == 4:
            reply = PAPER_OUT if not self.paper else PAPER_LOW if self.paper_low else PAPER_OK
        else:
            reply = STATUS_ONLINE
        with contextlib.suppress(OSError):  # unplugged while answering
            self.device.write(bytes([reply]))

    def wait_tickets(self, n: int, timeout_s: float = 10.0) -> list[str]:
        """Wait until at least ``n`` tickets were printed; returns them all."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.tickets
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.tickets)} of {n} tickets printed after {timeout_s:.0f}s")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salinmas sim printer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the device link goes")
    parser.add_argument("--name", default="usb-Salinmas_Sim_Printer-if00", help="link name")
    parser.add_argument("--out", type=Path, default=Path("tickets.txt"), help="ticket file")
    parser.add_argument("--width", type=int, default=32, help="characters per line (32)")
    ns = parser.parse_args(argv)
    directory = ns.dir or Path(tempfile.mkdtemp(prefix="sal-printer-"))
    with (
        PtyDevice(directory, name=ns.name) as dev,
        PrinterSimulator(dev, out=ns.out, width=ns.width),
    ):
        print(f"printer on {dev.path}; tickets go to {ns.out} (Ctrl-C stops)", flush=True)
        stop = threading.Event()
        with on_sigterm(stop.set), contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
