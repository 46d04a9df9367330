"""An ingest process takes what it built to start out of the cyclic GC's walks.

A full collection walks every container object of the process; the ~120,000 a worker
holds from its start made each one a ~40 ms stall of the weigh-in path (issue 21).
:func:`cloud.ingest.lifecycle.run` collects once and freezes them after starting the
worker (:func:`cloud.ingest.lifecycle.settle_heap`).

mutant: run() not calling settle_heap() -> nothing frozen -> fails
mutant: settle_heap() freezing without collecting first -> the garbage made by the start
  (a reference cycle dropped before the freeze) frozen for good -> fails
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cloud.ingest.lifecycle import run, settle_heap
from tests.cloud.mqtt_support import ingest_settings
from tests.support.services import MosquittoServer

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:  # SQLite is enough here
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The freeze is the process's: undone before and after each test."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic GC frees it


@pytest.mark.usefixtures("unfrozen")
def test_settle_heap_collects_then_freezes() -> None:
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    settle_heap()
    assert gone() is None  # collected, not frozen with the rest
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("unfrozen")
def test_run_freezes_the_started_worker_heap(
    mosquitto: MosquittoServer, session: Session, ledger_url: str, tmp_path: Path
) -> None:
    assert gc.get_freeze_count() == 0
    settings = ingest_settings(mosquitto, ledger_url, tmp_path, takeover_after_s=0)
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(run(settings, stop)), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while gc.get_freeze_count() == 0 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert gc.get_freeze_count() > 0
    finally:
        stop.set()
        thread.join(30)
    assert codes == [0]
