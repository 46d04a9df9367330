"""A fleet of devices publishing at a set rate: one MQTT connection per device account.

Each device connects with its own username (the broker's ACL confines it to its own
topics, as in production) on a raw socket (:mod:`bench.mqttraw`). A step publishes
``count`` events at ``rate`` per second spread round-robin over the fleet; above ~4,000
messages a second a device sends a few consecutive events in one ``sendall`` (a burst)
so the publisher stays far cheaper per message than anything it measures. Every event
carries its publish time (:mod:`bench.stream`).

A reader thread drains every socket: it counts PUBACKs (at QoS 1 a message counts as
published once the broker acknowledged it) and, with ``receipts=True``, records the
arrival of each receipt on ``.../receipt`` against the weigh-in's publish time.

The fleet runs in its own process (:class:`FleetProcess`) so it never shares a core's
interpreter lock with the consumer being measured.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import selectors
import socket
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench import mqttraw
from bench.stream import DEVICE_PASSWORD, EventEncoder, fleet_ids
from contract.topics import Kind, device_topic

#: aim for at most this many ``sendall`` calls a second (bursts above it)
SENDS_PER_S = 4000
#: the most messages produced per pass of the pacing loop (keeps the reader fed)
MAX_CHUNK = 4000


@dataclass
class StepResult:
    sent: int
    acked: int
    t_first: float  # wall clock of the first publish
    t_last: float  # wall clock of the last publish
    offered_rate: float

    @property
    def achieved_rate(self) -> float:
        span = self.t_last - self.t_first
        return self.sent / span if span > 0 else float(self.sent)


class SessionReader:
    """A thread draining device sessions: counts PUBACKs (``acked``) and keeps what the
    broker delivers to them (receipts) as ``(arrival wall time, payload)`` for
    :meth:`take`. :meth:`close` disconnects every session."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.acked = 0
        self._received: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._closing = False
        self._sel = selectors.DefaultSelector()
        self._bufs: dict[int, bytearray] = {}
        for s in socks:
            self._sel.register(s, selectors.EVENT_READ)
            self._bufs[s.fileno()] = bytearray()
        self._thread = threading.Thread(target=self._loop, name="fleet-reader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closing:
            for key, _ in self._sel.select(timeout=0.2):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(1 << 16)
                except OSError:
                    data = b""
                if not data:
                    self._sel.unregister(sock)
                    continue
                now = time.time()
                buf = self._bufs[sock.fileno()]
                buf += data
                acks = 0
                for first, body in mqttraw.iter_packets(buf):
                    kind = first & 0xF0
                    if kind == mqttraw.PUBACK:
                        acks += 1
                    elif kind == mqttraw.PUBLISH:
                        _, _, payload = mqttraw.split_publish(first, body)
                        self._received.append((now, payload))
                if acks:
                    with self._lock:
                        self.acked += acks

    def reset_acks(self) -> None:
        with self._lock:
            self.acked = 0

    def take(self) -> list[tuple[float, bytes]]:
        """What arrived since the last call."""
        got, self._received = self._received, []
        return got

    def close(self) -> None:
        self._closing = True
        self._thread.join(2)
        for s in self.socks:
            with contextlib.suppress(OSError):
                s.sendall(mqttraw.DISCONNECT)
            s.close()


class Fleet:
    """``n`` device connections of one kind (``fill`` or ``weighin``)."""

    def __init__(self, host: str, port: int, kind: str, n: int, *, receipts: bool = False) -> None:
        self.kind = kind
        self.ids = fleet_ids(kind, n)
        self.encoder = EventEncoder(kind, self.ids, seq_base=0)
        self.socks: list[socket.socket] = []
        for i, dev in enumerate(self.ids):
            sock = mqttraw.open_connection(host, port, dev, dev, DEVICE_PASSWORD)
            if receipts:
                sock.sendall(mqttraw.subscribe_packet(1, device_topic(dev, Kind.RECEIPT), 0))
            self.socks.append(sock)
            if i % 100 == 99:
                time.sleep(0.01)  # let the broker breathe while 1,000 devices log in
        self.pids = [0] * n
        #: publish time of every weigh-in by event_id (to time its receipt)
        self.sent_at: dict[str, float] = {}
        self._track = kind == "weighin"
        self.reader = SessionReader(self.socks)

    @property
    def acked(self) -> int:
        return self.reader.acked

    # ------------------------------------------------------------------ publishing

    def run(self, *, rate: float, count: int, qos: int, ack_timeout_s: float = 30) -> StepResult:
        """Publish ``count`` events at ``rate``/s; at QoS 1 wait for every PUBACK."""
        n = len(self.socks)
        burst = max(1, min(64, round(rate / SENDS_PER_S)))
        self.reader.reset_acks()
        enc, socks, topics, pids = self.encoder, self.socks, self.encoder.topics, self.pids
        publish = mqttraw.publish_packet
        sent = 0
        dev = 0
        t0 = time.monotonic()
        t_first = time.time()
        while sent < count:
            target = min(count, int((time.monotonic() - t0) * rate) + 1)
            if target <= sent:
                time.sleep(max(0.0, min(0.002, (sent + 1) / rate - (time.monotonic() - t0))))
                continue
            todo = min(target - sent, MAX_CHUNK)
            now = time.time()
            while todo > 0:
                k = min(burst, todo)
                topic = topics[dev]
                parts = []
                for j in range(k):
                    pid = 0
                    if qos:
                        pid = pids[dev] = pids[dev] % 65535 + 1
                    t = now + j * 1e-6
                    parts.append(publish(topic, enc.encode(dev, t), qos=qos, packet_id=pid))
                    if self._track:
                        self.sent_at[f"{enc.ids[dev]}:{enc.seq[dev]}"] = t
                socks[dev].sendall(b"".join(parts))
                sent += k
                todo -= k
                dev = (dev + 1) % n
        t_last = time.time()
        if qos:
            deadline = time.monotonic() + ack_timeout_s
            while self.acked < sent and time.monotonic() < deadline:
                time.sleep(0.005)
        return StepResult(sent, self.acked if qos else sent, t_first, t_last, rate)

    def take_receipts(self) -> list[tuple[float, float, str]]:
        """``(arrival, publish-to-receipt seconds, status)`` of the receipts since the last call."""
        got = self.reader.take()
        out = []
        for arrival, payload in got:
            r = json.loads(payload)
            sent = self.sent_at.pop(r["event_id"], None)
            if sent is not None:
                out.append((arrival, arrival - sent, str(r["status"])))
        return out

    def close(self) -> None:
        self.reader.close()


# ---------------------------------------------------------------------- process wrapper


def _serve(conn: Connection, host: str, port: int, kind: str, n: int, receipts: bool) -> None:
    try:
        fleet = Fleet(host, port, kind, n, receipts=receipts)
    except Exception as exc:  # report the failure to the parent instead of hanging it
        conn.send({"error": repr(exc)})
        return
    conn.send({"ready": True})
    while True:
        cmd: dict[str, Any] = conn.recv()
        op = cmd.pop("op")
        if op == "run":
            try:
                conn.send(asdict(fleet.run(**cmd)))
            except Exception as exc:  # tell the parent rather than dying silently
                conn.send({"error": repr(exc)})
        elif op == "receipts":
            conn.send(fleet.take_receipts())
        elif op == "close":
            fleet.close()
            conn.send({"closed": True})
            return


class FleetProcess:
    """A :class:`Fleet` in a child process, driven step by step from the parent."""

    def __init__(self, host: str, port: int, kind: str, n: int, *, receipts: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve, args=(child, host, port, kind, n, receipts), name=f"fleet-{kind}"
        )
        self.proc.start()
        hello = self._conn.recv()
        if "error" in hello:
            self.proc.join(5)
            raise mqttraw.MqttError(f"fleet failed to connect: {hello['error']}")

    def run(self, *, rate: float, count: int, qos: int) -> StepResult:
        self._conn.send({"op": "run", "rate": rate, "count": count, "qos": qos})
        answer = self._conn.recv()
        if "error" in answer:
            raise mqttraw.MqttError(f"fleet failed: {answer['error']}")
        return StepResult(**answer)

    def take_receipts(self) -> list[tuple[float, float, str]]:
        """``(arrival, publish-to-receipt seconds, status)`` of the receipts since the last call."""
        self._conn.send({"op": "receipts"})
        out: list[tuple[float, float, str]] = self._conn.recv()
        return out

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self._conn.send({"op": "close"})
                if self._conn.poll(10):
                    self._conn.recv()
            except (OSError, EOFError):
                pass
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(5)

    def __enter__(self) -> FleetProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe(result: StepResult) -> str:
    return json.dumps(asdict(result))
