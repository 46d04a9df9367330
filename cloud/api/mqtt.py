"""The API's broker link: device commands out, live telemetry in (service account ``api``).

One paho client per API process, on its own network thread (``loop_start``), with
automatic reconnect. It subscribes to ``salinmas/v1/dev/+/{fill,health,status}`` and
hands every valid message to a callback (the live hub); invalid ones are ignored here —
ingest keeps them as dead letters. :meth:`MqttLink.send_command` publishes a
:class:`contract.DeviceCommand` with QoS 1 and waits for the broker's PUBACK.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.api.settings import ApiMqttSettings
from contract import DeviceCommand
from contract.models import ContractError, parse_payload, to_json
from contract.topics import Kind, TopicError, device_topic, parse_topic, subscription

log = logging.getLogger(__name__)

#: kinds relayed to the live stream (weigh-ins come from the ledger, credited)
LIVE_KINDS = (Kind.FILL, Kind.HEALTH, Kind.STATUS)

OnMessage = Callable[[str, Kind, Any], None]


class BrokerUnavailable(RuntimeError):
    """The broker did not accept a publish in time."""


class MqttLink:
    def __init__(self, settings: ApiMqttSettings, on_message: OnMessage | None = None) -> None:
        self.settings = settings
        self._on_message = on_message
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"salinmas-api-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.client.username_pw_set(settings.username, settings.password.get_secret_value())
        if settings.tls:
            ctx = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None
            )
            self.client.tls_set_context(ctx)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def _handle_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("broker refused the API's connection: %s", rc)
            return
        self._connected.set()
        if self._on_message is not None:
            client.subscribe([(subscription(k), 0) for k in LIVE_KINDS])

    def _handle_disconnect(self, *_a: Any) -> None:
        self._connected.clear()

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
        info = self.client.publish(
            device_topic(command.device_id, Kind.CMD), to_json(command), qos=1
        )
        try:
            info.wait_for_publish(self.settings.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerUnavailable(str(exc)) from None
        if not info.is_published():
            raise BrokerUnavailable("the broker did not acknowledge the command in time")
