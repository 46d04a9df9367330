"""Building wire-contract events (``contract.models``) for one device.

Each builder takes the ``seq`` the outbox allocated and returns the payload bytes, so it
fits :meth:`edge.outbox.Outbox.append` directly::

    events = EventFactory("st-bank01", clock)
    seq = outbox.append("weighin", events.weighin(net_g=1250, division_g=10, ...))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contract.models import MAX_FRAMES, EventBase, Fill, Health, SensorFault, Weighin, to_json
from edge.clock import Clock

Builder = Callable[[int], bytes]


class EventFactory:
    """Stamps events with the device id, seq, event id and the clock fields."""

    def __init__(self, device_id: str, clock: Clock) -> None:
        self.device_id = device_id
        self.clock = clock

    def _base(self, seq: int) -> dict[str, object]:
        stamp = self.clock.stamp()
        return {
            "device_id": self.device_id,
            "seq": seq,
            "event_id": EventBase.make_event_id(self.device_id, seq),
            "device_time": stamp.device_time,
            "clock_synced": stamp.clock_synced,
            "boot_id": stamp.boot_id,
            "mono_ms": stamp.mono_ms,
        }

    def weighin(
        self,
        *,
        net_g: int,
        division_g: int,
        protocol: str,
        category: str,
        card_id: str | None = None,
        tare_g: int = 0,
        frames: Sequence[bytes] = (),
        stable_ms: int = 0,
    ) -> Builder:
        hex_frames = [f.hex() for f in frames if 0 < len(f) <= 256][-MAX_FRAMES:]

        def build(seq: int) -> bytes:
            return to_json(
                Weighin(
                    **self._base(seq),
                    card_id=card_id,
                    category=category,
                    net_g=net_g,
                    tare_g=tare_g,
                    division_g=division_g,
                    protocol=protocol,
                    frames=hex_frames,
                    stable_ms=stable_ms,
                )
            )

        return build

    def fill(
        self,
        *,
        bin_id: str,
        fill_pct: float | None,
        distance_mm: int | None = None,
        fault: SensorFault | None = None,
        lid_open: bool | None = None,
        tilted: bool | None = None,
    ) -> Builder:
        def build(seq: int) -> bytes:
            return to_json(
                Fill(
                    **self._base(seq),
                    bin_id=bin_id,
                    fill_pct=fill_pct,
                    distance_mm=distance_mm,
                    fault=fault,
                    lid_open=lid_open,
                    tilted=tilted,
                )
            )

        return build

    def health(self, fields: dict[str, object]) -> Builder:
        def build(seq: int) -> bytes:
            return to_json(Health(**self._base(seq), **fields))

        return build
