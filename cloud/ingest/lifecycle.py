"""Running an ingest worker as a process, and retiring one by hand.

``salinmas ingest run`` is :func:`run`: start a worker, wait in :func:`supervise` until
SIGTERM/SIGINT (exit 0 after the batch in hand) or until one of the worker's threads died
(exit 1: systemd restarts the process; the broker redelivers what was not acknowledged).
``salinmas ingest retire`` is :func:`retire`: drain a stopped worker's session
(:func:`drain_session`, also what a survivor does for a dead peer, see
:mod:`cloud.ingest.takeover`), then end it (:func:`end_session`).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from cloud.ingest.settings import IngestSettings
from cloud.ingest.worker import IngestWorker, endpoint
from cloud.telemetry import TelemetryWriter
from salinmas.mqtt import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Drained:
    processed: int
    #: True when nothing more arrived for ``idle_s``; False if the connection was taken
    #: (the worker came back), lost, or the time ran out
    drained: bool


def drain_session(
    settings: IngestSettings,
    *,
    store: TelemetryWriter | None = None,
    idle_s: float = 5.0,
    timeout_s: float = 3600.0,
) -> Drained:
    """Connect as ``settings.client_id`` without subscribing; process what was queued."""
    worker = IngestWorker(
        settings.model_copy(update={"announce": False}), store=store, retiring=True
    )
    worker.start()
    deadline = time.monotonic() + timeout_s
    drained = False
    try:
        if worker.wait_subscribed(min(30.0, timeout_s)):
            # drained: everything received is processed AND acknowledged, and nothing new
            # came for idle_s after the last ack (a batch still in hand, however slow,
            # or acks not sent yet hold the broker's queue back: never "quiet")
            while time.monotonic() < deadline and worker.connection.alive:
                time.sleep(0.1)
                if worker.settled and worker.quiet_s >= idle_s:
                    drained = worker.connection.connected
                    break
    finally:
        worker.stop()
    return Drained(worker.processed, drained)


def end_session(settings: IngestSettings, timeout_s: float = 10.0) -> bool:
    """Make the broker forget the session of ``settings.client_id`` (and what it queued).

    A clean-start connection with that client id replaces the old session; with session
    expiry 0 (MQTT 5) or a clean session (3.1.1) nothing is kept after it disconnects.
    Returns whether the broker accepted the connection.
    """
    conn = Connection(
        endpoint(settings),
        settings.client_id,
        reconnect=False,
        tick_s=0.1,
        name="ingest-end-session",
    ).start()
    try:
        return conn.wait_connected(timeout_s)
    finally:
        conn.stop()


def retire(settings: IngestSettings, *, idle_s: float = 5.0, timeout_s: float = 3600.0) -> int:
    """Retire a worker for good: drain its session, then end it.

    Workers do this by themselves for a peer that stopped beating
    (:mod:`cloud.ingest.takeover`); this is the operator's way, at once. Returns 0 when
    drained and ended, 1 otherwise (the session is kept).
    """
    result = drain_session(settings, idle_s=idle_s, timeout_s=timeout_s)
    if not result.drained:
        log.error(
            "%s not drained (still receiving, or taken back): session kept", settings.client_id
        )
        return 1
    if not end_session(settings):
        log.error("could not end the session of %s", settings.client_id)
        return 1
    log.info("retired %s after draining %d messages", settings.client_id, result.processed)
    return 0


def supervise(worker: IngestWorker, stop: threading.Event, poll_s: float = 1.0) -> int:
    """Wait until ``stop`` is set (0) or one of the worker's threads died (1)."""
    while not stop.wait(poll_s):
        if not worker.healthy:
            log.critical(
                "ingest %s: a worker thread died (%r); exiting for a restart",
                worker.settings.client_id,
                worker.failure,
            )
            return 1
    return 0


def settle_heap() -> None:
    """Take what the process built to start out of the cyclic garbage collector's walks.

    A full (generation 2) collection walks every container object the process holds.
    An ingest worker holds ~120,000 from its start (modules, SQLAlchemy's metadata and
    mappers, pydantic's validators), and Python 3.11 runs a full collection every few
    seconds under load: measured on the weigh-in path, each one stopped the worker for
    ~40 ms, a stall as long as two batches, which every weigh-in arriving meanwhile
    waited out (the p99 of publish-to-credited at 100/s, issue 21). Collected once, then
    frozen (:func:`gc.freeze`), those objects are skipped: the same collections took
    ~5 ms. Frozen objects are still freed by reference counting; only a reference cycle
    among them that became garbage later would stay, and what a worker builds to start
    lives as long as the process.
    """
    gc.collect()
    gc.freeze()


def run(settings: IngestSettings, stop_event: threading.Event | None = None) -> int:
    """Run one ingest worker until ``stop_event`` is set or SIGTERM/SIGINT arrives.

    Returns 0 after a clean stop (the batch in hand finished and was acknowledged), 1 if
    a worker thread died (the service manager restarts the process).
    """
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    worker = IngestWorker(settings)
    worker.start()
    settle_heap()
    log.info(
        "ingest %s: mqtt %s:%d (MQTT %s, share %s), ledger %s, telemetry %s",
        settings.client_id,
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_protocol,
        settings.share or "off",
        settings.ledger_url.split("@")[-1],
        settings.telemetry.backend,
    )
    try:
        code = supervise(worker, stop)
    finally:
        worker.stop()
        log.info(
            "ingest stopped: %d messages, %d dead letters, %d receipts, %d acks",
            worker.processed,
            worker.dead_letters,
            worker.receipts_sent,
            worker.acks_sent,
        )
    return code
