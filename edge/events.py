"""Building wire-contract events (``contract.models``) for one device.

Each builder takes the ``seq`` the outbox allocated and returns the payload bytes, so it
fits :meth:`edge.outbox.Outbox.append` directly::

    events = EventFactory("st-bank01", clock)
    seq = outbox.append("weighin", events.weighin(net_g=1250, division_g=10, ...))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from contract.models import (
    MAX_FRAMES,
    DeviceConfig,
    EventBase,
    Fill,
    Health,
    SensorFault,
    Weighin,
    to_json,
)
from edge.clock import Clock
from edge.outbox import ChainHead

if TYPE_CHECKING:
    from edge.identity import Signer

Builder = Callable[[int], bytes]
#: a signed weigh-in's builder: (seq, chain head) -> (payload, new head)
ChainedBuilder = Callable[[int, ChainHead], tuple[bytes, ChainHead]]


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
        """An unsigned weigh-in (a device without a key; tests)."""
        fields = _weighin_fields(net_g, division_g, protocol, category, card_id, tare_g, frames)

        def build(seq: int) -> bytes:
            return to_json(Weighin(**self._base(seq), stable_ms=stable_ms, **fields))

        return build

    def signed_weighin(
        self,
        signer: Signer,
        *,
        net_g: int,
        division_g: int,
        protocol: str,
        category: str,
        card_id: str | None = None,
        tare_g: int = 0,
        frames: Sequence[bytes] = (),
        stable_ms: int = 0,
    ) -> ChainedBuilder:
        """A weigh-in sealed by ``signer`` as the next record of its chain
        (for :meth:`edge.outbox.Outbox.append_chained`)."""
        fields = _weighin_fields(net_g, division_g, protocol, category, card_id, tare_g, frames)

        def build(seq: int, head: ChainHead) -> tuple[bytes, ChainHead]:
            weighin = Weighin(**self._base(seq), stable_ms=stable_ms, **fields)
            return signer.seal(weighin, head)

        return build

    def config(self, fields: dict[str, Any]) -> Builder:
        """An entry of the configuration log (:class:`contract.models.DeviceConfig`)."""

        def build(seq: int) -> bytes:
            return to_json(DeviceConfig(**self._base(seq), **fields))

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


def _weighin_fields(
    net_g: int,
    division_g: int,
    protocol: str,
    category: str,
    card_id: str | None,
    tare_g: int,
    frames: Sequence[bytes],
) -> dict[str, Any]:
    return {
        "card_id": card_id,
        "category": category,
        "net_g": net_g,
        "tare_g": tare_g,
        "division_g": division_g,
        "protocol": protocol,
        "frames": [f.hex() for f in frames if 0 < len(f) <= 256][-MAX_FRAMES:],
    }
