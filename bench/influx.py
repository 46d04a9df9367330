"""Reading back what reached InfluxDB: counts per step and probe latencies.

Counting. Points carry the event's device time (whole milliseconds plus ``seq mod
10**6`` ns, see :mod:`cloud.telemetry.base`), which the bench sets to the publish time,
so the points of one step are exactly those with a time between its first and last
publish: ``SELECT count("seq") FROM "fill" WHERE time >= ... AND time < ...``.

Latency (publish-to-stored). InfluxDB keeps no arrival time per point, so
:class:`ProbePoller` asks every ``interval_s`` (25 ms) for the new points of the probe
devices (see :class:`ProbePoller`) and
stamps each new point with the midpoint between the previous poll and this one: the
moment it became visible to queries, within +/- half a poll interval. Latency = that
moment minus the point's time (the publish time, truncated to the millisecond).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from typing import Any

from bench.stream import fleet_ids

#: probe points sampled per second (about)
PROBE_RATE = 250.0


def _ns_floor_ms(t: float) -> int:
    return int(t * 1000) * 1_000_000


class _Http:
    def __init__(self, url: str, db: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port, self.db = host, int(port), db
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def query(self, q: str) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"db": self.db, "q": q, "epoch": "ns"})
        for attempt in range(3):
            try:
                self.conn.request("GET", f"/query?{params}")
                r = self.conn.getresponse()
                body = r.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                if attempt == 2:
                    raise
                time.sleep(0.1)
        results: list[dict[str, Any]] = json.loads(body).get("results", [])
        return results

    def close(self) -> None:
        self.conn.close()


class InfluxCounter:
    """Counts the stored points of the stream between two publish times."""

    def __init__(self, url: str, db: str, measurement: str = "fill") -> None:
        self.http = _Http(url, db)
        self.measurement = measurement

    def count(self, t_first: float, t_last: float) -> int:
        lo, hi = _ns_floor_ms(t_first), _ns_floor_ms(t_last) + 2_000_000
        res = self.http.query(
            f'SELECT count("seq") FROM "{self.measurement}" WHERE time >= {lo} AND time < {hi}'
        )
        for r in res:
            for s in r.get("series", []):
                return int(s["values"][0][1])
        return 0


class ProbePoller:
    """Samples publish-to-stored latency on probe devices while a step runs.

    The probe set is every ``stride``-th device, ``stride`` chosen from the offered rate so
    that about :data:`PROBE_RATE` points a second are sampled (all devices at low rates).
    Each poll asks for the probe points newer than (newest seen - ``window_s``), grouped
    by device; points already seen are skipped. A point stored later than ``window_s``
    after a newer probe point of the same step is missed (only under overload).
    """

    def __init__(
        self,
        url: str,
        db: str,
        *,
        kind: str = "fill",
        n_devices: int = 1000,
        interval_s: float = 0.04,
        window_s: float = 3.0,
    ) -> None:
        self.http = _Http(url, db)
        self.measurement = kind
        self.ids = fleet_ids(kind, n_devices)
        self.interval_s = interval_s
        self.window_ns = int(window_s * 1e9)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._samples: list[float] = []
        self._seen: set[tuple[str, int]] = set()
        self.errors = 0

    def start(self, t_first: float, rate: float = 1000.0) -> None:
        self.stop()
        self._stop.clear()
        self._samples, self._seen = [], set()
        stride = max(1, min(len(self.ids), round(rate / PROBE_RATE)))
        if stride == 1:
            self._filter = ""
        else:
            alt = "|".join(d.partition("-")[2] for d in self.ids[::stride])
            prefix = self.ids[0].partition("-")[0]
            self._filter = f'AND "device" =~ /^{prefix}-({alt})$/ '
        self._newest = _ns_floor_ms(t_first) - 1
        self._floor = self._newest
        self._thread = threading.Thread(target=self._run, name="probe-poller", daemon=True)
        self._thread.start()

    def _poll(self, stamp: float) -> None:
        lo = max(self._floor, self._newest - self.window_ns)
        q = (
            f'SELECT "seq" FROM "{self.measurement}" WHERE time > {lo} {self._filter}'
            'GROUP BY "device"'
        )
        for res in self.http.query(q):
            if "error" in res:
                self.errors += 1
                continue
            for s in res.get("series", []):
                dev = s.get("tags", {}).get("device", "")
                for row in s["values"]:
                    t = int(row[0])
                    if (dev, t) in self._seen:
                        continue
                    self._seen.add((dev, t))
                    self._newest = max(self._newest, t)
                    self._samples.append(stamp - (t // 1_000_000) / 1000)

    def _run(self) -> None:
        prev = time.time()
        while not self._stop.wait(self.interval_s):
            now = time.time()
            try:
                self._poll((prev + now) / 2)
            except (OSError, http.client.HTTPException, ValueError):
                self.errors += 1
            prev = now

    def stop(self) -> list[float]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(5)
            self._thread = None
        return self._samples
