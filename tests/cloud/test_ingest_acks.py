"""The worker's batching and acknowledgement rules, without a broker (no I/O needed).

A committed batch is acknowledged only once the broker took its receipts (or after
``RECEIPT_WAIT_S``), batches strictly oldest first, while the processing thread goes on
with the next batch; a trickle of messages is not held back for ``batch_linger_s``.

mutant: ack a batch without waiting for its receipts' PUBACKs -> batch 1 acked early -> fails
mutant: ack whichever batch's receipts were taken, in any order -> 2 before 1 -> fails
mutant: no deadline (wait for a PUBACK forever) -> the stalled batch is never acked -> fails
mutant: final=True not waiting for what is left -> the last batch is left unacked -> fails
mutant: linger the whole batch_linger_s whatever arrives -> the trickle waits 30 s -> fails
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from paho.mqtt.client import MQTTMessageInfo

from cloud.ingest import IngestSettings
from cloud.ingest.worker import IngestWorker, _Item, _Unacked
from cloud.telemetry import TelemetrySettings


class _Recording(IngestWorker):
    """A worker that records what it acknowledges instead of sending PUBACKs."""

    def __init__(self, settings: IngestSettings) -> None:
        super().__init__(settings)
        self.acked: list[list[int]] = []

    def _ack(self, batch: list[_Item]) -> None:
        self.acked.append([i.mid for i in batch])


def _worker(tmp_path: Path, *, linger_s: float = 0.05, gap_s: float = 0.002) -> _Recording:
    settings = IngestSettings.load(
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        telemetry=TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "telemetry.db"),
        batch_linger_s=linger_s,
        batch_gap_s=gap_s,
    )
    w = _Recording(settings)
    w._connected = True  # as after a CONNACK (nothing is sent: _ack is recorded)
    return w


def _item(mid: int) -> _Item:
    return _Item("salinmas/v1/dev/st-1/weighin", b"{}", time.time(), False, mid, 1, 1)


def _pending(mid: int, receipt: MQTTMessageInfo, deadline_s: float = 60) -> _Unacked:
    return _Unacked([_item(mid)], [receipt], time.monotonic() + deadline_s)


def test_batches_are_acked_oldest_first_once_their_receipts_are_taken(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    try:
        first, second = MQTTMessageInfo(1), MQTTMessageInfo(2)
        w._unacked.extend([_pending(11, first), _pending(12, second)])
        second._set_as_published()
        w._ack_ready()
        assert w.acked == []  # the older batch still waits for its receipt
        first._set_as_published()
        w._ack_ready()
        assert w.acked == [[11], [12]]

        # a receipt the broker never takes: the batch is acked at its deadline
        w._unacked.append(_pending(13, MQTTMessageInfo(3), deadline_s=-1))
        w._ack_ready()
        assert w.acked[-1] == [13]

        # stopping: what still waits is waited for (here: taken meanwhile), then acked
        late = MQTTMessageInfo(4)
        w._unacked.append(_pending(14, late, deadline_s=30))
        threading.Timer(0.05, late._set_as_published).start()
        w._ack_ready(final=True)
        assert w.acked[-1] == [14]
        assert not w._unacked
    finally:
        w.store.close()


def test_a_trickle_is_not_held_back_for_the_linger(tmp_path: Path) -> None:
    """Three messages and nothing after them: the batch is taken after one quiet gap, not
    after ``batch_linger_s`` (30 s here; the bound below is a hang guard, not a timing)."""
    w = _worker(tmp_path, linger_s=30.0, gap_s=0.002)
    try:
        w._queue.extend(_item(m) for m in (1, 2, 3))
        t0 = time.monotonic()
        batch = w._next_batch()
        assert [i.mid for i in batch] == [1, 2, 3]
        assert time.monotonic() - t0 < 15
    finally:
        w.store.close()
