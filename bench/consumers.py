"""The consumers each level measures, every one in its own OS process.

=====  ==================================================================================
L0     ``mosquitto_sub`` (C) printing ``%U %p`` (arrival time, payload) to a file
L1     a paho-mqtt subscriber that only counts (MQTT 5, ReceiveMaximum 5,000, auto-ack)
L1r    L1 on the ingest's own paho client (:class:`cloud.ingest.readahead.ReadAheadClient`):
       what the ingest's MQTT layer alone costs, so L3/L1r is the price of the rest
L2     Telegraf-style: paho -> ``json.loads`` -> line protocol -> InfluxDB ``/write`` in
       batches of 1,000 (or every 0.25 s); no validation, MQTT 5 as L1, auto-ack
L3     the real ingest (:func:`cloud.ingest.run`), one worker; L3x2: two workers on the
       shared subscription ``$share/ingest/...``
=====  ==================================================================================

Each consumer reports what it needs the orchestrator to know through :class:`Consumer`:
how many messages of a step it has delivered (L0/L1) or stored (L2/L3, counted in
InfluxDB by device time), the latency samples of the step, and its process ids (CPU and
RSS are read from ``/proc``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing as mp
import subprocess
import threading
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from bench.influx import InfluxCounter, ProbePoller
from bench.stream import device_time_of

FILL_TOPIC = "salinmas/v1/dev/+/fill"
#: the ingest's default MQTT 5 ReceiveMaximum (IngestSettings.receive_maximum)
RECEIVE_MAXIMUM = 5000


class Consumer(Protocol):
    name: str

    def start(self) -> None: ...

    def pids(self) -> list[int]: ...

    def delivered(self, t_first: float, t_last: float) -> int:
        """Messages published between the two wall times that reached the consumer."""
        ...

    def begin_step(self, t_first: float, rate: float) -> None: ...

    def latencies(self) -> list[float]:
        """Publish-to-delivered/stored seconds of the probe messages of the last step."""
        ...

    def stop(self) -> None: ...


# ------------------------------------------------------------------------------ L0


class MosquittoSub:
    """L0: ``mosquitto_sub`` writing ``<arrival ns> <payload>`` lines to a file."""

    name = "L0"

    def __init__(self, port: int, qos: int, user: str, password: str, workdir: Path) -> None:
        self.args = [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-u",
            user,
            "-P",
            password,
            "-t",
            FILL_TOPIC,
            "-q",
            str(qos),
            "-F",
            "%U %p",
            "-i",
            "bench-l0",
        ]
        self.path = workdir / f"l0-q{qos}.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self._lines = 0
        self._pos = 0
        self._step_start = 0
        self._tail = b""

    def start(self) -> None:
        self._out = self.path.open("wb")
        self.proc = subprocess.Popen(self.args, stdout=self._out)
        time.sleep(0.5)  # mosquitto_sub has no "subscribed" signal; give it time to SUBACK

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def _scan(self) -> None:
        with self.path.open("rb") as fh:
            fh.seek(self._pos)
            data = fh.read()
        self._pos += len(data)
        self._lines += data.count(b"\n")

    def begin_step(self, t_first: float, rate: float) -> None:
        self._scan()
        self._step_start = self._pos
        self._lines = 0

    def delivered(self, t_first: float, t_last: float) -> int:
        self._scan()
        return self._lines

    def latencies(self) -> list[float]:
        self._scan()
        out = []
        with self.path.open("rb") as fh:
            fh.seek(self._step_start)
            data = fh.read(self._pos - self._step_start)
        for line in data.splitlines():
            stamp, _, payload = line.partition(b" ")
            if payload[26:28] == b"00":  # probe devices: every 100th id
                out.append(float(stamp) - device_time_of(payload))
        return out

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
            self._out.close()
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ L1/L2


def _paho_client(client_id: str, user: str, password: str, read_ahead: bool = False) -> Any:
    """MQTT 5 like the ingest, so every level gets the same in-flight window."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from cloud.ingest.readahead import ReadAheadClient

    factory = ReadAheadClient if read_ahead else mqtt.Client
    c = factory(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    return c


def _connect(c: Any, port: int) -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    c.connect("127.0.0.1", port, clean_start=True, properties=props)


def _serve_commands(conn: Connection, state: dict[str, Any], client: Any) -> None:
    conn.send({"ready": True})
    while True:
        op = conn.recv()
        if op == "count":
            conn.send(state["n"])
        elif op == "begin":
            state["n"] = 0
            state["lat"] = []
            conn.send(True)
        elif op == "lat":
            conn.send(state["lat"])
        elif op == "stop":
            client.disconnect()
            client.loop_stop()
            conn.send(True)
            return


def _l1_main(
    conn: Connection, port: int, qos: int, user: str, password: str, read_ahead: bool = False
) -> None:
    state: dict[str, Any] = {"n": 0, "lat": []}
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        state["n"] += 1
        p = msg.payload
        if p[26:28] == b"00":
            state["lat"].append(time.time() - device_time_of(p))

    c = _paho_client("bench-l1", user, password, read_ahead)
    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe(FILL_TOPIC, qos)
    c.on_subscribe = lambda *_a: subscribed.set()
    _connect(c, port)
    c.loop_start()
    subscribed.wait(10)
    _serve_commands(conn, state, c)


def _l2_main(
    conn: Connection, port: int, qos: int, user: str, password: str, influx: str, db: str
) -> None:
    """Telegraf's mqtt_consumer + json parser + influxdb output, reduced to its essence."""
    state: dict[str, Any] = {"n": 0, "lat": []}
    pending: list[bytes] = []
    lock = threading.Condition()
    subscribed = threading.Event()
    batch_size, flush_s = 1000, 0.25

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        with lock:
            pending.append(msg.payload)
            if len(pending) >= batch_size:
                lock.notify()

    def writer() -> None:
        host, _, p = influx.removeprefix("http://").partition(":")
        web = http.client.HTTPConnection(host, int(p), timeout=30)
        path = f"/write?db={db}&precision=ns"
        while True:
            with lock:
                if len(pending) < batch_size:
                    lock.wait(flush_s)
                batch = pending[:batch_size]
                del pending[: len(batch)]
            if not batch:
                continue
            lines = []
            for payload in batch:
                d = json.loads(payload)
                at = datetime.fromisoformat(d["device_time"])
                ts = int(at.timestamp() * 1000) * 1_000_000 + d["seq"] % 1_000_000
                lines.append(
                    f"fill,bin={d['bin_id']},device={d['device_id']} "
                    f"fill_pct={d['fill_pct']},seq={d['seq']}i {ts}"
                )
            body = "\n".join(lines).encode()
            while True:
                try:
                    web.request("POST", path, body)
                    r = web.getresponse()
                    r.read()
                    if r.status == 204:
                        break
                except (OSError, http.client.HTTPException):
                    web.close()
                time.sleep(0.2)
            state["n"] += len(batch)

    c = _paho_client("bench-l2", user, password)
    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe(FILL_TOPIC, qos)
    c.on_subscribe = lambda *_a: subscribed.set()
    threading.Thread(target=writer, daemon=True).start()
    _connect(c, port)
    c.loop_start()
    subscribed.wait(10)
    _serve_commands(conn, state, c)


class _ChildConsumer:
    """A consumer in a spawned process, driven over a pipe."""

    name = "?"

    def __init__(self, target: Any, args: tuple[Any, ...]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, *args), daemon=True)

    def start(self) -> None:
        self.proc.start()
        if not self._conn.poll(30):
            raise TimeoutError(f"{self.name} consumer did not start")
        self._conn.recv()

    def _ask(self, op: str) -> Any:
        self._conn.send(op)
        return self._conn.recv()

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc.pid else []

    def begin_step(self, t_first: float, rate: float) -> None:
        self._ask("begin")

    def delivered(self, t_first: float, t_last: float) -> int:
        n: int = self._ask("count")
        return n

    def latencies(self) -> list[float]:
        out: list[float] = self._ask("lat")
        return out

    def stop(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self._ask("stop")
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(5)


class PahoCounter(_ChildConsumer):
    """L1: a paho subscriber that only counts (and times the 1 % probe messages)."""

    name = "L1"

    def __init__(self, port: int, qos: int, user: str, password: str) -> None:
        super().__init__(_l1_main, (port, qos, user, password))


class ReadAheadCounter(_ChildConsumer):
    """L1r: L1 on the ingest's read-ahead paho client."""

    name = "L1r"

    def __init__(self, port: int, qos: int, user: str, password: str) -> None:
        super().__init__(_l1_main, (port, qos, user, password, True))


class TelegrafLike(_ChildConsumer):
    """L2: paho -> line protocol -> InfluxDB, batches of 1,000; stored counted in InfluxDB."""

    name = "L2"

    def __init__(
        self, port: int, qos: int, user: str, password: str, influx_url: str, db: str
    ) -> None:
        super().__init__(_l2_main, (port, qos, user, password, influx_url, db))
        self.counter = InfluxCounter(influx_url, db)
        self.poller = ProbePoller(influx_url, db)

    def begin_step(self, t_first: float, rate: float) -> None:
        self.poller.start(t_first, rate)

    def delivered(self, t_first: float, t_last: float) -> int:
        return self.counter.count(t_first, t_last)

    def latencies(self) -> list[float]:
        return self.poller.stop()

    def stop(self) -> None:
        self.poller.stop()
        super().stop()
