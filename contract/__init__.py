"""Salinmas wire contract v1: the MQTT topic tree and every payload model.

Edge, cloud and simulators import this package; it imports none of them (pydantic only).
The exact spec for people is ``docs/contract.md``; the JSON Schemas exported from these
models live in ``contract/schemas/``.
"""

from contract.models import (
    MAX_PAYLOAD_BYTES,
    Ack,
    CommandAction,
    ContractError,
    DeviceCommand,
    DeviceConfig,
    DeviceStatus,
    EventBase,
    Fill,
    Health,
    IngestOnline,
    Receipt,
    ReceiptStatus,
    SensorFault,
    UpstreamEvent,
    Weighin,
    describe_errors,
    parse_payload,
)
from contract.topics import (
    DEVICE_ID_PATTERN,
    FLEET_TOPICS,
    INGEST_ONLINE_TOPIC,
    PREFIX,
    TOPIC_SPECS,
    Kind,
    TopicError,
    TopicSpec,
    device_topic,
    parse_topic,
    subscription,
)

__all__ = [
    "DEVICE_ID_PATTERN",
    "FLEET_TOPICS",
    "INGEST_ONLINE_TOPIC",
    "MAX_PAYLOAD_BYTES",
    "PREFIX",
    "TOPIC_SPECS",
    "Ack",
    "CommandAction",
    "ContractError",
    "DeviceCommand",
    "DeviceConfig",
    "DeviceStatus",
    "EventBase",
    "Fill",
    "Health",
    "IngestOnline",
    "Kind",
    "Receipt",
    "ReceiptStatus",
    "SensorFault",
    "TopicError",
    "TopicSpec",
    "UpstreamEvent",
    "Weighin",
    "describe_errors",
    "device_topic",
    "parse_payload",
    "parse_topic",
    "subscription",
]
