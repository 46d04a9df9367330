"""A weighing indicator on a pseudo-terminal: a physical load model behind a protocol.

:class:`ScaleSimulator` runs in its own thread. In *continuous* mode it sends the
protocol's frame ``rate_hz`` times a second; in either mode it answers the commands the
host writes (poll, zero, tare, ...) the way the real indicator does. Between frames you
change what lies on the platter (:meth:`~ScaleSimulator.place`, :meth:`~ScaleSimulator.remove`,
:meth:`~ScaleSimulator.overload`, :meth:`~ScaleSimulator.shake`) or the line
(:meth:`~ScaleSimulator.inject_garbage`, ``garbage_probability``; unplug the device
itself with ``device.unplug()``/``device.replug()``).

Example::

    from simulators.pty import PtyDevice
    from simulators.scales import ScaleSimulator

    with PtyDevice("/tmp/sim", name="usb-Sim_Scale-if00") as dev, \\
         ScaleSimulator("and_indicator", dev, division_g=20, rate_hz=10, seed=7) as scale:
        scale.place(3_120)       # a 3.12 kg sack: rings, settles, ST,GS,+0003.12kg
        ...
        scale.remove()
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators._io import DeviceWriter, SerialDevice
from simulators.scales.encoders.base import Action, Display, Mode, get_encoder
from simulators.scales.model import Dynamics, LoadModel


@dataclass(slots=True)
class _Pending:
    action: Action
    deadline: float


class ScaleSimulator:
    """One simulated indicator of ``protocol`` on ``device`` (a pty), run in a thread.

    ``division_g`` is the scale division d, ``capacity_g`` the maximum load;
    ``rate_hz`` is the continuous output rate; ``seed`` makes noise and garbage
    repeatable. ``mode`` defaults to the protocol's usual one (MT-SICS balances wait
    to be polled; the others stream). ``stable_timeout_s``: how long a "send when
    stable" command waits before the protocol's timeout answer.
    """

    def __init__(
        self,
        protocol: str,
        device: SerialDevice,
        *,
        division_g: int = 20,
        capacity_g: int = 150_000,
        rate_hz: float = 10.0,
        seed: int = 0,
        mode: Mode | None = None,
        garbage_probability: float = 0.0,
        stable_timeout_s: float = 3.0,
        dynamics: Dynamics | None = None,
        clock: Callable[[], float] = time.monotonic,
        **encoder_options: Any,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        if not 0 <= garbage_probability <= 1:
            raise ValueError(f"garbage_probability must be 0..1, got {garbage_probability}")
        self.protocol = protocol
        self.encoder = get_encoder(protocol)
        for key, value in encoder_options.items():
            if not hasattr(self.encoder, key):
                raise ValueError(f"protocol {protocol!r} has no option {key!r}")
            setattr(self.encoder, key, value)
        self.device = device
        self.model = LoadModel(
            division_g=division_g, capacity_g=capacity_g, seed=seed, dynamics=dynamics
        )
        self.rate_hz = rate_hz
        self.streaming = (mode or self.encoder.default_mode) == "continuous"
        self.garbage_probability = garbage_probability
        self.stable_timeout_s = stable_timeout_s
        self._clock = clock
        self._rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: DeviceWriter | None = None
        self._inbox = bytearray()
        self._pending: list[_Pending] = []
        #: counters: frames sent, commands answered, garbage bursts, unknown commands
        self.stats = {"frames": 0, "commands": 0, "garbage": 0, "unknown_commands": 0}
        #: the last commands the host sent (newest last), for tests and diagnostics
        self.commands_seen: list[bytes] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ScaleSimulator:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._writer = DeviceWriter(self.device, name=f"scale-{self.protocol}")
        self._thread = threading.Thread(
            target=self._run, name=f"scale-{self.protocol}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread (the device stays open; closing it is the owner's job)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._writer is not None:
            self._writer.close(timeout_s)

    def __enter__(self) -> ScaleSimulator:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the platter -------------------------------------------------------------------
    def place(self, grams: int) -> None:
        """The load on the platter becomes ``grams`` (it rings, then settles)."""
        with self._lock:
            self.model.place(grams, now=self._clock())

    def remove(self) -> None:
        """Everything taken off: the reading returns to zero (or to minus the tare)."""
        with self._lock:
            self.model.remove(now=self._clock())

    def overload(self) -> None:
        """Put more than the capacity on the scale (until :meth:`remove`)."""
        with self._lock:
            self.model.place(self.model.capacity_g * 1.2, now=self._clock())

    def negative(self, grams: int) -> None:
        """Show ``-grams``: the platter lifted, or a load removed after a zero."""
        self.place(-abs(grams))

    def shake(self, seconds: float) -> None:
        """Keep the reading in motion for ``seconds`` (someone leaning on the platter)."""
        with self._lock:
            self.model.shake(seconds, now=self._clock())

    def zero(self) -> bool:
        """Press the indicator's ZERO key; False if it refused (motion, out of zero range)."""
        with self._lock:
            return self.model.zero(now=self._clock())

    def tare(self) -> bool:
        """Press TARE; False if refused (motion, nothing on the platter)."""
        with self._lock:
            return self.model.tare(now=self._clock())

    def display(self) -> Display:
        """What the indicator shows now."""
        with self._lock:
            return self.model.display(now=self._clock())

    @property
    def stable(self) -> bool:
        return self.display().stable

    # -- the line ----------------------------------------------------------------------
    def inject_garbage(self, data: bytes | None = None) -> bytes:
        """Send a burst of line noise now (random bytes unless ``data`` is given)."""
        if data is None:
            with self._lock:
                data = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(3, 24)))
        self.stats["garbage"] += 1
        self._send(data)
        return data

    def send_frame(self) -> bytes:
        """Send one frame of the current display now (as the PRINT key does)."""
        frame = self.encoder.frame(self.display())
        self._send(frame)
        self.stats["frames"] += 1
        return frame

    def flushed(self) -> bool:
        """True when every queued byte has been written to the pty."""
        return self._writer is None or self._writer.idle()

    @property
    def dropped_writes(self) -> int:
        """Chunks lost because the device was unplugged or the host did not read."""
        return 0 if self._writer is None else self._writer.dropped

    def _send(self, data: bytes) -> None:
        if self._writer is not None and data:
            self._writer.send(data)

    # -- the thread --------------------------------------------------------------------
    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_frame = self._clock()
        while not self._stop.is_set():
            now = self._clock()
            if self.streaming and now >= next_frame:
                self._stream_one()
                next_frame = max(next_frame + period, now)
            self._answer_pending(now)
            wait = max(0.0, min(next_frame - self._clock(), 0.05)) if self.streaming else 0.05
            if not self.device.plugged:
                self._inbox.clear()
                self._stop.wait(wait)
                continue
            try:
                data = self.device.read_available(wait)
            except (OSError, TypeError, ValueError):  # unplugged under our feet
                data = b""
            if data:
                self._inbox += data
                for line in self.encoder.split_commands(self._inbox):
                    self._handle(line)

    def _stream_one(self) -> None:
        if self.garbage_probability and self._rng.random() < self.garbage_probability:
            self.inject_garbage()
        self.send_frame()

    def _handle(self, line: bytes) -> None:
        self.commands_seen = [*self.commands_seen[-31:], line]
        action = self.encoder.command(line)
        if action is None:
            return
        self.stats["commands"] += 1
        now = self._clock()
        with self._lock:
            ok = True
            if action is Action.UNKNOWN:
                self.stats["unknown_commands"] += 1
            elif action is Action.SEND_STABLE and not self.model.settled(now):
                self._pending.append(_Pending(action, now + self.stable_timeout_s))
                return
            elif action is Action.STREAM_ON:
                self.streaming = True
            elif action is Action.STREAM_OFF:
                self.streaming = False
            elif action is Action.ZERO:
                ok = self.model.zero(now=now)
            elif action is Action.TARE:
                ok = self.model.tare(now=now)
            elif action is Action.CLEAR_TARE:
                self.model.clear_tare()
            display = self.model.display(now=now)
        self._send(self.encoder.reply(action, display, ok=ok))

    def _answer_pending(self, now: float) -> None:
        if not self._pending:
            return
        with self._lock:
            settled = self.model.settled(now)
            display = self.model.display(now=now)
            keep: list[_Pending] = []
            replies: list[bytes] = []
            for p in self._pending:
                if settled:
                    replies.append(self.encoder.reply(p.action, display, ok=True))
                elif now >= p.deadline:
                    replies.append(self.encoder.reply(p.action, display, ok=False))
                else:
                    keep.append(p)
            self._pending = keep
        for reply in replies:
            self._send(reply)
