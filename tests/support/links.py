"""A device's MQTT link (:class:`edge.link.MqttLink`) to a test broker, as the edge agent
makes it: its own account, fast reconnects, receipts collected."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import SecretStr

from contract.models import Receipt
from edge import __version__
from edge.config import MqttSettings
from edge.link import MqttLink
from edge.outbox import Outbox
from tests.support.services import MosquittoServer


def make_link(
    broker: MosquittoServer,
    device_id: str,
    password: str,
    box: Outbox,
    confirm_timeout_s: float = 60,
    *,
    boot_id: uuid.UUID | None = None,
    sw_version: str = __version__,
    **link: Any,
) -> tuple[MqttLink, list[tuple[Receipt, bool]]]:
    """A link and the list its receipt callback fills with ``(receipt, first)``; ``link``
    passes more of :class:`MqttLink`'s options."""
    settings = MqttSettings(
        host="127.0.0.1",
        port=broker.port,
        password=SecretStr(password),
        backoff_min_s=0.05,
        backoff_max_s=0.3,
    )
    got: list[tuple[Receipt, bool]] = []
    made = MqttLink(
        device_id=device_id,
        settings=settings,
        outbox=box,
        sw_version=sw_version,
        boot_id=boot_id or uuid.uuid4(),
        confirm_timeout_s=confirm_timeout_s,
        on_receipt=lambda r, first: got.append((r, first)),
        **link,
    )
    return made, got
