"""Cloud ingest: MQTT -> validate -> ledger credit + telemetry -> receipts.

``python -m cloud.ingest --config salinmas.toml`` (or ``salinmas ingest``) runs one
worker until SIGTERM/SIGINT; :class:`IngestWorker` is the same thing in-process.
"""

from __future__ import annotations

from cloud.ingest.lifecycle import run
from cloud.ingest.processor import Message, Outcome, Processor
from cloud.ingest.settings import IngestSettings
from cloud.ingest.worker import IngestWorker, subscriptions

__all__ = [
    "IngestSettings",
    "IngestWorker",
    "Message",
    "Outcome",
    "Processor",
    "run",
    "subscriptions",
]
