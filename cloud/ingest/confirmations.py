"""What ingest tells devices they may forget: ``ack`` messages, coalesced per device.

Every event of a batch the processor made durable (applied, or kept as a dead letter) is
confirmed to its device, except a weigh-in its receipt already answers. Seqs are gathered
per device for ``interval_s`` and sent as ranges (:meth:`contract.Ack.for_seqs`): a bin
that reports once a minute costs one small message per reading, a busy device far less.
A lost ack only makes the device send the event again (idempotent), so acks are
published at QoS 0 (``contract.TOPIC_SPECS``; docs/contract.md, "Delivery") and never
waited for: the device's outbox keeps an event until an ack for it arrives.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

from contract.models import Ack, to_json
from contract.topics import Kind, device_topic

#: the first ``"seq":`` of a payload (our agents put ``seq`` before any free-text field;
#: a device can only mislead the confirmations of its own events)
_SEQ = re.compile(rb'"seq"\s*:\s*(\d{1,19})[,}\s]')
#: upstream kinds confirmed with an ``ack`` unless a receipt answered them
_EVENT_KINDS = frozenset(
    {Kind.WEIGHIN.value, Kind.FILL.value, Kind.HEALTH.value, Kind.CONFIG.value}
)


def event_seq(payload: bytes) -> int | None:
    m = _SEQ.search(payload, 0, 400)
    return int(m.group(1)) if m and int(m.group(1)) >= 1 else None


class Confirmations:
    """Seqs waiting to be acknowledged to their devices (one processing thread uses it)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._pending: dict[str, set[int]] = {}
        self._due: float | None = None

    def add(
        self, messages: Iterable[tuple[str, bytes]], receipts: Sequence[tuple[str, bytes]]
    ) -> None:
        """The ``(topic, payload)`` of a durable batch, and the receipts it produced."""
        receipted = {f"{t.rsplit('/', 2)[1]}:{event_seq(p)}" for t, p in receipts}
        for topic, payload in messages:
            parts = topic.rsplit("/", 2)
            if len(parts) != 3 or parts[2] not in _EVENT_KINDS:
                continue
            seq = event_seq(payload)
            if seq is None or (parts[2] == Kind.WEIGHIN and f"{parts[1]}:{seq}" in receipted):
                continue
            self._pending.setdefault(parts[1], set()).add(seq)
        if self._pending and self._due is None:
            self._due = time.monotonic() + self.interval_s

    def due(self, now: float) -> bool:
        return self._due is not None and now >= self._due

    def take(self) -> list[tuple[str, bytes]]:
        """The ``(topic, payload)`` of every ack to publish now; forgets them."""
        pending, self._pending, self._due = self._pending, {}, None
        return [
            (device_topic(device_id, Kind.ACK), to_json(ack))
            for device_id, seqs in pending.items()
            for ack in Ack.for_seqs(device_id, seqs)
        ]
