"""The embedded MQTT broker of the demo profile: amqtt in a background thread.

It enforces the same account document as the production Mosquitto: the dynamic-security
document of :mod:`cloud.broker_accounts` (written by the demo, edited by provisioning
through :class:`cloud.broker_accounts.DynsecFile`), decided by
:class:`cloud.broker_rules.DynsecRules` — a device connects only with its own client id,
publishes only its own upstream topics, is refused at SUBSCRIBE outside its own
downstream and fleet topics and receives nothing else; ``$share`` does not exist here.
The document is re-read when it changes, so a revoked device's next publish or
subscription is refused at once (amqtt cannot disconnect it from outside).

Two amqtt 0.12 behaviours are corrected in :class:`_Broker` (``tests/salinmas``
``test_embedded_broker.py`` pins both): amqtt replaces (or takes over) the session of a
client id *before* it authenticates the CONNECT, so any client could kick a device off
and destroy its session; here the CONNECT is authenticated first. And amqtt has no packet
limit: a PUBLISH over the contract's payload cap is dropped (Mosquitto closes the
connection instead, at ``max_packet_size``).

amqtt speaks MQTT 3.1.1 only and has no shared subscriptions: run one ingest worker
against it (fine for one waste bank; about 400 QoS-1 round trips a second here). When a
``mosquitto`` binary is installed the demo prefers it (see :mod:`stack.demo`).

    broker = EmbeddedBroker(port=1883, accounts_file=path)
    broker.start(); ...; broker.stop()
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from cloud.broker_accounts import DynsecFile
from cloud.broker_rules import DynsecRules
from contract.models import MAX_PAYLOAD_BYTES

log = logging.getLogger(__name__)


class _Accounts:
    """The account document, re-read when its file changes (shared by the plugins)."""

    file: ClassVar[DynsecFile | None] = None
    _stamp: ClassVar[tuple[float, int] | None] = None
    _rules: ClassVar[DynsecRules] = DynsecRules({})

    @classmethod
    def rules(cls) -> DynsecRules:
        f = cls.file
        if f is None:
            return DynsecRules({})
        try:
            st = f.path.stat()
        except FileNotFoundError:
            return DynsecRules({})
        stamp = (st.st_mtime, st.st_size)
        if stamp != cls._stamp:
            cls._rules, cls._stamp = DynsecRules(f.read()), stamp
        return cls._rules


def _password(session: Session) -> str | None:
    pw = session.password
    if isinstance(pw, bytes):
        return pw.decode(errors="replace")
    return None if pw is None else str(pw)


class DynsecAuth(BaseAuthPlugin):  # type: ignore[misc]
    async def authenticate(self, *, session: Session) -> bool | None:
        return _Accounts.rules().authenticate(
            session.username, _password(session), session.client_id or ""
        )


class DynsecTopics(BaseTopicPlugin):  # type: ignore[misc]
    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or not session.username or not topic:
            return False
        rules = _Accounts.rules()
        if action == Action.PUBLISH:
            return rules.may_publish(session.username, topic)
        if action == Action.SUBSCRIBE:
            return rules.may_subscribe(session.username, topic)
        return rules.may_receive(session.username, topic)


class _Broker(Broker):  # type: ignore[misc]
    """amqtt's broker with the CONNECT authenticated first and the payload cap enforced."""

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except (AMQTTError, MQTTError, NoDataError) as exc:
            await writer.close()
            raise AMQTTError(f"{remote_address}:{remote_port}: no valid CONNECT: {exc}") from exc
        if not await self._authenticate(session, None):
            # refuse before any session of that client id is looked up, replaced or kicked
            handler.attach(session, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            raise AMQTTError(f"{session.client_id!r} ({session.username!r}) not authorised")
        return await _resume_session(self, handler, session)

    async def _handle_message_delivery(
        self, client_session: Session, handler: BrokerProtocolHandler, wait_deliver: Any
    ) -> bool:
        message = wait_deliver.result()
        if message is not None and len(message.data or b"") > MAX_PAYLOAD_BYTES:
            log.warning(
                "dropped a %d-byte publish from %s (cap %d)",
                len(message.data),
                client_session.client_id,
                MAX_PAYLOAD_BYTES,
            )
            return True
        result: bool = await super()._handle_message_delivery(client_session, handler, wait_deliver)
        return result


async def _resume_session(
    broker: Broker, handler: BrokerProtocolHandler, session: Session
) -> tuple[BrokerProtocolHandler, Session]:
    """amqtt 0.12's session lookup (``Broker._initialize_client_session``), after auth."""
    from amqtt.utils import gen_client_id

    if session.clean_session:
        if session.client_id:
            await broker._delete_session(session.client_id)
        else:
            session.client_id = gen_client_id()
        session.parent = 0
    elif session.client_id in broker._sessions:
        existing, _ = broker._sessions[session.client_id]
        for attr in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive"):
            setattr(existing, attr, getattr(session, attr))
        existing.username, existing.password = session.username, session.password
        session = existing
        session.parent = 1
    else:
        session.parent = 0
    delay = broker.config.get("timeout-disconnect-delay", 0)
    if session.keep_alive > 0 and isinstance(delay, int):
        session.keep_alive += delay
    return handler, session


@dataclass
class EmbeddedBroker:
    """amqtt on ``host:port`` in a daemon thread with its own event loop."""

    port: int
    accounts_file: Path
    host: str = "127.0.0.1"
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _broker: Any = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {f"{__name__}.DynsecAuth": {}, f"{__name__}.DynsecTopics": {}},
        }

    def start(self, timeout_s: float = 10) -> None:
        _Accounts.file = DynsecFile(self.accounts_file)
        _Accounts._stamp = None
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = _Broker(self._config(), loop=loop)
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
