"""A read-ahead buffer under paho's socket reads.

paho-mqtt reads every packet with several ``recv`` calls on the raw socket (the command
byte, each byte of the remaining length, then the body), so a stream of small PUBLISH
packets costs three or four system calls per message. :class:`ReadAheadSocket` wraps
the connected TCP socket: one ``recv`` of up to 64 KiB fills a buffer and paho's reads
are served from it. It exposes ``pending()`` like an ``ssl.SSLSocket`` does, which is how
paho already learns that bytes are waiting without a ``select``.

:class:`ReadAheadClient` is a paho ``Client`` whose plain TCP connections are wrapped
this way (TLS and WebSocket connections are left as paho makes them: TLS already reads
whole records). It relies on private parts of paho 2.2 — it overrides ``_create_socket``
(called by ``reconnect`` to open the socket kept in ``_sock``), queues PUBACKs and QoS 0
PUBLISH packets with ``_packet_queue(command, packet, mid, qos, info)`` (reading the
protocol in ``_protocol``) and replaces the ``MQTTMatcher`` in
``_on_message_filtered`` (reading ``_root._children``). :data:`PAHO_INTERNALS` lists
exactly these; :func:`check_paho_internals` runs when a client is made and refuses to
start on a paho that lacks one (no silent fallback), and ``tests/cloud/test_readahead.py``
checks both that and that the fast path is really taken. paho is pinned to the minor
version this was measured on (``paho-mqtt>=2.2,<2.3``).
"""

from __future__ import annotations

import inspect
import socket
import ssl
import struct
from collections.abc import Sequence
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.matcher import MQTTMatcher

READ_AHEAD_BYTES = 64 * 1024
#: PUBACK with the success reason omitted, byte for byte what paho sends (MQTT 3.1.1 and 5)
_PUBACK = struct.Struct("!BBH")
_STR16 = struct.Struct("!H")
#: most packets read per loop pass (then paho sends what is queued, e.g. PUBACKs)
_MAX_DRAIN = 500

#: the private parts of paho's ``Client`` this module uses: name -> parameters expected
PAHO_INTERNALS: dict[str, tuple[str, ...]] = {
    "_create_socket": ("self",),
    "_packet_queue": ("self", "command", "packet", "mid", "qos", "info"),
    "loop_read": ("self", "max_packets"),
}


def _varint(out: bytearray, n: int) -> None:
    """MQTT's "remaining length": 7 bits a byte, low first, top bit = more follows."""
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return


class PahoChanged(RuntimeError):
    """paho's internals differ from the ones the read-ahead client was written against."""


def check_paho_internals(client: mqtt.Client | None = None) -> None:
    """Raise :class:`PahoChanged` unless paho has every internal this module relies on."""
    problems = []
    for name, params in PAHO_INTERNALS.items():
        fn = getattr(mqtt.Client, name, None)
        if fn is None:
            problems.append(f"Client.{name} is gone")
        elif tuple(inspect.signature(fn).parameters) != params:
            problems.append(f"Client.{name}{inspect.signature(fn)} != {params}")
    if client is not None:
        matcher = getattr(client, "_on_message_filtered", None)
        if not isinstance(matcher, MQTTMatcher):
            problems.append("Client._on_message_filtered is not an MQTTMatcher")
        elif not isinstance(getattr(getattr(matcher, "_root", None), "_children", None), dict):
            problems.append("MQTTMatcher._root._children is not a dict")
        if not hasattr(client, "_sock"):
            problems.append("Client._sock is gone")
        if getattr(client, "_protocol", None) not in (mqtt.MQTTv31, mqtt.MQTTv311, mqtt.MQTTv5):
            problems.append("Client._protocol is not a protocol version")
    if problems:
        raise PahoChanged(
            f"paho-mqtt {paho.mqtt.__version__} differs "
            f"from what cloud/ingest/readahead.py needs: {'; '.join(problems)}; "
            "set mqtt_read_ahead = false or adapt the module"
        )


class ReadAheadSocket:
    """A non-blocking TCP socket whose ``recv`` is served from a read-ahead buffer."""

    def __init__(self, sock: socket.socket, size: int = READ_AHEAD_BYTES) -> None:
        self._sock = sock
        self._size = size
        self._buf = b""
        self._pos = 0
        #: system ``recv`` calls made (tests check the fast path is taken)
        self.fills = 0

    def recv(self, bufsize: int) -> bytes:
        pos = self._pos
        if pos >= len(self._buf):
            data = self._sock.recv(max(bufsize, self._size))  # BlockingIOError when empty
            self.fills += 1
            if len(data) <= bufsize:
                return data  # includes b"" (closed by the peer)
            self._buf, pos = data, 0
        end = pos + bufsize
        chunk = self._buf[pos:end]
        self._pos = pos + len(chunk)
        if self._pos >= len(self._buf):
            self._buf, self._pos = b"", 0
        return chunk

    def pending(self) -> int:
        """Bytes received and not yet read (paho then skips waiting in ``select``)."""
        return len(self._buf) - self._pos

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def close(self) -> None:
        self._buf, self._pos = b"", 0
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Matcher(MQTTMatcher):
    """paho's topic matcher, answering at once when no per-topic callback is set."""

    def iter_match(self, topic: str) -> Any:
        if not self._root._children:
            return iter(())
        return super().iter_match(topic)  # type: ignore[no-untyped-call]


class ReadAheadClient(mqtt.Client):
    """A paho client reading plain TCP connections through :class:`ReadAheadSocket`.

    Its ``loop_read`` also goes on reading while whole packets wait in the buffer, where
    paho's would return after one packet and pass through ``select`` again; and
    :meth:`ack_many` acknowledges a batch with one queued write instead of one write and
    one wake-up of the network thread per message; :meth:`publish_many` does the same for
    QoS 0 messages (the ingest's ``ack`` confirmations). Without per-topic callbacks
    (``message_callback_add``) it skips paho's topic matching for every message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_paho_internals(self)
        self._on_message_filtered = _Matcher()  # type: ignore[no-untyped-call]

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge received QoS 1 messages (``manual_ack=True``), in one write."""
        if mids:
            packet = b"".join(_PUBACK.pack(mqtt.PUBACK, 2, m) for m in mids)
            self._packet_queue(mqtt.PUBACK, packet, 0, 1)

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> MQTTErrorCode:
        """Publish ``(topic, payload)`` pairs at QoS 0, not retained, in one queued write.

        Byte for byte the PUBLISH packets paho's ``publish(topic, payload, qos=0)`` sends
        (MQTT 3.1.1, or 5 without properties), without a packet, a write and, from a
        thread other than the network thread, a ``send`` system call for each message.
        """
        if not messages:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        v5 = self._protocol == mqtt.MQTTv5
        out = bytearray()
        for topic, payload in messages:
            name = topic.encode()
            out.append(mqtt.PUBLISH)
            _varint(out, 2 + len(name) + v5 + len(payload))
            out += _STR16.pack(len(name))
            out += name
            if v5:
                out.append(0)  # no properties
            out += payload
        # paho marks the info published (and calls on_publish, mid 0) once it is written
        return self._packet_queue(mqtt.PUBLISH, out, 0, 0, mqtt.MQTTMessageInfo(0))

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock: Any = self._sock
        for _ in range(_MAX_DRAIN):
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, ReadAheadSocket):
                break
            if sock.pending() == 0 or self._sock is not sock:
                break
            rc = super().loop_read(max_packets)
        return rc

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
            return ReadAheadSocket(sock)
        return sock
