"""Writing to a simulated serial device without ever blocking the simulator.

A real UART with nobody listening simply loses bytes. A pty instead fills its buffer
(about 20 KB) and then blocks the writer, so a simulator whose host is not reading yet
(the agent still starting, or restarting) would hang. :class:`DeviceWriter` writes from
its own thread through a bounded queue: when the host does not keep up, new chunks are
dropped and counted, exactly like bytes lost on a line nobody reads.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Protocol


class SerialDevice(Protocol):
    """The device end of a simulated serial line (``simulators.pty.PtyDevice``)."""

    path: str

    @property
    def plugged(self) -> bool: ...

    def write(self, data: bytes) -> int: ...

    def read_available(self, timeout: float = 0.0) -> bytes: ...


class DeviceWriter:
    """A bounded, non-blocking write queue in front of a :class:`SerialDevice`."""

    def __init__(self, device: SerialDevice, *, max_pending: int = 64, name: str = "") -> None:
        self.device = device
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_pending)
        self.sent_bytes = 0
        self.dropped = 0
        self.errors = 0
        self._thread = threading.Thread(
            target=self._run, name=f"writer-{name or device.path}", daemon=True
        )
        self._thread.start()

    def send(self, data: bytes) -> bool:
        """Queue ``data``; False (and counted) if the device is unplugged or the queue is full."""
        if not data:
            return True
        if not self.device.plugged:
            self.dropped += 1
            return False
        try:
            self._queue.put_nowait(data)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def idle(self) -> bool:
        """True when everything queued has been written."""
        return self._queue.unfinished_tasks == 0

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the writer (a write blocked on a host that never reads ends at unplug)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            try:
                if data is None:
                    return
                try:
                    self.sent_bytes += self.device.write(data)
                except Exception:  # unplugged mid-write (EIO, closed fd): bytes lost
                    self.errors += 1
            finally:
                self._queue.task_done()


@contextlib.contextmanager
def on_sigterm(action: Callable[[], None] | None = None) -> Iterator[None]:
    """While inside, SIGTERM runs ``action`` (default: raise ``KeyboardInterrupt``, so a
    command blocked in ``input()`` unwinds and closes its devices like Ctrl-C does);
    the previous handler is restored on exit. Main thread only, as signals are."""

    def handler(signum: int, frame: object) -> None:
        if action is None:
            raise KeyboardInterrupt
        action()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
