"""The regency's devices replaying a window of a day, time-accelerated, in their own process.

:func:`schedule` lists every event of the window (station weigh-ins, collectors'
doorstep weigh-ins, bin fill levels every 5 minutes, heartbeats every 5 minutes) from
:class:`simulators.regency.Regency`; :class:`ReplayFleet` connects one MQTT session per
device on its own account (the broker's ACL confines it to its own topics, as in the
field; stations and collectors' scales subscribe to their receipts), then publishes each
event at ``go + (t - start) / speed`` (QoS 1), stamped with the wall clock (device time =
publish time, so the clock rule takes it as is). Payloads come from
:class:`simulators.regency_devices.WireEncoder` (byte-equal to the contract's own).

A reader thread counts PUBACKs and times each receipt against its weigh-in's publish
(publish-to-credited: ingest publishes a receipt only after the credit committed). The
publisher records how late it ran behind its schedule, so a run where the *bench* could
not keep the pace says so instead of passing for a slow system.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench import mqttraw
from bench.publisher import SessionReader
from bench.stream import DEVICE_PASSWORD
from contract.topics import Kind, device_topic
from simulators.regency import BIN_REPORT_S, EMPTY_DEPTH_MM, Regency, RegencyConfig
from simulators.regency_devices import WireEncoder

WEIGHIN, FILL, HEALTH = 0, 1, 2
#: heartbeat interval of every device (the edge's ``health_interval_s`` default)
HEALTH_S = 300.0


@dataclass(frozen=True)
class Plan:
    """What one fleet replays: the regency, the window (epoch s) and the pace."""

    config: RegencyConfig
    start: float
    end: float
    speed: float
    #: bins with a connection (evenly spread over the regency); the others stay silent
    bins_connected: int


def device_ids(r: Regency, bins_connected: int) -> tuple[list[str], list[int]]:
    """Ids of the connected devices (stations, collectors' scales, bins) and the bins'
    indices in the regency."""
    n = r.config.bins
    bins = sorted({round(i * n / bins_connected) for i in range(bins_connected)} - {n})
    ids = [r.station_id(j) for j in range(r.config.stations)]
    ids += [r.collector_device(c) for c in range(r.config.collectors)]
    ids += [r.bin_id(k) for k in bins]
    return ids, bins


def reports(phase_s: float, every_s: float, start: float, end: float) -> Iterator[float]:
    """When a device that reports every ``every_s`` at ``phase_s`` into each interval
    reports with ``start <= t < end`` (epoch seconds)."""
    t = start + (phase_s - start) % every_s
    while t < end:
        yield t
        t += every_s


def schedule(r: Regency, plan: Plan) -> list[tuple[float, int, int, Any, Any, Any]]:
    """``(t, device index, kind, a, b, c)`` of every event in the window, in time order:
    weigh-ins ``(card, category, net_g)``, fills ``(bin index, -, -)``, heartbeats."""
    from datetime import UTC, datetime

    start, end = (datetime.fromtimestamp(x, UTC) for x in (plan.start, plan.end))
    ids, bins = device_ids(r, plan.bins_connected)
    stations, collectors = r.config.stations, r.config.collectors
    ev: list[tuple[float, int, int, Any, Any, Any]] = []
    for w in r.weighins(start, end):
        ev.append((w.t, w.station, WEIGHIN, r.card_id(w.household), w.category, w.net_g))
    for d in r.doorstep_due(start, end):
        for n, (cat, grams) in enumerate(d.bags):
            ev.append(
                (d.done + n, stations + d.collector, WEIGHIN, r.card_id(d.household), cat, grams)
            )
    first = stations + collectors
    for i, k in enumerate(bins):
        for t in reports(r.bins[k].phase_s, BIN_REPORT_S, plan.start, plan.end):
            ev.append((t, first + i, FILL, k, None, None))
    for i, phase in enumerate(r.health_phases(len(ids))):
        for t in reports(phase * HEALTH_S, HEALTH_S, plan.start, plan.end):
            ev.append((t, i, HEALTH, None, None, None))
    ev.sort(key=lambda e: e[0])
    return ev


@dataclass
class ReplayResult:
    sent: dict[str, int] = field(default_factory=dict)
    acked: int = 0
    t_first: float = 0.0
    t_last: float = 0.0
    #: how far the publisher ran behind its schedule (s): p99 and max
    late_p99_s: float = 0.0
    late_max_s: float = 0.0
    #: publish-to-receipt seconds of every weigh-in that got its receipt
    latencies: list[float] = field(default_factory=list)
    #: (publish wall time, publish-to-receipt seconds) of each of them, for the plot
    timeline: list[tuple[float, float]] = field(default_factory=list)
    #: publish wall time of every weigh-in, answered or not
    weighins_at: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    last_receipt: float = 0.0


class ReplayFleet:
    def __init__(self, host: str, port: int, plan: Plan) -> None:
        self.plan = plan
        self.r = Regency(plan.config)
        self.ids, _ = device_ids(self.r, plan.bins_connected)
        self.n_scales = plan.config.stations + plan.config.collectors
        self.socks: list[socket.socket] = []
        for i, dev in enumerate(self.ids):
            sock = mqttraw.open_connection(host, port, dev, dev, DEVICE_PASSWORD, timeout_s=60)
            if i < self.n_scales:
                sock.sendall(mqttraw.subscribe_packet(1, device_topic(dev, Kind.RECEIPT), 0))
            self.socks.append(sock)
            if i % 200 == 199:
                time.sleep(0.02)  # let the broker breathe while thousands log in
        self.events = schedule(self.r, plan)
        self.sent_at: dict[str, float] = {}
        self.reader = SessionReader(self.socks)

    def counts(self) -> dict[str, int]:
        names = ("weighin", "fill", "health")
        out = dict.fromkeys(names, 0)
        for e in self.events:
            out[names[e[2]]] += 1
        return out

    def replay(self, go: float, drain_s: float) -> ReplayResult:
        """Publish the window from wall time ``go``; then wait up to ``drain_s`` for the
        PUBACKs and receipts still due."""
        p, r = self.plan, self.r
        enc = WireEncoder(self.ids, boot_at=go - 86_400, seq_base=0)
        topics = [
            [device_topic(d, k).encode() for k in (Kind.WEIGHIN, Kind.FILL, Kind.HEALTH)]
            for d in self.ids
        ]
        pids = [0] * len(self.ids)
        res = ReplayResult(sent={"weighin": 0, "fill": 0, "health": 0})
        late: list[float] = []
        publish = mqttraw.publish_packet
        while time.time() < go:
            time.sleep(min(0.05, max(0.0, go - time.time())))
        res.t_first = time.time()
        for t, dev, kind, a, b, c in self.events:
            due = go + (t - p.start) / p.speed
            now = time.time()
            if due > now + 0.001:
                time.sleep(due - now)
                now = time.time()
            late.append(max(0.0, now - due))
            if kind == WEIGHIN:
                payload = enc.weighin(dev, now, a, b, c)
                self.sent_at[f"{self.ids[dev]}:{enc.last_seq(dev)}"] = now
                res.weighins_at.append(now)
                res.sent["weighin"] += 1
            elif kind == FILL:
                pct = r.fill_level(a, t)
                payload = enc.fill(dev, now, pct, round(EMPTY_DEPTH_MM * (1 - pct / 100)))
                res.sent["fill"] += 1
            else:
                payload = enc.health(dev, now)
                res.sent["health"] += 1
            pids[dev] = pids[dev] % 65535 + 1
            self.socks[dev].sendall(publish(topics[dev][kind], payload, qos=1, packet_id=pids[dev]))
        res.t_last = time.time()
        late.sort()
        if late:
            res.late_p99_s, res.late_max_s = late[int(0.99 * (len(late) - 1))], late[-1]
        total = sum(res.sent.values())
        deadline = time.monotonic() + drain_s
        last_change, seen = time.monotonic(), -1
        while time.monotonic() < deadline:
            self._take(res)
            done = len(res.latencies)
            if self.reader.acked >= total and done >= res.sent["weighin"]:
                break
            if done != seen:
                seen, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > 180:
                break  # nothing new for 3 minutes: report what arrived
            time.sleep(0.1)
        self._take(res)
        res.acked = self.reader.acked
        return res

    def _take(self, res: ReplayResult) -> None:
        got = self.reader.take()
        for arrival, payload in got:
            rec = json.loads(payload)
            sent = self.sent_at.pop(rec["event_id"], None)
            if sent is None:
                continue  # a repeated receipt (redelivery): counted once
            res.latencies.append(arrival - sent)
            res.timeline.append((sent, arrival - sent))
            res.statuses[str(rec["status"])] = res.statuses.get(str(rec["status"]), 0) + 1
            res.last_receipt = max(res.last_receipt, arrival)

    def close(self) -> None:
        self.reader.close()


def _serve(conn: Connection, host: str, port: int, plan: Plan) -> None:
    try:
        fleet = ReplayFleet(host, port, plan)
    except Exception as exc:  # report the failure to the parent instead of hanging it
        conn.send({"error": repr(exc)})
        return
    conn.send({"ready": True, "counts": fleet.counts(), "connections": len(fleet.socks)})
    try:
        cmd: dict[str, Any] = conn.recv()
        conn.send(asdict(fleet.replay(cmd["go"], cmd["drain_s"])))
    except Exception as exc:  # tell the parent rather than dying silently
        conn.send({"error": repr(exc)})
    finally:
        fleet.close()


class ReplayProcess:
    """A :class:`ReplayFleet` in a child process (its own interpreter and core)."""

    def __init__(self, host: str, port: int, plan: Plan) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, host, port, plan), name="replay")
        self.proc.start()
        hello: dict[str, Any] = self._conn.recv()
        if "error" in hello:
            self.proc.join(5)
            raise mqttraw.MqttError(f"replay fleet failed to connect: {hello['error']}")
        self.counts: dict[str, int] = hello["counts"]
        self.connections: int = hello["connections"]

    @property
    def pid(self) -> int:
        return self.proc.pid or 0

    def replay(self, go: float, drain_s: float) -> ReplayResult:
        self._conn.send({"go": go, "drain_s": drain_s})
        answer = self._conn.recv()
        if "error" in answer:
            raise mqttraw.MqttError(f"replay failed: {answer['error']}")
        return ReplayResult(**answer)

    def close(self) -> None:
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
