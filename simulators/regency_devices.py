"""What the regency's devices put on the wire: contract v1 payloads, cheaply, by the million.

A replay of one busy day of the regency publishes ~12 million events (fill levels and
heartbeats of 22,000 devices, 78,600 weigh-ins); building each through the contract's
models costs ~20 us, more than the bench may spend on a 2-core machine beside the system it
measures. :class:`WireEncoder` fills string templates instead (~2 us) and writes exactly
the bytes :func:`contract.models.to_json` writes for the same event — the contract's own
serialiser is the oracle a test compares against, byte for byte, for every kind
(``tests/simulators/test_regency.py``), so this is no second definition of the format.

Each device keeps its ``seq`` (per device, never reused), a ``boot_id`` and the monotonic
milliseconds since its boot, as the edge agent does.

>>> enc = WireEncoder(["st-0001"], boot_at=1_764_550_000.0, seq_base=0)
>>> enc.weighin(0, 1_764_550_100.5, "1B00005A17", "organic", 1230)[:48]
b'{"v":1,"device_id":"st-0001","seq":1,"event_id":"'
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

#: the sw_version the simulated devices report
SW_VERSION = "0.9.0"
OUTBOX_CAPACITY = 50_000


class WireEncoder:
    """Payloads of the devices ``ids`` (their index in ``ids`` names them below)."""

    def __init__(self, ids: list[str], *, boot_at: float, seq_base: int) -> None:
        self.ids = ids
        self.seq = [seq_base] * len(ids)
        self.boot_at = boot_at
        # one boot per device, as after a power cut of the whole regency at ``boot_at``
        self._boot = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{d}:{boot_at}")) for d in ids]
        self._sec = -1
        self._prefix = ""

    def _time(self, t: float) -> str:
        sec = int(t)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{round((t - sec) * 1e6) % 1_000_000:06d}Z"

    def _head(self, i: int, t: float, kind: str) -> tuple[int, str]:
        self.seq[i] = seq = self.seq[i] + 1
        d = self.ids[i]
        mono_ms = max(0, int((t - self.boot_at) * 1000))
        return seq, (
            f'{{"v":1,"device_id":"{d}","seq":{seq},"event_id":"{d}:{seq}",'
            f'"device_time":"{self._time(t)}","clock_synced":true,"boot_id":"{self._boot[i]}",'
            f'"mono_ms":{mono_ms},"kind":"{kind}"'
        )

    def weighin(self, i: int, t: float, card_id: str, category: str, net_g: int) -> bytes:
        """A station's weigh-in (``division_g`` 10, the frames left out)."""
        _, head = self._head(i, t, "weighin")
        return (
            f'{head},"card_id":"{card_id}","category":"{category}","net_g":{net_g},'
            '"tare_g":0,"division_g":10,"protocol":"mtsics","frames":[],"stable_ms":1200,'
            '"public_key":null,"chain_pos":null,"prev_hash":null,"sw_hash":null,'
            '"config_hash":null,"signature":null}'  # unsigned: the signing fields null
        ).encode()

    def fill(self, i: int, t: float, fill_pct: float, distance_mm: int) -> bytes:
        """A bin's level; the bin is its own device (``bin_id`` = device id)."""
        _, head = self._head(i, t, "fill")
        return (
            f'{head},"bin_id":"{self.ids[i]}","fill_pct":{fill_pct!r},'
            f'"distance_mm":{distance_mm},"fault":null,"lid_open":null,"tilted":null}}'
        ).encode()

    def health(self, i: int, t: float) -> bytes:
        """A heartbeat: uptime since ``boot_at``, an empty outbox."""
        _, head = self._head(i, t, "health")
        uptime = max(0, int(t - self.boot_at))
        return (
            f'{head},"sw_version":"{SW_VERSION}","uptime_s":{uptime},"load1":0.2,'
            '"mem_used_pct":38.5,"disk_free_pct":71.0,"cpu_temp_c":null,"outbox_depth":0,'
            f'"outbox_capacity":{OUTBOX_CAPACITY},"weighins_refused":null,'
            '"telemetry_thinned":null,"in_reply_to":null,"sw_hash":null,"config_hash":null,'
            '"public_key":null}'
        ).encode()

    def last_seq(self, i: int) -> int:
        return self.seq[i]
