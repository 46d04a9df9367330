"""The benchmark's message stream: valid contract v1 events from a fleet of devices.

Every event embeds its publish time as ``device_time`` (wall clock, microseconds, UTC),
so any consumer on the same machine can compute publish-to-arrival or publish-to-stored
latency from the event alone. ``seq`` is per device and grows across every step of a
run (``seq_base`` keeps runs apart), so no two events ever share an ``event_id``.

Fill events are the telemetry stream (~225 bytes: the smallest valid v1 event with the
device id, a 36-character ``boot_id`` and a microsecond timestamp is ~200 bytes, so the
issue's 100-150 bytes is below what the contract allows); weigh-ins are the money path.

>>> enc = EventEncoder("fill", fleet_ids("fill", 2), seq_base=0)
>>> p = enc.encode(1, 1_700_000_000.25)
>>> p[:40]
b'{"v":1,"device_id":"bin-0001","seq":1,"e'
>>> device_time_of(p)
1700000000.25
>>> parse_payload("fill", p).bin_id
'bin-0001'
"""

from __future__ import annotations

import calendar
import functools
import time
from datetime import UTC, datetime

from contract.models import parse_payload  # noqa: F401  (used by the doctest)
from contract.topics import Kind, device_topic

#: every bench device's MQTT password (bench brokers are private and short-lived)
DEVICE_PASSWORD = "bench-device-pw"
BOOT_ID = "6f1c2b1e-8a4e-4a1b-9c1d-2b3c4d5e6f70"
#: latency is sampled on the devices whose index is a multiple of this (1 % of them)
PROBE_EVERY = 100
CATEGORY = "plastic-pet"


def fleet_ids(kind: str, n: int) -> list[str]:
    """``bin-0000``... for fill, ``st-0000``... for weigh-ins."""
    prefix = "bin" if kind == "fill" else "st"
    return [f"{prefix}-{i:04d}" for i in range(n)]


def probe_ids(ids: list[str]) -> list[str]:
    return ids[::PROBE_EVERY]


def card_for(index: int) -> str:
    """The member card used by station ``index`` (one household per station)."""
    return f"CARD{index:06d}"


class EventEncoder:
    """Encodes the next event for a device; keeps per-device ``seq``."""

    def __init__(self, kind: str, device_ids: list[str], *, seq_base: int) -> None:
        if kind not in ("fill", "weighin"):
            raise ValueError(f"unsupported kind {kind!r}")
        self.kind = kind
        self.ids = device_ids
        self.topics = [device_topic(d, Kind(kind)).encode() for d in device_ids]
        self.seq = [seq_base] * len(device_ids)
        self._sec = -1
        self._prefix = ""
        if kind == "fill":
            self._tails = [f'","bin_id":"{d}","fill_pct":' for d in device_ids]
        else:
            self._tails = [
                f'","card_id":"{card_for(i)}","category":"{CATEGORY}","net_g":1250,'
                '"tare_g":0,"division_g":5,"protocol":"mt-sics","frames":[],"stable_ms":800}'
                for i in range(len(device_ids))
            ]

    def _time_text(self, t: float) -> str:
        sec = int(t)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{int((t - sec) * 1e6):06d}Z"

    def encode(self, index: int, t: float) -> bytes:
        """The next event of device ``index``, stamped with publish time ``t``."""
        self.seq[index] = seq = self.seq[index] + 1
        d = self.ids[index]
        head = (
            f'{{"v":1,"device_id":"{d}","seq":{seq},"event_id":"{d}:{seq}",'
            f'"device_time":"{self._time_text(t)}","clock_synced":true,'
            f'"boot_id":"{BOOT_ID}","mono_ms":{seq},"kind":"{self.kind}'
        )
        if self.kind == "fill":
            return f"{head}{self._tails[index]}{seq % 1000 / 10:.1f}}}".encode()
        return f"{head}{self._tails[index]}".encode()


_DT_KEY = b'"device_time":"'


def device_time_of(payload: bytes) -> float:
    """The publish time embedded in a bench event (seconds since the epoch)."""
    i = payload.index(_DT_KEY) + len(_DT_KEY)
    text = payload[i : i + 26].decode()
    return _epoch_seconds(text[:19]) + int(text[20:26]) / 1e6


@functools.lru_cache(maxsize=64)
def _epoch_seconds(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
