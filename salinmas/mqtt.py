"""The one MQTT client factory: every Salinmas process connects to the broker through here.

Edge agents, ingest workers, the API and the simulators all need the same things of a
paho-mqtt client, set up once here:

- **credentials**: username and password (a device's username is its device id, and the
  broker allows it only its own client id);
- **TLS**, one variant: ``ssl.create_default_context(cafile=...)`` (certificate and host
  name verified; the system trust store when no CA file is given);
- **protocol** MQTT 5 or 3.1.1, and the **session**: persistent (3.1.1
  ``clean_session=False``; MQTT 5 ``clean_start=False`` with ``SessionExpiryInterval``)
  or clean; MQTT 5 ``ReceiveMaximum`` for consumers that acknowledge late;
- the **Last Will**, in-flight window, manual acknowledgement;
- **reconnection** with :class:`salinmas.backoff.Backoff` (exponential with jitter),
  reset after every accepted CONNACK.

:class:`Connection` owns one client and the thread that runs its network loop: it
connects, runs ``client.loop()``, calls an optional ``tick`` between passes (the edge
link pumps its outbox there) and reconnects after a failure or a refusal. Callbacks
(``on_connect`` ...) run on that thread. paho is imported here and nowhere else in the
processes' setup code; it is in both the ``edge`` and the ``cloud`` extras.

>>> ep = Endpoint("127.0.0.1", 1883, "st-bank01", "pw")            # doctest: +SKIP
>>> conn = Connection(ep, "st-bank01", persistent=True, on_message=print)  # doctest: +SKIP
>>> conn.start(); conn.wait_connected(5); conn.stop()               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from salinmas.backoff import Backoff

log = logging.getLogger("salinmas.mqtt")

_Properties: Any = Properties  # untyped in paho

MqttProtocol = Literal["5", "3.1.1"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the broker is and who we are to it."""

    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    #: CA bundle for TLS; ``None`` uses the system's trust store
    ca_file: Path | None = None
    keepalive_s: int = 60
    protocol: MqttProtocol = "3.1.1"


@dataclass(frozen=True, slots=True)
class Will:
    """The Last Will the broker publishes when the connection dies without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The project's one TLS variant: verify the broker's certificate and host name."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"mqtt CA file {ca_file}: {exc}") from exc


def make_client(
    endpoint: Endpoint,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    max_inflight: int | None = None,
    will: Will | None = None,
    client_class: type[mqtt.Client] = mqtt.Client,
) -> mqtt.Client:
    """A configured paho client (not connected; see :func:`connect_args`)."""
    v5 = endpoint.protocol == "5"
    client = client_class(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        # MQTT 5 sets the session in CONNECT (connect_args); 3.1.1 here
        clean_session=None if v5 else not persistent,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
        reconnect_on_failure=False,  # Connection reconnects, with its back-off
    )
    client.username_pw_set(endpoint.username, endpoint.password or None)
    if endpoint.tls:
        client.tls_set_context(tls_context(endpoint.ca_file))
    if max_inflight is not None:
        client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client


def connect_args(
    endpoint: Endpoint,
    *,
    persistent: bool = False,
    session_expiry_s: int = 0,
    receive_maximum: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``client.connect`` for the session asked (MQTT 5 only)."""
    if endpoint.protocol != "5":
        return {}
    props = _Properties(PacketTypes.CONNECT)
    if persistent:
        props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return {"clean_start": not persistent, "properties": props}


Callback = Callable[..., None]


def _write_on_network_thread(*_a: Any) -> None:
    """Nothing to register: ``client.loop()`` selects for writing when packets wait."""


class Connection:
    """One MQTT client kept connected by its own thread (see the module docs).

    ``on_connect(client, flags, reason)`` runs after every CONNACK (refusals included:
    check ``reason.is_failure``); ``on_disconnect()`` after a lost or closed connection;
    ``on_message``, ``on_subscribe`` and ``on_publish`` are paho's (VERSION2 signatures).
    ``tick()`` runs on the thread after every loop pass of at most ``tick_s`` seconds; an
    exception in it ends the thread (see :attr:`alive`). ``on_stop(client)`` runs on the
    thread before a clean disconnect, while still connected. With ``reconnect=False`` the
    thread ends after the first connection (or attempt) ends: for a client that must not
    come back, e.g. one that was taken over by another connection with its client id.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        client_id: str,
        *,
        persistent: bool = False,
        session_expiry_s: int = 0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
        max_inflight: int | None = None,
        will: Will | None = None,
        client_class: type[mqtt.Client] = mqtt.Client,
        backoff: Backoff | None = None,
        on_connect: Callable[[mqtt.Client, Any, Any], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        on_message: Callback | None = None,
        on_subscribe: Callback | None = None,
        on_publish: Callback | None = None,
        on_stop: Callable[[mqtt.Client], None] | None = None,
        tick: Callable[[], None] | None = None,
        tick_s: float = 1.0,
        reconnect: bool = True,
        name: str = "mqtt",
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.client = make_client(
            endpoint,
            client_id,
            persistent=persistent,
            manual_ack=manual_ack,
            max_inflight=max_inflight,
            will=will,
            client_class=client_class,
        )
        self._connect_args = connect_args(
            endpoint,
            persistent=persistent,
            session_expiry_s=session_expiry_s,
            receive_maximum=receive_maximum,
        )
        self.backoff = backoff or Backoff(0.5, 30.0)
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_stop = on_stop
        self._tick = tick
        self.tick_s = tick_s
        self.reconnect = reconnect
        self.name = name
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        # Publishes and acks from other threads only queue their packet and wake the
        # network thread (paho's socket pair), which alone writes to the socket: without
        # this, paho writes from the calling thread when loop_start() is not used, and two
        # threads could interleave one packet's bytes with another's.
        self.client.on_socket_register_write = _write_on_network_thread
        self.client.on_socket_unregister_write = _write_on_network_thread
        if on_message is not None:
            self.client.on_message = on_message
        if on_subscribe is not None:
            self.client.on_subscribe = on_subscribe
        if on_publish is not None:
            self.client.on_publish = on_publish
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: CONNACK refusals and lost connections seen (for stats and tests)
        self.refused = 0
        self.lost = 0
        self.last_error = ""

    # -- public ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def alive(self) -> bool:
        """Whether the network thread runs (a process should exit if it stopped by itself)."""
        return self._thread is not None and self._thread.is_alive()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> Connection:
        """Start the network thread; it connects in the background and never raises."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Disconnect cleanly (after ``on_stop``) and end the thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s + 2)

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        client, ep = self.client, self.endpoint
        up = False
        try:
            while not self._stop.is_set():
                if not up:
                    try:
                        client.connect(ep.host, ep.port, ep.keepalive_s, **self._connect_args)
                        up = True
                    except (OSError, ValueError) as exc:
                        self._note(f"connect to {ep.host}:{ep.port} failed: {exc}")
                        if not self.reconnect:
                            break
                        self.backoff.wait(self._stop)
                        continue
                rc = client.loop(timeout=self.tick_s)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    up = False
                    self._down()
                    self._note(f"connection lost: {mqtt.error_string(rc)}")
                    if not self.reconnect:
                        break
                    self.backoff.wait(self._stop)
                    continue
                if self._tick is not None:
                    self._tick()
        finally:
            self._shutdown(up)

    def _shutdown(self, up: bool) -> None:
        client = self.client
        if up and self.connected and self._stop.is_set():
            if self._on_stop is not None:
                try:
                    self._on_stop(client)
                except Exception:
                    log.exception("%s: on_stop failed", self.name)
            client.disconnect()
            client.loop(timeout=0.1)
        elif up:
            client.disconnect()  # a tick failed: close the socket, the process decides
        self._down()

    def _down(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self.lost += 1
            if self._on_disconnect is not None:
                self._on_disconnect()

    def _note(self, message: str) -> None:
        if message != self.last_error and not self._stop.is_set():
            log.warning("%s (%s): %s", self.name, self.client_id, message)
        self.last_error = message

    # -- paho callbacks (on the thread) -------------------------------------------------

    def _handle_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any = None
    ) -> None:
        if reason.is_failure:
            self.refused += 1
            self._note(f"broker refused the connection: {reason}")
        else:
            self.backoff.reset()
            self.last_error = ""
            self._connected.set()
        if self._on_connect is not None:
            self._on_connect(client, flags, reason)

    def _handle_disconnect(self, *_a: Any) -> None:
        self._down()
