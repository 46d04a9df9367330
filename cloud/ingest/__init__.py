"""Cloud ingest: MQTT -> validate -> ledger credit + telemetry -> receipts.

``python -m cloud.ingest --config salinmas.toml`` (or ``salinmas ingest``) runs one
worker until SIGTERM/SIGINT; :class:`IngestWorker` is the same thing in-process.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from cloud.ingest.processor import Message, Outcome, Processor
from cloud.ingest.settings import IngestSettings
from cloud.ingest.worker import IngestWorker, subscriptions

log = logging.getLogger(__name__)


def run(settings: IngestSettings, stop_event: threading.Event | None = None) -> None:
    """Run one ingest worker until ``stop_event`` is set or SIGTERM/SIGINT arrives."""
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    worker = IngestWorker(settings)
    worker.start()
    log.info(
        "ingest %s: mqtt %s:%d (MQTT %s, share %s), ledger %s, telemetry %s",
        settings.client_id, settings.mqtt_host, settings.mqtt_port, settings.mqtt_protocol,
        settings.share or "off", settings.ledger_url.split("@")[-1], settings.telemetry.backend,
    )  # fmt: skip
    try:
        stop.wait()
    finally:
        worker.stop()
        log.info(
            "ingest stopped: %d messages, %d dead letters, %d receipts",
            worker.processed, worker.dead_letters, worker.receipts_sent,
        )  # fmt: skip


__all__ = [
    "IngestSettings",
    "IngestWorker",
    "Message",
    "Outcome",
    "Processor",
    "run",
    "subscriptions",
]
