"""Just enough MQTT 3.1.1 on a raw socket to publish as fast as the broker accepts.

paho-mqtt spends several microseconds of Python per message; the benchmark's publisher
must be faster than every consumer it measures, so it builds packets itself and writes
many PUBLISH packets per ``sendall``. Only what the publisher needs is here: CONNECT /
CONNACK, PUBLISH (QoS 0 and 1), PUBACK, SUBSCRIBE / SUBACK and DISCONNECT.

>>> publish_packet(b"a/b", b"hi", qos=0)
b'0\\x07\\x00\\x03a/bhi'
>>> list(iter_packets(bytearray(b"@\\x02\\x00\\x01")))
[(64, b'\\x00\\x01')]
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBACK = 0x90
PINGRESP = 0xD0


class MqttError(ConnectionError):
    """The broker refused or dropped the connection."""


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def connect_packet(client_id: str, username: str, password: str, *, keepalive: int = 0) -> bytes:
    """CONNECT with clean session, username and password (keepalive 0 = none)."""
    var = _str(b"MQTT") + bytes([4, 0x80 | 0x40 | 0x02]) + struct.pack("!H", keepalive)
    body = var + _str(client_id.encode()) + _str(username.encode()) + _str(password.encode())
    return bytes([0x10]) + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, *, qos: int, packet_id: int = 0) -> bytes:
    """One PUBLISH; ``packet_id`` (1..65535) is required for QoS 1."""
    pid = struct.pack("!H", packet_id) if qos else b""
    body_len = 2 + len(topic) + len(pid) + len(payload)
    return bytes([PUBLISH | (qos << 1)]) + _remaining_length(body_len) + _str(topic) + pid + payload


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    body = struct.pack("!H", packet_id) + _str(topic.encode()) + bytes([qos])
    return bytes([0x82]) + _remaining_length(len(body)) + body


def puback_packet(packet_id: int) -> bytes:
    return bytes([PUBACK, 2]) + struct.pack("!H", packet_id)


DISCONNECT = bytes([0xE0, 0])


def iter_packets(buf: bytearray) -> Iterator[tuple[int, bytes]]:
    """Yield ``(first byte, body)`` of each complete packet and remove it from ``buf``."""
    pos = 0
    n = len(buf)
    while pos + 2 <= n:
        mult, length, i = 1, 0, pos + 1
        while True:
            if i >= n:
                del buf[:pos]
                return
            b = buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if i + length > n:
            break
        yield buf[pos], bytes(buf[i : i + length])
        pos = i + length
    del buf[:pos]


def split_publish(first: int, body: bytes) -> tuple[str, int, bytes]:
    """``(topic, packet_id, payload)`` of a PUBLISH body (packet_id 0 at QoS 0)."""
    (tlen,) = struct.unpack_from("!H", body)
    topic = body[2 : 2 + tlen].decode()
    pos = 2 + tlen
    pid = 0
    if (first >> 1) & 3:
        (pid,) = struct.unpack_from("!H", body, pos)
        pos += 2
    return topic, pid, body[pos:]


def open_connection(
    host: str, port: int, client_id: str, username: str, password: str, timeout_s: float = 10
) -> socket.socket:
    """A connected, authenticated socket (blocking, TCP_NODELAY); raises MqttError."""
    sock = socket.create_connection((host, port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id, username, password))
    buf = bytearray()
    while len(buf) < 4:
        chunk = sock.recv(4 - len(buf))
        if not chunk:
            raise MqttError(f"{username}: connection closed before CONNACK")
        buf += chunk
    if buf[0] != CONNACK or buf[3] != 0:
        sock.close()
        raise MqttError(f"{username}: CONNACK refused (rc {buf[3]})")
    sock.settimeout(None)
    return sock
