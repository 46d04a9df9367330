"""The MQTT topic tree, v1.

Every topic is scoped to one device so the broker's ACL can confine it::

    salinmas/v1/dev/{device_id}/{weighin|fill|health|config|status}   device -> cloud
    salinmas/v1/dev/{device_id}/{receipt|cmd|ack}                     cloud  -> device

and one fleet-wide topic every device may read (never write)::

    salinmas/v1/cloud/ingest                                          cloud  -> every device

>>> device_topic("st-bank01", Kind.WEIGHIN)
'salinmas/v1/dev/st-bank01/weighin'
>>> parse_topic("salinmas/v1/dev/st-bank01/fill")
('st-bank01', <Kind.FILL: 'fill'>)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "salinmas/v1/dev"

#: Device ids double as MQTT usernames and topic levels: lower-case letters, digits and
#: dashes, 3-48 characters, never a wildcard or separator.
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)


class Kind(StrEnum):
    """The last topic level: what the message is."""

    WEIGHIN = "weighin"
    FILL = "fill"
    HEALTH = "health"
    CONFIG = "config"
    STATUS = "status"
    RECEIPT = "receipt"
    CMD = "cmd"
    ACK = "ack"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    kind: Kind
    upstream: bool  # device -> cloud
    qos: int
    retain: bool
    summary: str


TOPIC_SPECS: dict[Kind, TopicSpec] = {
    Kind.WEIGHIN: TopicSpec(Kind.WEIGHIN, True, 1, False, "a stable weigh-in at a scale station"),
    Kind.FILL: TopicSpec(Kind.FILL, True, 1, False, "a bin's fill level (or sensor fault)"),
    Kind.HEALTH: TopicSpec(Kind.HEALTH, True, 1, False, "the device's periodic heartbeat"),
    Kind.CONFIG: TopicSpec(
        Kind.CONFIG, True, 1, False, "a change of the device's software or configuration"
    ),
    Kind.STATUS: TopicSpec(
        Kind.STATUS, True, 1, True, "online/offline; retained; Last Will is offline"
    ),
    Kind.RECEIPT: TopicSpec(Kind.RECEIPT, False, 1, False, "the cloud's answer to a weigh-in"),
    Kind.CMD: TopicSpec(Kind.CMD, False, 1, False, "a command for the device"),
    # QoS 0: an ack is a hint the device may forget; one lost (its device offline, a
    # connection dropped) only makes the device send those events again, answered
    # idempotently. The event stays in the outbox until an ack arrives either way.
    Kind.ACK: TopicSpec(
        Kind.ACK, False, 0, False, "events the cloud has stored: the device may forget them"
    ),
}

UPSTREAM_KINDS = tuple(k for k, s in TOPIC_SPECS.items() if s.upstream)
DOWNSTREAM_KINDS = tuple(k for k, s in TOPIC_SPECS.items() if not s.upstream)


#: Fleet-wide topics: published by the cloud (retained), readable by every device.
CLOUD_PREFIX = "salinmas/v1/cloud"
#: an ingest worker (re)subscribed: devices re-send what the cloud has not confirmed
INGEST_ONLINE_TOPIC = f"{CLOUD_PREFIX}/ingest"
FLEET_TOPICS = (INGEST_ONLINE_TOPIC,)


class TopicError(ValueError):
    """A topic that is not in the v1 tree."""


def valid_device_id(device_id: str) -> bool:
    return bool(_DEVICE_ID_RE.fullmatch(device_id))


def device_topic(device_id: str, kind: Kind | str) -> str:
    """The topic for ``kind`` messages of one device."""
    if not valid_device_id(device_id):
        raise TopicError(f"invalid device id {device_id!r} (expected {DEVICE_ID_PATTERN})")
    return f"{PREFIX}/{device_id}/{Kind(kind).value}"


def parse_topic(topic: str) -> tuple[str, Kind]:
    """Split a v1 topic into ``(device_id, kind)``; raise :class:`TopicError` otherwise."""
    prefix, sep, rest = topic.rpartition("/")
    head, _, device_id = prefix.rpartition("/")
    if not sep or head != PREFIX:
        raise TopicError(f"not a salinmas v1 device topic: {topic[:120]!r}")
    if not valid_device_id(device_id):
        raise TopicError(f"invalid device id in topic: {device_id[:60]!r}")
    try:
        kind = Kind(rest)
    except ValueError:
        raise TopicError(f"unknown message kind {rest[:40]!r} in topic") from None
    return device_id, kind


def subscription(kind: Kind | str | None = None, *, device_id: str = "+") -> str:
    """A subscription filter: one kind (or all with ``#``-like ``+``) for one or all devices."""
    last = "+" if kind is None else Kind(kind).value
    return f"{PREFIX}/{device_id}/{last}"
