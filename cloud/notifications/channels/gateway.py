"""Any HTTP gateway through an Apprise URL: WhatsApp Business, SMS aggregators, e-mail,
Telegram, or a plain ``json://`` endpoint of the waste bank's own gateway.

The URL (a secret: it carries tokens) may contain ``{phone}`` (``+628...``),
``{phone_digits}`` (``628...``) and ``{to}`` (the household's address for this channel,
else its phone), filled in per message; without them it is one fixed destination (an
operators' group chat).

Delivery guarantee: at least once. The HTTP request is made after the claim is
committed and before the outcome is; a sender killed in between (or a response lost on
the way back) means the message is sent again when the claim expires. For ``json://``,
``xml://`` and ``form://`` gateways the request carries the header
``Idempotency-Key: <notification key>:<channel>:<resends>``, the same on every retry of
one delivery: a gateway that keeps the keys it has seen turns the repeat into nothing
(exactly-once effect). Apprise reports only success or failure, so every failure is
retried (with backoff) until the delivery is dead.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import urllib.parse
import warnings
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from cloud.notifications.channels.base import Message, Outcome
from cloud.notifications.settings import AppriseChannelSettings

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(phone|phone_digits|to)\}")


def _import_apprise() -> Any:
    """Apprise (the cloud extra), imported when a sender configures a gateway.

    Its e-mail plugin imports the standard library's ``imghdr`` (through PGPy), which
    warns of its removal on Python 3.11/3.12; that one warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        with contextlib.suppress(ImportError):  # gone in 3.13: Apprise has a shim
            importlib.import_module("imghdr")
        return importlib.import_module("apprise")


class AppriseChannel:
    """An HTTP gateway (see the module docs)."""

    kind = "apprise"
    transactional = False

    def __init__(self, name: str, settings: AppriseChannelSettings) -> None:
        self._apprise: Any = _import_apprise()
        self.name = name
        self.settings = settings
        self._template = settings.url.get_secret_value()
        if self._apprise.Apprise.instantiate(self._fill("+6281200000000")) is None:
            raise ValueError(f"channel {name}: Apprise does not understand its URL")

    def needs_address(self) -> bool:
        return _PLACEHOLDER.search(self._template) is not None

    def _fill(self, address: str | None) -> str:
        if not self.needs_address():
            return self._template
        if address is None:
            raise ValueError("no address")
        digits = address.lstrip("+")
        values = {"phone": address, "phone_digits": digits, "to": address}
        return _PLACEHOLDER.sub(
            lambda m: urllib.parse.quote(values[m.group(1)], safe="@+"), self._template
        )

    def deliver(self, session: Session | None, msg: Message) -> Outcome:
        try:
            url = self._fill(msg.address)
        except ValueError:
            return Outcome("dead", error="no address for this channel")
        plugin = self._apprise.Apprise.instantiate(url)
        if plugin is None:
            return Outcome("dead", error="Apprise does not understand the URL for this address")
        header = self.settings.idempotency_header
        if header and isinstance(getattr(plugin, "headers", None), dict):
            plugin.headers[header] = msg.key
        plugin.socket_connect_timeout = self.settings.timeout_s
        plugin.socket_read_timeout = self.settings.timeout_s
        try:
            ok = bool(plugin.notify(body=msg.text, title=msg.title))
        except Exception as exc:  # a plugin bug must not kill the sender
            log.exception("delivery %d: %s raised", msg.delivery_id, self.name)
            return Outcome("retry", error=f"{self.name}: {type(exc).__name__}")
        if ok:
            return Outcome("sent")
        return Outcome("retry", error=f"{self.name}: gateway refused or unreachable")

    def poll(self, session: Session, queued: Sequence[tuple[int, str]]) -> dict[int, Outcome]:
        return {}

    def close(self) -> None:
        return None
