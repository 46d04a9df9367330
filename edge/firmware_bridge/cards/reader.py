"""A member-card reader on a serial port, with debouncing and reconnects.

An RDM6300 repeats a card's frame for as long as it lies on the antenna, and people tap
twice; :class:`CardReader` reports a card once and suppresses the same id until it has
been *absent* for ``debounce_s`` (each repeat extends the quiet period). A different
card is reported at once. Port handling (close, back off, reopen after an unplug) is the
shared :class:`~edge.firmware_bridge.serialport.ReconnectingPort`.

Example::

    reader = CardReader("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0")
    for card_id in reader.read(timeout_s=0.5):
        print("card", card_id)          # "0F00A1B2C3"
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from edge.firmware_bridge.cards.parsers import get_card_protocol
from edge.firmware_bridge.serialport import LineSettings, Opener, ReconnectingPort
from protocols.base import FrameBuffer


class CardReader:
    """Debounced card ids from a serial card reader or scanner."""

    def __init__(
        self,
        port: str,
        kind: str = "rdm6300",
        *,
        debounce_s: float = 2.0,
        line: LineSettings | None = None,
        backoff_s: tuple[float, float] = (0.2, 5.0),
        opener: Opener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if debounce_s < 0:
            raise ValueError(f"debounce_s must be >= 0, got {debounce_s}")
        self.protocol = get_card_protocol(kind)
        self.debounce_s = debounce_s
        self._clock = clock
        self._port = ReconnectingPort(
            port,
            line or self.protocol.default_line,
            backoff_s=backoff_s,
            opener=opener,
            clock=clock,
        )
        self._buffer = FrameBuffer(limit=1024)
        self._last_seen: dict[str, float] = {}
        self._rejected = 0
        self._opened_seen = 0
        self.rejected: deque[bytes] = deque(maxlen=32)

    @property
    def connected(self) -> bool:
        return self._port.connected

    @property
    def errors(self) -> dict[str, int]:
        """Counters: ``rejected`` frames, ``disconnects``, ``open_failures``, ``write_failures``."""
        return {"rejected": self._rejected, **self._port.errors}

    def read(self, timeout_s: float) -> list[str]:
        """Card ids presented within ``timeout_s`` (debounced); never raises."""
        deadline = self._clock() + max(0.0, timeout_s)
        while True:
            chunk = self._port.read(max(0.0, deadline - self._clock()))
            if self._port.opened_count != self._opened_seen:
                self._opened_seen = self._port.opened_count
                self._buffer.data.clear()
            ids = self.feed(chunk, self._clock()) if chunk else []
            if ids or self._clock() >= deadline:
                return ids

    def feed(self, chunk: bytes, now_s: float) -> list[str]:
        """Parse bytes as if read at ``now_s`` (the reader's pure half)."""
        self._buffer.feed(chunk)
        out: list[str] = []
        for frame in self.protocol.frames(self._buffer):
            card_id = self.protocol.parse(frame)
            if card_id is None:
                self._rejected += 1
                self.rejected.append(frame)
                continue
            last = self._last_seen.get(card_id)
            self._last_seen[card_id] = now_s
            if last is None or now_s - last >= self.debounce_s:
                out.append(card_id)
        # forget ids that have been away long enough (bounded memory)
        for stale in [c for c, t in self._last_seen.items() if now_s - t >= self.debounce_s]:
            if stale not in out:
                del self._last_seen[stale]
        return out

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> CardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
