"""The API's broker link: device commands out, live telemetry in (service account ``api``).

One client per API process (:class:`salinmas.mqtt.Connection`: its own network thread,
reconnecting with back-off). It subscribes to ``salinmas/v1/dev/+/{fill,health,status}``
and hands every valid message to a callback (the live hub); invalid ones are ignored here
— ingest keeps them as dead letters. :meth:`MqttLink.send_command` publishes a
:class:`contract.DeviceCommand` with QoS 1 and waits for the broker's PUBACK.

:func:`account_store` is where provisioning creates device accounts (``[api.broker]``).

Every API process reads every fill, health and status message (QoS 0, no session) and
validates it. Left so on purpose: a programme's bins report about once a minute, so even
10,000 of them are under 200 messages a second per API process; a digest published by
ingest per batch would make it cheaper at benchmark rates, at the price of a cloud-only
topic and of ingest latency in the live view.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from cloud.api.settings import ApiMqttSettings, ApiSettings
from cloud.broker_accounts import AccountStore, DynsecControl, DynsecFile
from contract import DeviceCommand
from contract.models import ContractError, parse_payload, to_json
from contract.topics import Kind, TopicError, device_topic, parse_topic, subscription
from salinmas.backoff import Backoff
from salinmas.mqtt import Connection, Endpoint

log = logging.getLogger(__name__)

#: kinds relayed to the live stream (weigh-ins come from the ledger, credited)
LIVE_KINDS = (Kind.FILL, Kind.HEALTH, Kind.STATUS)

OnMessage = Callable[[str, Kind, Any], None]


class BrokerUnavailable(RuntimeError):
    """The broker did not accept a publish in time."""


def endpoint(settings: ApiMqttSettings, username: str, password: str) -> Endpoint:
    return Endpoint(
        settings.host,
        settings.port,
        username,
        password,
        tls=settings.tls,
        ca_file=settings.ca_file,
        keepalive_s=settings.keepalive_s,
    )


def account_store(settings: ApiSettings) -> AccountStore:
    """Provisioning's backend: dynsec's control topic, or the embedded broker's document."""
    b = settings.broker
    if b.backend == "file":
        if b.path is None:
            raise ValueError("[api.broker] path is required with backend = 'file'")
        return DynsecFile(b.path)
    ep = endpoint(settings.mqtt, b.username, b.password.get_secret_value())
    return DynsecControl(ep, timeout_s=b.timeout_s)


class MqttLink:
    def __init__(self, settings: ApiMqttSettings, on_message: OnMessage | None = None) -> None:
        self.settings = settings
        self._on_message = on_message
        self.connection = Connection(
            endpoint(settings, settings.username, settings.password.get_secret_value()),
            f"salinmas-api-{secrets.token_hex(4)}",
            backoff=Backoff(0.5, 15.0),
            on_connect=self._handle_connect,
            on_message=self._handle_message,
            name="api-mqtt",
        )

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def start(self) -> None:
        self.connection.start()

    def stop(self) -> None:
        self.connection.stop()

    def wait_connected(self, timeout_s: float) -> bool:
        return self.connection.wait_connected(timeout_s)

    def _handle_connect(self, client: mqtt.Client, _flags: Any, reason: Any) -> None:
        if not reason.is_failure and self._on_message is not None:
            client.subscribe([(subscription(k), 0) for k in LIVE_KINDS])

    def _handle_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            device_id, kind = parse_topic(msg.topic)
            payload = parse_payload(kind, bytes(msg.payload))
        except (TopicError, ContractError):
            return
        if getattr(payload, "device_id", device_id) != device_id:
            return  # ingest dead-letters identity mismatches; never relay them
        try:
            self._on_message(device_id, kind, payload)
        except Exception:  # the network thread must survive a bad consumer
            log.exception("live relay failed")

    def send_command(self, command: DeviceCommand) -> None:
        """Publish a command (QoS 1) and wait for PUBACK; :class:`BrokerUnavailable` if not."""
        if not self.connected:
            raise BrokerUnavailable("the API is not connected to the broker")
        info = self.connection.client.publish(
            device_topic(command.device_id, Kind.CMD), to_json(command), qos=1
        )
        try:
            info.wait_for_publish(self.settings.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerUnavailable(str(exc)) from None
        if not info.is_published():
            raise BrokerUnavailable("the broker did not acknowledge the command in time")
