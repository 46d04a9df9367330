"""The ingest's paho client: read-ahead socket and batched acknowledgements.

The socket is checked on a socket pair; the client against the real Mosquitto: what it
acknowledges with ``ack_many`` is never redelivered to its persistent session, what it
does not acknowledge is. The paho internals it relies on are pinned (a paho that changes
them is refused loudly), and the fast path is checked to be the one really taken.

mutant: check_paho_internals() passing whatever paho has -> fails
mutant: _create_socket not wrapping the socket (the fast path silently off) -> fails
mutant: the topic matcher left as paho's (no short cut) -> fails
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.ingest import readahead
from cloud.ingest.readahead import (
    PAHO_INTERNALS,
    PahoChanged,
    ReadAheadClient,
    ReadAheadSocket,
    check_paho_internals,
)
from contract import Kind, device_topic
from tests.cloud.factories import fill
from tests.cloud.mqtt_support import device, unique_id
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_reads_are_served_from_one_receive(pair: tuple[socket.socket, socket.socket]) -> None:
    peer, mine = pair
    sock = ReadAheadSocket(mine, size=64)
    with pytest.raises(BlockingIOError):
        sock.recv(1)  # nothing yet: non-blocking, like the socket itself
    peer.sendall(b"\x30\x05hello\x40\x02\x00\x01")
    assert sock.recv(1) == b"\x30"
    assert sock.pending() == 10
    assert sock.recv(1) == b"\x05"
    assert sock.recv(5) == b"hello"
    assert sock.recv(100) == b"\x40\x02\x00\x01"  # a short read: what is there
    assert sock.pending() == 0
    peer.sendall(b"x" * 100)  # more than the buffer: served in pieces, nothing lost
    got = b""
    while len(got) < 100:
        got += sock.recv(30)
    assert got == b"x" * 100
    peer.close()
    assert sock.recv(1) == b""  # the peer closed


def _ingest_client(broker: MosquittoServer, client_id: str, got: list[int]) -> ReadAheadClient:
    user, password = broker.service("ingest")
    c = ReadAheadClient(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
    )
    c.username_pw_set(user, password)
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            got.append(msg.mid)

    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe("salinmas/v1/dev/+/fill", 1)
    c.on_subscribe = lambda *_a: subscribed.set()
    props: Any = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 300
    props.ReceiveMaximum = 1000
    c.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    c.loop_start()
    assert subscribed.wait(10)
    return c


@pytest.mark.integration
@pytest.mark.parametrize("acked", [True, False])
def test_what_ack_many_acknowledged_is_not_redelivered(
    mosquitto: MosquittoServer, acked: bool
) -> None:
    client_id = unique_id("ingest-ra")
    got: list[int] = []
    c = _ingest_client(mosquitto, client_id, got)
    bin_id = unique_id("bn")
    with device(mosquitto, bin_id) as dev:
        dev.publish_many(Kind.FILL, [fill(bin_id, seq=i) for i in range(1, 301)])
        wait_until(lambda: len(got) == 300, 20, "300 messages")
        if acked:
            c.ack_many(list(got))
        # the acks are on the wire once the broker has them: a ping round trip after
        pinged = threading.Event()
        c.on_subscribe = lambda *_a: pinged.set()  # before the SUBSCRIBE: no race
        c.subscribe(device_topic(bin_id, Kind.STATUS), 1)
        assert pinged.wait(10)
        c.disconnect()
        c.loop_stop()
    again: list[int] = []
    c2 = _ingest_client(mosquitto, client_id, again)
    try:
        if acked:
            # nothing comes back (give the broker time to resend if it were going to)
            with pytest.raises(TimeoutError):
                wait_until(lambda: len(again) > 0, 2, "a redelivery")
        else:
            wait_until(lambda: len(again) == 300, 20, "all 300 redelivered")
    finally:
        c2.disconnect()
        c2.loop_stop()


@pytest.mark.integration
def test_per_topic_callbacks_still_route(mosquitto: MosquittoServer) -> None:
    general: list[int] = []
    c = _ingest_client(mosquitto, unique_id("ingest-cb"), general)
    fills: list[str] = []
    c.message_callback_add("salinmas/v1/dev/+/fill", lambda _c, _u, m: fills.append(m.topic))
    bin_id = unique_id("bn")
    try:
        with device(mosquitto, bin_id) as dev:
            dev.publish_many(Kind.FILL, [fill(bin_id, seq=i) for i in range(1, 4)])
            wait_until(lambda: len(fills) == 3, 10, "3 fills through the topic callback")
        assert general == []  # paho's rule: a matching topic callback replaces on_message
        c.message_callback_remove("salinmas/v1/dev/+/fill")
        with device(mosquitto, bin_id) as dev:
            dev.publish(Kind.FILL, fill(bin_id, seq=4))
            wait_until(lambda: len(general) == 1, 10, "the next fill through on_message")
    finally:
        c.disconnect()
        c.loop_stop()


def test_the_paho_internals_it_uses_are_exactly_these() -> None:
    """paho 2.2's private methods and attributes the read-ahead client relies on."""
    assert paho_version().startswith("2.2.")  # the version it was measured on (pyproject)
    assert set(PAHO_INTERNALS) == {"_create_socket", "_packet_queue", "loop_read"}
    check_paho_internals(mqtt.Client(CallbackAPIVersion.VERSION2))


def test_a_paho_without_them_is_refused_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        readahead, "PAHO_INTERNALS", {**PAHO_INTERNALS, "_packet_queue": ("self", "packet")}
    )
    with pytest.raises(PahoChanged, match="_packet_queue"):
        ReadAheadClient(CallbackAPIVersion.VERSION2, client_id="x")
    plain = mqtt.Client(CallbackAPIVersion.VERSION2)
    plain._on_message_filtered = {}  # type: ignore[assignment]
    with pytest.raises(PahoChanged, match="MQTTMatcher"):
        check_paho_internals(plain)


def paho_version() -> str:
    import paho.mqtt

    return str(paho.mqtt.__version__)


@pytest.mark.integration
def test_the_fast_path_is_really_taken(mosquitto: MosquittoServer) -> None:
    got: list[int] = []
    c = _ingest_client(mosquitto, unique_id("ingest-fast"), got)
    try:
        sock = c._sock  # the socket paho reads from
        assert isinstance(sock, ReadAheadSocket)
        assert isinstance(c._on_message_filtered, readahead._Matcher)
        bin_id = unique_id("bn")
        with device(mosquitto, bin_id) as dev:
            fills_before = sock.fills
            dev.publish_many(Kind.FILL, [fill(bin_id, seq=i) for i in range(1, 301)])
            wait_until(lambda: len(got) == 300, 20, "300 messages")
        # paho alone makes 3-4 recv calls per message; read ahead, a fraction of one
        assert sock.fills - fills_before < 300
        c.ack_many(list(got))
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_publish_many_queues_paho_s_own_qos0_packets_in_one_write(protocol: int) -> None:
    """One queued write holding, byte for byte, the packets paho's QoS 0 publish queues
    (a long payload too: a two-byte remaining length).

    mutant: the MQTT 5 properties byte left out -> fails
    mutant: the remaining length without the topic's two length bytes -> fails
    """
    queued: list[tuple[int, bytes, int, int]] = []

    class _Capture(ReadAheadClient):
        def _packet_queue(
            self, command: Any, packet: Any, mid: Any, qos: Any, info: Any = None
        ) -> Any:
            queued.append((command, bytes(packet), mid, qos))
            return mqtt.MQTT_ERR_SUCCESS

    c = _Capture(CallbackAPIVersion.VERSION2, client_id="cap", protocol=protocol)
    c._sock = socket.socket()  # as if connected: paho queues nothing without a socket
    messages = [
        (device_topic("bn-one", Kind.ACK), b'{"v":1}'),
        (device_topic("bn-two", Kind.ACK), b"x" * 300),
        (device_topic("bn-three", Kind.ACK), b""),
    ]
    try:
        for topic, payload in messages:
            c.publish(topic, payload, qos=0)
        paho_packets = [p for _, p, _, _ in queued]
        queued.clear()
        assert c.publish_many(messages) == mqtt.MQTT_ERR_SUCCESS
        assert len(queued) == 1
        command, packet, mid, qos = queued[0]
        assert (command, mid, qos) == (mqtt.PUBLISH, 0, 0)
        assert packet == b"".join(paho_packets)
    finally:
        c._sock.close()
        c._sock = None
    assert c.publish_many(messages) == mqtt.MQTT_ERR_NO_CONN
