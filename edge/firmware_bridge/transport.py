"""The scale transport: one weighing indicator on one serial port.

:class:`ScaleTransport` joins a :class:`~edge.firmware_bridge.serialport.ReconnectingPort`
(open, back off, reopen) to a pure :class:`~protocols.base.ScaleProtocol`
(framing and parsing). It never raises on I/O or on bad bytes.

Modes:

- *continuous* (``poll_interval_s=None``): the indicator streams frames by itself;
- *polled* (``poll_interval_s=0.25`` etc.): the transport sends ``protocol.poll_command``
  each interval while connected (only for protocols that have one).

Frames the parser rejects (garbage, bad checksum, error replies) are returned as readings
with ``status=ERROR`` so they can be logged, counted in ``errors["garbled"]`` and kept in
``rejected`` (the last 32, for an operator); they never become a weigh-in.

Example (MT-SICS balance polled four times a second)::

    from edge.firmware_bridge import get_protocol
    from edge.firmware_bridge.transport import ScaleTransport

    scale = ScaleTransport("/dev/serial/by-id/usb-FTDI-if00-port0", get_protocol("mtsics"),
                           poll_interval_s=0.25)
    for reading in scale.read(timeout_s=0.5):
        print(reading.status, reading.grams)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from edge.firmware_bridge.serialport import LineSettings, Opener, ReconnectingPort
from protocols.base import FrameBuffer, Reading, ScaleProtocol, Status

#: How many rejected frames are kept for diagnostics.
REJECTED_KEPT = 32


def parse_safely(protocol: ScaleProtocol, frame: bytes) -> Reading | None:
    """``protocol.parse(frame)``, turning any parser bug into an ERROR reading."""
    try:
        return protocol.parse(frame)
    except Exception as exc:  # a parser must not raise; if one does, keep the frame
        return Reading(Status.ERROR, None, frame, protocol.name, detail=f"parser error: {exc!r}")


class ScaleTransport:
    """A weighing indicator on a serial port, read as :class:`Reading` objects."""

    def __init__(
        self,
        port: str,
        protocol: ScaleProtocol,
        *,
        line: LineSettings | None = None,
        poll_interval_s: float | None = None,
        backoff_s: tuple[float, float] = (0.2, 5.0),
        opener: Opener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_interval_s is not None:
            if protocol.poll_command is None:
                raise ValueError(f"protocol {protocol.name!r} has no poll command")
            if poll_interval_s <= 0:
                raise ValueError(f"poll_interval_s must be positive, got {poll_interval_s}")
        self.protocol = protocol
        self.poll_interval_s = poll_interval_s
        self._clock = clock
        self._port = ReconnectingPort(
            port, line or protocol.default_line, backoff_s=backoff_s, opener=opener, clock=clock
        )
        self._buffer = FrameBuffer()
        self._next_poll = clock()
        self._opened_seen = 0
        self._garbled = 0
        self.rejected: deque[bytes] = deque(maxlen=REJECTED_KEPT)

    # -- state -------------------------------------------------------------------------
    @property
    def port(self) -> str:
        return self._port.port

    @property
    def line(self) -> LineSettings:
        return self._port.line

    @property
    def connected(self) -> bool:
        return self._port.connected

    @property
    def errors(self) -> dict[str, int]:
        """Counters: ``garbled`` frames, ``disconnects``, ``open_failures``, ``write_failures``."""
        return {"garbled": self._garbled, **self._port.errors}

    @property
    def last_error(self) -> str:
        return self._port.last_error

    # -- reading -----------------------------------------------------------------------
    def read(self, timeout_s: float) -> list[Reading]:
        """Readings that arrive within ``timeout_s``; returns early once there are some.

        Never raises: while the port is unplugged this waits out the timeout and
        returns ``[]``, reopening the port when the back-off allows.
        """
        deadline = self._clock() + max(0.0, timeout_s)
        readings: list[Reading] = []
        while True:
            self._port.ensure_open()
            self._check_reopened()
            self._maybe_poll()
            remaining = deadline - self._clock()
            wait = remaining
            if self.poll_interval_s is not None and self._port.connected:
                wait = min(wait, max(0.0, self._next_poll - self._clock()))
            chunk = self._port.read(max(0.0, wait))
            self._check_reopened()
            if chunk:
                readings.extend(self.feed(chunk))
            if readings or self._clock() >= deadline:
                return readings

    def feed(self, chunk: bytes) -> list[Reading]:
        """Parse bytes as if they came from the port (the transport's pure half)."""
        self._buffer.feed(chunk)
        out: list[Reading] = []
        for frame in self.protocol.frames(self._buffer):
            reading = parse_safely(self.protocol, frame)
            if reading is None:
                continue
            if reading.status is Status.ERROR:
                self._garbled += 1
                self.rejected.append(reading.raw)
            out.append(reading)
        return out

    def _check_reopened(self) -> None:
        if self._port.opened_count != self._opened_seen:
            self._opened_seen = self._port.opened_count
            self._buffer.data.clear()  # bytes from before an unplug are not a frame
            self._next_poll = self._clock()
            self.protocol.reset()

    def _maybe_poll(self) -> None:
        if self.poll_interval_s is None or not self._port.connected:
            return
        now = self._clock()
        if now >= self._next_poll:
            command = self.protocol.poll_command
            assert command is not None
            self._port.write(command)
            self._next_poll = now + self.poll_interval_s

    # -- commands ----------------------------------------------------------------------
    def send(self, cmd: bytes) -> bool:
        """Write raw bytes to the indicator; False if not connected or the write failed."""
        return self._port.write(cmd)

    def zero(self) -> bool:
        """Send the protocol's zero command; False if it has none or the write failed."""
        cmd = self.protocol.zero_command
        return cmd is not None and self.send(cmd)

    def tare(self) -> bool:
        """Send the protocol's tare command; False if it has none or the write failed."""
        cmd = self.protocol.tare_command
        return cmd is not None and self.send(cmd)

    def set_line(self, line: LineSettings) -> None:
        """Reopen the port with other line settings (used by :func:`detect_line`)."""
        self._port.set_line(line)
        self._buffer.data.clear()

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> ScaleTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_line(
    port: str,
    protocol: ScaleProtocol,
    candidates: Iterable[LineSettings] | None = None,
    *,
    listen_s: float = 1.5,
    min_valid: int = 2,
    opener: Opener | None = None,
) -> LineSettings | None:
    """Find the line settings an indicator talks with: try each, keep one whose frames validate.

    For each candidate (default: the protocol's own default first, then the common
    ones) the port is opened, polled if the protocol can be polled, and listened to for
    up to ``listen_s``. A candidate wins when ``min_valid`` frames parse to a non-ERROR
    reading and no more than as many frames were garbled; a wrong baud rate or parity
    gives garbage that fails the protocol's own validation. Returns ``None`` if none did.
    """
    tried: list[LineSettings] = []
    for line in candidates if candidates is not None else candidate_lines(protocol):
        if line in tried:
            continue
        tried.append(line)
        poll = 0.2 if protocol.poll_command is not None else None
        transport = ScaleTransport(
            port, protocol, line=line, poll_interval_s=poll, backoff_s=(0.05, 0.2), opener=opener
        )
        try:
            valid = garbled = 0
            deadline = time.monotonic() + listen_s
            while time.monotonic() < deadline and valid < min_valid:
                for reading in transport.read(deadline - time.monotonic()):
                    if reading.status is Status.ERROR:
                        garbled += 1
                    else:
                        valid += 1
            if valid >= min_valid and garbled <= valid:
                return line
        finally:
            transport.close()
    return None


#: Line settings weighing indicators commonly ship with, most common first.
COMMON_LINES: tuple[LineSettings, ...] = (
    (9600, 8, "N", 1),
    (2400, 7, "E", 1),
    (4800, 8, "N", 1),
    (19200, 8, "N", 1),
    (2400, 8, "N", 1),
    (9600, 7, "E", 1),
    (1200, 7, "E", 1),
    (4800, 7, "E", 1),
)


def candidate_lines(protocol: ScaleProtocol) -> list[LineSettings]:
    """The protocol's default line settings first, then :data:`COMMON_LINES`."""
    return [protocol.default_line, *(c for c in COMMON_LINES if c != protocol.default_line)]
