"""Salinmas wire contract v1: the MQTT topic tree and every payload model.

Edge, cloud and simulators import this package; it imports none of them (pydantic only).
The exact spec for people is ``docs/contract.md``; the JSON Schemas exported from these
models live in ``contract/schemas/``.
"""

from contract.models import (
    MAX_PAYLOAD_BYTES,
    CommandAction,
    DeviceCommand,
    DeviceStatus,
    EventBase,
    Fill,
    Health,
    Receipt,
    ReceiptStatus,
    SensorFault,
    UpstreamEvent,
    Weighin,
    ContractError,
    describe_errors,
    parse_payload,
)
from contract.topics import (
    DEVICE_ID_PATTERN,
    PREFIX,
    Kind,
    TopicError,
    TopicSpec,
    TOPIC_SPECS,
    device_topic,
    parse_topic,
    subscription,
)

__all__ = [
    "CommandAction",
    "ContractError",
    "DEVICE_ID_PATTERN",
    "DeviceCommand",
    "DeviceStatus",
    "EventBase",
    "Fill",
    "Health",
    "Kind",
    "MAX_PAYLOAD_BYTES",
    "PREFIX",
    "Receipt",
    "ReceiptStatus",
    "SensorFault",
    "TOPIC_SPECS",
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
