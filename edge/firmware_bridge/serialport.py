"""A serial port that survives unplugging: close, back off, reopen the same path.

USB-serial adapters disappear when a cable is knocked out and come back under the same
stable name (``/dev/serial/by-id/usb-...``) when it is plugged in again. The agent must
keep running through that, so :class:`ReconnectingPort` never raises on I/O: a
``SerialException``/``OSError`` closes the port, counts a disconnect and schedules a
reopen with exponential back-off (``backoff_s = (first, max)``, doubled per failed
attempt, reset on success). While disconnected, reads return ``b""`` after their timeout.

Both the scale transport and the card reader own one of these; neither touches pyserial
directly.

Example::

    port = ReconnectingPort("/dev/serial/by-id/usb-FTDI_FT232R-if00-port0", (9600, 8, "N", 1))
    chunk = port.read(0.2)       # b"" while unplugged, never raises
    port.write(b"SI\\r\\n")       # False while unplugged
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import serial

#: (baudrate, bytesize, parity, stopbits) as pyserial takes them, e.g. (2400, 7, "E", 1)
LineSettings = tuple[int, int, str, int]

#: pyserial read timeout: how long one read blocks; reads loop until their own deadline.
READ_SLICE_S = 0.02

_PARITIES = frozenset({"N", "E", "O", "M", "S"})


class SerialLike(Protocol):
    """The part of ``serial.Serial`` a transport uses (a seam for other transports)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    @property
    def in_waiting(self) -> int: ...


Opener = Callable[[str, LineSettings], SerialLike]


def validate_line(line: LineSettings) -> LineSettings:
    """Check line settings; raise ``ValueError`` with a clear message if they are wrong."""
    baud, bytesize, parity, stopbits = line
    if baud <= 0:
        raise ValueError(f"baudrate must be positive, got {baud}")
    if bytesize not in (5, 6, 7, 8):
        raise ValueError(f"bytesize must be 5..8, got {bytesize}")
    if parity not in _PARITIES:
        raise ValueError(f"parity must be one of {sorted(_PARITIES)}, got {parity!r}")
    if stopbits not in (1, 2):
        raise ValueError(f"stopbits must be 1 or 2, got {stopbits}")
    return line


def open_serial(port: str, line: LineSettings) -> SerialLike:
    """Open ``port`` (a device path or a pyserial URL such as ``loop://``) with ``line``."""
    baud, bytesize, parity, stopbits = line
    options: dict[str, Any] = {
        "baudrate": baud,
        "bytesize": bytesize,
        "parity": parity,
        "stopbits": stopbits,
        "timeout": READ_SLICE_S,
        "write_timeout": 1.0,
    }
    if "://" not in port:
        options["exclusive"] = True  # one owner per device (flock)
    ser: Any = serial.serial_for_url(port, **options)
    result: SerialLike = ser
    return result


class ReconnectingPort:
    """One owner of one serial port, reopened after errors with exponential back-off.

    ``errors`` counts ``"disconnects"`` (an open port failed), ``"open_failures"``
    (a reopen attempt failed) and ``"write_failures"``. ``opener`` is the seam for tests
    and other transports; it defaults to pyserial.
    """

    def __init__(
        self,
        port: str,
        line: LineSettings,
        *,
        backoff_s: tuple[float, float] = (0.2, 5.0),
        opener: Opener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not port:
            raise ValueError("port must be a device path or a pyserial URL")
        first, most = backoff_s
        if not 0 < first <= most:
            raise ValueError(f"backoff_s must be (first, max) with 0 < first <= max: {backoff_s}")
        self.port = port
        self.line = validate_line(line)
        self._backoff = backoff_s
        self._delay = first
        self._opener: Opener = opener or open_serial
        self._clock = clock
        self._ser: SerialLike | None = None
        self._next_attempt = clock()
        self._closed = False
        self.errors: dict[str, int] = {"disconnects": 0, "open_failures": 0, "write_failures": 0}
        self.last_error: str = ""
        self.opened_count = 0

    # -- state -----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ser is not None

    def set_line(self, line: LineSettings) -> None:
        """Change line settings; the port is reopened with them on the next read."""
        self.line = validate_line(line)
        self._drop(count=False)
        self._next_attempt = self._clock()

    def ensure_open(self) -> bool:
        """Open the port if it is closed and the back-off has expired; True if open."""
        if self._closed:
            return False
        if self._ser is not None:
            return True
        if self._clock() < self._next_attempt:
            return False
        try:
            self._ser = self._opener(self.port, self.line)
        except Exception as exc:  # SerialException, OSError, termios.error, ValueError...
            self.errors["open_failures"] += 1
            self.last_error = f"open {self.port}: {exc}"
            self._schedule_retry()
            return False
        self._delay = self._backoff[0]
        self.opened_count += 1
        return True

    def seconds_until_retry(self) -> float:
        return max(0.0, self._next_attempt - self._clock())

    # -- I/O -------------------------------------------------------------------------
    def read(self, timeout_s: float) -> bytes:
        """Bytes that arrive within ``timeout_s`` (returns at the first chunk); never raises."""
        deadline = self._clock() + max(0.0, timeout_s)
        while True:
            remaining = deadline - self._clock()
            if not self.ensure_open():
                if self._closed or remaining <= 0:
                    return b""
                time.sleep(min(remaining, max(self.seconds_until_retry(), 0.005)))
                continue
            ser = self._ser
            assert ser is not None
            try:
                waiting = ser.in_waiting
                if not waiting and remaining <= 0:
                    return b""  # a zero timeout never blocks
                chunk = ser.read(max(1, waiting))  # blocks at most READ_SLICE_S
                if chunk and ser.in_waiting:
                    chunk += ser.read(ser.in_waiting)
            except Exception as exc:  # SerialException, OSError, termios.error
                self._disconnected(exc)
                continue
            if chunk or remaining <= 0:
                return bytes(chunk)

    def write(self, data: bytes) -> bool:
        """Send ``data``; False (and counted) if the port is not open or the write failed."""
        if not self.ensure_open() or self._ser is None:
            self.errors["write_failures"] += 1
            return False
        try:
            self._ser.write(data)
            self._ser.flush()
        except Exception as exc:  # SerialException, OSError, termios.error
            self.errors["write_failures"] += 1
            self._disconnected(exc)
            return False
        return True

    def close(self) -> None:
        """Close for good: later reads return ``b""`` and writes False."""
        self._closed = True
        self._drop(count=False)

    # -- internals ---------------------------------------------------------------------
    def _disconnected(self, exc: BaseException) -> None:
        self.last_error = f"{self.port}: {exc}"
        self._drop(count=True)
        self._schedule_retry()

    def _drop(self, *, count: bool) -> None:
        ser, self._ser = self._ser, None
        if ser is None:
            return
        if count:
            self.errors["disconnects"] += 1
        with contextlib.suppress(Exception):
            ser.close()

    def _schedule_retry(self) -> None:
        self._next_attempt = self._clock() + self._delay
        self._delay = min(self._delay * 2, self._backoff[1])

    def __enter__(self) -> ReconnectingPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
