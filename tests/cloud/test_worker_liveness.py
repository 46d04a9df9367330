"""An ingest worker whose processing thread dies is noticed: the process exits with 1.

Before, an exception in ``_publish_receipts`` or ``_ack`` ended the processing thread and
the worker went on holding its broker session, receiving and never processing. Now
:func:`cloud.ingest.lifecycle.supervise` (what ``salinmas ingest run`` waits in) returns 1 as
soon as a thread died, and systemd restarts the process; the broker redelivers what was
not acknowledged.

mutant: supervise() not checking the worker's threads -> returns 0 at the deadline -> fails
mutant: the processing loop swallowing the exception and going on -> fails
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cloud.devices import register_device
from cloud.ingest import IngestWorker
from cloud.ingest.lifecycle import supervise
from cloud.ingest.worker import _Item
from cloud.pickups import register_bin
from contract import Kind
from tests.cloud.factories import fill
from tests.cloud.mqtt_support import device, ingest_settings, unique_id
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration


class _AckFails(IngestWorker):
    """A worker whose acknowledgement raises (a bug, or paho misbehaving)."""

    def _ack(self, batch: list[_Item]) -> None:
        raise RuntimeError("ack exploded")


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:  # SQLite is enough here
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_a_dead_processing_thread_makes_the_worker_exit_non_zero(
    mosquitto: MosquittoServer, session: Session, ledger_url: str, tmp_path: Path
) -> None:
    bin_id = unique_id("bn")
    register_device(session, device_id=bin_id, kind="bin")
    register_bin(session, bin_id=bin_id, device_id=bin_id)
    session.commit()
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, takeover_after_s=0)
    worker = _AckFails(settings)
    worker.start()
    deadline = threading.Event()
    timer = threading.Timer(20, deadline.set)  # supervise() returns 0 when it is set
    timer.start()
    try:
        assert worker.wait_subscribed(10)
        assert worker.healthy
        with device(mosquitto, bin_id) as dev:
            dev.publish(Kind.FILL, fill(bin_id, seq=1))
            assert supervise(worker, deadline, poll_s=0.05) == 1
        assert not deadline.is_set()  # noticed at once, not at the deadline
        assert isinstance(worker.failure, RuntimeError)
        assert not worker.healthy
    finally:
        timer.cancel()
        worker.stop()
