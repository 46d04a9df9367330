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
import hashlib
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from contract.models import parse_payload  # noqa: F401  (used by the doctest)
from contract.topics import Kind, device_topic

#: every bench device's MQTT password (bench brokers are private and short-lived)
DEVICE_PASSWORD = "bench-device-pw"
BOOT_ID = "6f1c2b1e-8a4e-4a1b-9c1d-2b3c4d5e6f70"
#: latency is sampled on the devices whose index is a multiple of this (1 % of them)
PROBE_EVERY = 100
CATEGORY = "plastic-pet"
#: the A&D indicator frames of 1,250 g a signed bench weigh-in carries (re-parsed by ingest)
SIGNED_FRAMES = [b"ST,GS,+001.250kg".hex()] * 3


def fleet_ids(kind: str, n: int) -> list[str]:
    """``bin-0000``... for fill, ``st-0000``... for weigh-ins."""
    prefix = "bin" if kind == "fill" else "st"
    return [f"{prefix}-{i:04d}" for i in range(n)]


def probe_ids(ids: list[str]) -> list[str]:
    return ids[::PROBE_EVERY]


#: what a signed bench weigh-in names as its build and configuration (approved in the ledger)
SW_HASH = "b" * 64
CONFIG_HASH = "c" * 64


def bench_key(device_id: str) -> Any:
    """The device's signing key (``edge.identity.DeviceKey``), derived from its id, so the
    fleet and the ledger's preparation agree without talking."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.identity import DeviceKey

    seed = hashlib.sha256(f"salinmas-bench:{device_id}".encode()).digest()
    return DeviceKey(Ed25519PrivateKey.from_private_bytes(seed))


def card_for(index: int) -> str:
    """The member card used by station ``index`` (one household per station)."""
    return f"CARD{index:06d}"


class EventEncoder:
    """Encodes the next event for a device; keeps per-device ``seq``."""

    def __init__(
        self, kind: str, device_ids: list[str], *, seq_base: int, signed: bool = False
    ) -> None:
        if kind not in ("fill", "weighin"):
            raise ValueError(f"unsupported kind {kind!r}")
        self.kind = kind
        self.signed = signed and kind == "weighin"
        if self.signed:  # each station signs with its key, chained (edge.identity.Signer)
            from edge.identity import Signer
            from edge.outbox import ChainHead

            self._signers = [Signer(bench_key(d), SW_HASH, CONFIG_HASH) for d in device_ids]
            self._heads = [ChainHead(0, "")] * len(device_ids)
            self._ready: list[deque[bytes]] = [deque() for _ in device_ids]
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

    def prepare(self, count: int) -> None:
        """Sign the next ``count`` weigh-ins ahead (round robin), outside the timed part:
        signing is the station's work, not the publisher's. No-op unsigned."""
        if not self.signed:
            return
        per = count // len(self.ids) + 1
        now = time.time()
        for i in range(len(self.ids)):
            while len(self._ready[i]) < per:
                self._ready[i].append(self._sign(i, now))

    def _sign(self, index: int, t: float) -> bytes:
        from contract.models import Weighin

        self.seq[index] = seq = self.seq[index] + 1
        d = self.ids[index]
        w = Weighin(
            device_id=d, seq=seq, event_id=f"{d}:{seq}",
            device_time=datetime.fromisoformat(self._time_text(t)), clock_synced=True,
            boot_id=uuid.UUID(BOOT_ID), mono_ms=seq, card_id=card_for(index), category=CATEGORY,
            net_g=1250, division_g=5, protocol="and_indicator", frames=SIGNED_FRAMES,
            stable_ms=800,
        )  # fmt: skip
        payload, self._heads[index] = self._signers[index].seal(w, self._heads[index])
        return payload

    def encode(self, index: int, t: float) -> bytes:
        """The next event of device ``index``, stamped with publish time ``t``."""
        if self.signed:
            ready = self._ready[index]
            return ready.popleft() if ready else self._sign(index, t)
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
