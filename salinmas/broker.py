"""The embedded MQTT broker of the demo profile: amqtt in a background thread.

It enforces the same rules as the production Mosquitto configuration: every account is
checked against the Mosquitto-format password file written by
:mod:`cloud.broker_accounts`, and the same topic rules apply (a device publishes only to
its own upstream topics and reads only its own receipts and commands; the ``ingest`` and
``api`` service accounts read everything and publish receipts and commands).

amqtt speaks MQTT 3.1.1 only and has no shared subscriptions: run one ingest worker
against it (fine for one waste bank; about 400 QoS-1 round trips a second here). When a
``mosquitto`` binary is installed the demo prefers it (see :mod:`salinmas.demo`).

    roles = {"salinmas-ingest": "ingest"}
    broker = EmbeddedBroker(port=1883, password_file=path, service_roles=roles)
    broker.start(); ...; broker.stop()
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from cloud.broker_accounts import AccountFiles, verify_password
from contract.topics import DOWNSTREAM_KINDS, PREFIX, UPSTREAM_KINDS

log = logging.getLogger(__name__)


def topic_allowed(username: str, role: str | None, topic: str, action: str) -> bool:
    """The project's ACL as a function (mirrors :func:`cloud.broker_accounts.render_acl`)."""
    parts = topic.split("/")
    prefix = PREFIX.split("/")
    if parts[: len(prefix)] != prefix or len(parts) != len(prefix) + 2:
        return False
    device, kind = parts[-2], parts[-1]
    if role is not None:  # service account
        if action == "publish":
            return kind in DOWNSTREAM_KINDS
        return kind in (*UPSTREAM_KINDS, *DOWNSTREAM_KINDS) or kind == "+"
    if device != username:
        return False
    if action == "publish":
        return kind in UPSTREAM_KINDS
    return kind in DOWNSTREAM_KINDS


class _Accounts:
    """Shared between the two plugins: the password file and the service roles."""

    files: ClassVar[AccountFiles | None] = None
    roles: ClassVar[dict[str, str]] = {}


class PasswordFileAuth(BaseAuthPlugin):  # type: ignore[misc]
    async def authenticate(self, *, session: Session) -> bool | None:
        files = _Accounts.files
        if files is None or not session.username or session.password is None:
            return False
        encoded = files.read_accounts().get(session.username)
        password = session.password
        if isinstance(password, bytes):
            password = password.decode(errors="replace")
        return encoded is not None and verify_password(str(password), encoded)


class AclPlugin(BaseTopicPlugin):  # type: ignore[misc]
    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or not session.username or not topic:
            return False
        verb = "publish" if action == Action.PUBLISH else "read"
        return topic_allowed(session.username, _Accounts.roles.get(session.username), topic, verb)


@dataclass
class EmbeddedBroker:
    """amqtt on ``host:port`` in a daemon thread with its own event loop."""

    port: int
    password_file: Path
    service_roles: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _broker: Any = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.PasswordFileAuth": {},
                f"{__name__}.AclPlugin": {},
            },
        }

    def start(self, timeout_s: float = 10) -> None:
        _Accounts.files = AccountFiles(self.password_file, self.password_file.with_suffix(".acl"))
        _Accounts.roles = dict(self.service_roles)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(self._config(), loop=loop)
                loop.run_until_complete(self._broker.start())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError("embedded broker did not start")
        if failure:
            raise RuntimeError(f"embedded broker failed to start: {failure[0]}") from failure[0]
        log.info("embedded MQTT broker (amqtt) on %s:%s", self.host, self.port)

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(10)
        except Exception:  # shutting down anyway
            log.exception("embedded broker shutdown")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None
        self._broker = None
