"""A serial device on a pseudo-terminal: the hardware twin of a USB-serial indicator.

:class:`PtyDevice` opens a pty pair. The *slave* end is what the system under test opens
with pyserial, through a stable symlink (like ``/dev/serial/by-id/usb-...``) that this
class creates in a directory you give it. The *master* end is the device: bytes written
with :meth:`write` arrive at the host as if sent by the indicator, and :meth:`read_available`
returns what the host sent (poll, zero and tare commands).

:meth:`unplug` closes the master (and removes the symlink, as udev does): a host reading
the slave gets ``EIO``, i.e. pyserial's ``SerialException``. :meth:`replug` opens a new
pty and re-points the same symlink, so a transport that reopens the stable path finds
the device again.

A pty ignores baud rate and parity, so a device can emulate a line setting: give
``line=(2400, 7, "E", 1)`` and, while the host's baud rate differs from it, :meth:`write`
sends bytes garbled the way a UART at the wrong speed would see them (deterministically),
which is what line auto-detection must reject. Only the baud rate is compared: Linux
ptys keep the baud rate the host sets but force 8 data bits and no parity.

Example::

    with PtyDevice(tmp_path, name="usb-Sim_Scale-if00-port0") as dev:
        ser = serial.Serial(dev.path, timeout=1)
        dev.write(b"S S     100.00 g\\r\\n")
        assert ser.readline() == b"S S     100.00 g\\r\\n"
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty
from pathlib import Path

LineSettings = tuple[int, int, str, int]

_BAUDS = {
    getattr(termios, f"B{b}"): b
    for b in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
}
_SIZES = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}


class PtyDevice:
    """A simulated serial device on a pty, reachable at a stable symlink ``path``."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        name: str = "usb-Salinmas_Sim-if00-port0",
        line: LineSettings | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"{self.directory} is not a directory")
        if not name or "/" in name:
            raise ValueError(f"name must be a file name, got {name!r}")
        self.path = str(self.directory / name)
        self.line = line
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""
        self._open()

    # -- plugging ----------------------------------------------------------------------
    def _open(self) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # bytes pass unmodified until the host configures the port
            attrs = termios.tcgetattr(slave)
            attrs[3] &= ~termios.ECHO
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            os.set_blocking(master, False)
            self.slave_name = os.ttyname(slave)
            tmp = self.path + ".tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, self.path)  # atomic re-point, as udev does
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master, self._slave = master, slave

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def unplug(self) -> None:
        """Pull the cable: close the device end; the host's next read fails (EIO)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def replug(self) -> None:
        """Plug back in: a new pty behind the same stable path."""
        if self.plugged:
            self.unplug()
        self._open()

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> PtyDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes -------------------------------------------------------------------------
    def host_line(self) -> LineSettings | None:
        """The line settings the host configured on its end (None when unplugged)."""
        if self._slave is None:
            return None
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(self._slave)
        del iflag, oflag, lflag, ispeed, cc
        baud = _BAUDS.get(ospeed, 0)
        size = _SIZES.get(cflag & termios.CSIZE, 8)
        parity = ("O" if cflag & termios.PARODD else "E") if cflag & termios.PARENB else "N"
        stop = 2 if cflag & termios.CSTOPB else 1
        return (baud, size, parity, stop)

    def write(self, data: bytes) -> int:
        """Send bytes to the host, as the device would; returns how many were queued."""
        if self._master is None:
            raise OSError("device unplugged")
        host = self.host_line()
        if self.line is not None and host is not None and host[0] != self.line[0]:
            data = _mangle(data, self.line, host)
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            select.select([], [self._master], [], 1.0)
            try:
                sent += os.write(self._master, view[sent:])
            except BlockingIOError:
                continue
        return sent

    def read_available(self, timeout: float = 0.0) -> bytes:
        """What the host sent, waiting up to ``timeout`` for the first byte."""
        if self._master is None:
            return b""
        ready, _, _ = select.select([self._master], [], [], max(0.0, timeout))
        if not ready:
            return b""
        out = bytearray()
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def _mangle(data: bytes, device: LineSettings, host: LineSettings) -> bytes:
    """What a host UART at the wrong baud rate makes of ``data`` (deterministic garbage)."""
    del device, host
    return bytes(((b * 37 + 0x5B) ^ 0xA5) & 0xFF for b in data)
