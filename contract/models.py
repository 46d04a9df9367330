"""Payload models of wire contract v1.

Payloads are JSON objects with ``"v": 1``. Unknown fields are rejected (``extra="forbid"``)
so a typo or a hostile extra field never passes silently. Weights are integer grams,
money is integer rupiah, times are ISO-8601 with an offset (stored and compared in UTC).

Every upstream *event* (weigh-in, fill, health) carries:

- ``device_id`` — must equal the topic's device id and the MQTT username;
- ``seq`` — per-device, monotonic, never reused (survives reboots);
- ``event_id`` — ``"{device_id}:{seq}"``, the idempotency key;
- ``device_time`` and ``clock_synced`` — the device clock, and whether NTP had synced it;
- ``boot_id`` and ``mono_ms`` — which boot, and the monotonic clock within it.

A station's weigh-in is signed by the device (Ed25519) and hash-chained per device key:
``public_key``, ``chain_pos``, ``prev_hash``, ``sw_hash``, ``config_hash`` and
``signature`` (all six or none); the exact bytes signed are :func:`contract.signing.signed_bytes`.

One module of ~600 lines on purpose: the wire contract v1 is one document, versioned
as a whole; its models share the field types and the strict base (``contract/`` is
published as the JSON Schemas of ``salinmas contract schemas``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from contract.topics import DEVICE_ID_PATTERN, INGEST_ONLINE_TOPIC, Kind

#: The largest payload the cloud accepts; anything bigger is a dead letter.
MAX_PAYLOAD_BYTES = 16 * 1024

#: Most raw indicator frames kept with one weigh-in (for audit).
MAX_FRAMES = 32

#: The heaviest weight the contract can carry (10 t); each station's own bound is the
#: capacity of its scale, kept in the cloud's device registry.
MAX_WEIGHT_G = 10_000_000

#: Integer bounds of the database columns values end up in (so a huge number is a
#: contract error, not a failed insert).
INT32_MAX = 2**31 - 1
INT64_LIMIT = 2**63

#: Times on the wire: RFC 3339 with seconds and an offset (``Z`` or ``+07:00``), at most
#: microseconds. Never a number, a bare date, or a Unix time in a string.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)

#: Not in free text: control characters (C0, DEL, C1, NUL included), line/paragraph
#: separators, bidirectional overrides and isolates (they can disguise text on screen).
_NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
TEXT_PATTERN = f"^[^{_NOT_TEXT}]*$"
_UNPRINTABLE = re.compile(f"[{_NOT_TEXT}\ud800-\udfff]")


def printable(text: str, limit: int) -> str:
    """``text`` fit for a free-text field: what :data:`TEXT_PATTERN` refuses (and lone
    surrogates) replaced by U+FFFD, cut to ``limit`` characters.

    >>> printable("bad\x00key\n", 10)
    'bad\ufffdkey\ufffd'
    """
    return _UNPRINTABLE.sub("\ufffd", text[:limit])


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _from_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class _WireTime:
    """An aware datetime, in UTC; in JSON only an RFC 3339 string (:data:`RFC3339_PATTERN`).

    pydantic alone would also take a Unix time (``1764...`` or ``"1764..."``) or a bare
    date; Python callers may still pass a ``datetime`` (or anything pydantic parses).
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        wire = core_schema.no_info_after_validator_function(
            _from_rfc3339, core_schema.str_schema(pattern=RFC3339_PATTERN)
        )
        return core_schema.json_or_python_schema(
            json_schema=wire,
            python_schema=handler(source),
            serialization=core_schema.simple_ser_schema("datetime"),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}


DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN, examples=["st-bank01"])]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc), _WireTime()]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
HexFrame = Annotated[str, Field(pattern=r"^([0-9a-f]{2}){1,256}$")]
Text = Annotated[str, Field(pattern=TEXT_PATTERN)]
#: ``"{device_id}:{seq}"``
EventId = Annotated[
    str, Field(max_length=80, pattern=DEVICE_ID_PATTERN[:-1] + r":[1-9][0-9]{0,18}$")
]
CmdId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
#: 32 bytes in lower-case hex: an Ed25519 public key, a SHA-256 digest
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: 64 bytes in lower-case hex: an Ed25519 signature
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]
#: a receipt's verification code: 12 characters of Crockford base32 (60 bits), upper case
#: without separators on the wire (printed as ``XXXX-XXXX-XXXX``; :mod:`contract.codes`)
VerifyCode = Annotated[str, Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{12}$")]

#: ``prev_hash`` of the first record of a chain
GENESIS_HASH = "0" * 64
#: the fields that sign a weigh-in: all of them or none
SIGNING_FIELDS = ("public_key", "chain_pos", "prev_hash", "sw_hash", "config_hash", "signature")
#: ``"v": 1`` — an integer (``Literal[1]`` would also let ``true`` and ``1.0`` through)
Version = Annotated[int, Field(ge=1, le=1), WithJsonSchema({"const": 1, "type": "integer"})]


class _Model(BaseModel):
    """Strict on the wire: :func:`parse_payload` validates JSON with ``strict=True``.

    JSON types are exactly the schema's (no ``"12"`` for 12, no ``true`` for 1, no number
    for a time or a string for a boolean), NaN and infinities are refused, strings are
    at most 512 characters. Python callers building a model may pass equivalent values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=512, allow_inf_nan=False)


class EventBase(_Model):
    """Fields every upstream event carries."""

    v: Version = 1
    device_id: DeviceId
    seq: int = Field(
        ge=1, lt=INT64_LIMIT, description="per-device monotonic sequence, never reused"
    )
    event_id: EventId = Field(description='"{device_id}:{seq}", the idempotency key')
    device_time: UtcDatetime = Field(description="device clock at the event")
    clock_synced: bool = Field(description="whether NTP had synchronised the device clock")
    boot_id: UUID = Field(description="random id of the device's current boot")
    mono_ms: int = Field(ge=0, lt=INT64_LIMIT, description="monotonic milliseconds since boot")

    @model_validator(mode="after")
    def _event_id_matches(self) -> EventBase:
        expected = f"{self.device_id}:{self.seq}"
        if self.event_id != expected:
            raise ValueError(f"event_id must be {expected!r}, got {self.event_id!r}")
        return self

    @staticmethod
    def make_event_id(device_id: str, seq: int) -> str:
        return f"{device_id}:{seq}"


class Weighin(EventBase):
    """A stable weigh-in captured at a scale station."""

    kind: Literal["weighin"] = "weighin"
    card_id: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Za-z:_-]{1,64}$",
        description="member card id as read; null when no card was presented (unassigned)",
    )
    category: Slug = Field(description="waste category code, e.g. 'organic' or 'plastic-pet'")
    net_g: int = Field(gt=0, le=MAX_WEIGHT_G, description="net weight in grams")
    tare_g: int = Field(default=0, ge=0, le=MAX_WEIGHT_G, description="tare in grams")
    division_g: int = Field(gt=0, le=100_000, description="the scale's division d in grams")
    protocol: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$",
        description="indicator protocol the frames were read with (its registered name)",
    )
    frames: list[HexFrame] = Field(
        default_factory=list, max_length=MAX_FRAMES, description="raw frames (hex) behind it"
    )
    stable_ms: int = Field(default=0, ge=0, le=INT32_MAX, description="length of the stable window")
    # -- the device's signature (contract.signing); all of these or none --------------
    public_key: Hex32 | None = Field(
        default=None, description="the device's Ed25519 public key (hex) that signed it"
    )
    chain_pos: int | None = Field(
        default=None, ge=1, lt=INT64_LIMIT, description="position in the key's weigh-in chain"
    )
    prev_hash: Hex32 | None = Field(
        default=None, description="record hash of the key's previous weigh-in (zeros at 1)"
    )
    sw_hash: Hex32 | None = Field(default=None, description="hash of the agent's installed code")
    config_hash: Hex32 | None = Field(
        default=None, description="hash of the station's metrological configuration"
    )
    signature: Hex64 | None = Field(
        default=None, description="Ed25519 signature of contract.signing.signed_bytes"
    )

    @model_validator(mode="after")
    def _signed_whole(self) -> Weighin:
        given = [getattr(self, name) is not None for name in SIGNING_FIELDS]
        if any(given) and not all(given):
            missing = [n for n, g in zip(SIGNING_FIELDS, given, strict=True) if not g]
            raise ValueError(f"a signed weigh-in needs all of {', '.join(missing)}")
        if self.chain_pos is not None and (self.chain_pos == 1) != (self.prev_hash == GENESIS_HASH):
            raise ValueError("prev_hash is all zeros exactly at chain_pos 1")
        return self

    @property
    def signed(self) -> bool:
        return self.signature is not None


class SensorFault(StrEnum):
    NO_ECHO = "no_echo"
    OUT_OF_RANGE = "out_of_range"
    UNSTABLE = "unstable"
    HARDWARE = "hardware"


class Fill(EventBase):
    """A bin's fill level. ``fill_pct`` is null exactly when ``fault`` is set."""

    kind: Literal["fill"] = "fill"
    bin_id: DeviceId
    fill_pct: float | None = Field(default=None, ge=0, le=100)
    distance_mm: int | None = Field(default=None, ge=0, le=10_000)
    fault: SensorFault | None = None
    lid_open: bool | None = None
    tilted: bool | None = None

    @model_validator(mode="after")
    def _fault_xor_level(self) -> Fill:
        if (self.fault is None) == (self.fill_pct is None):
            raise ValueError("exactly one of fill_pct and fault must be set")
        return self


class Health(EventBase):
    """The device's heartbeat."""

    kind: Literal["health"] = "health"
    sw_version: Text = Field(max_length=40)
    uptime_s: int = Field(ge=0, le=INT32_MAX)
    load1: float | None = Field(default=None, ge=0)
    mem_used_pct: float | None = Field(default=None, ge=0, le=100)
    disk_free_pct: float | None = Field(default=None, ge=0, le=100)
    cpu_temp_c: float | None = Field(default=None, ge=-60, le=150)
    outbox_depth: int = Field(ge=0, le=INT32_MAX)
    outbox_capacity: int = Field(ge=0, le=INT32_MAX)
    weighins_refused: int | None = Field(
        default=None,
        ge=0,
        lt=INT64_LIMIT,
        description="weigh-ins refused since install (outbox full)",
    )
    telemetry_thinned: int | None = Field(
        default=None,
        ge=0,
        lt=INT64_LIMIT,
        description="telemetry events dropped under outbox pressure",
    )
    in_reply_to: CmdId | None = Field(default=None, description="cmd_id of a ping")
    sw_hash: Hex32 | None = Field(default=None, description="hash of the agent's installed code")
    config_hash: Hex32 | None = Field(
        default=None, description="hash of the station's metrological configuration"
    )
    public_key: Hex32 | None = Field(default=None, description="the device's Ed25519 public key")


class DeviceConfig(EventBase):
    """An entry of the device's configuration log (alibi memory in spirit): sent when the
    agent starts with, or reloads, a software build or metrological configuration that
    differs from the last entry. ``config_hash`` is :func:`contract.signing.config_hash`
    of the station fields below (null fields for a device without a scale)."""

    kind: Literal["config"] = "config"
    log_pos: int = Field(ge=1, lt=INT64_LIMIT, description="position in the device's log")
    change: Text = Field(max_length=200, description="what changed since the previous entry")
    sw_version: Text = Field(max_length=40)
    sw_hash: Hex32
    config_hash: Hex32
    public_key: Hex32 | None = None
    protocol: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    division_g: int | None = Field(default=None, gt=0, le=100_000)
    capacity_g: int | None = Field(default=None, gt=0, le=MAX_WEIGHT_G)
    min_divisions: int | None = Field(default=None, ge=1, le=100_000)
    stable_window_ms: int | None = Field(default=None, ge=0, le=INT32_MAX)
    min_stable_samples: int | None = Field(default=None, ge=1, le=100_000)
    calibration: Text | None = Field(
        default=None, max_length=120, description="the scale's legal verification mark"
    )


UpstreamEvent = Annotated[Weighin | Fill | Health | DeviceConfig, Field(discriminator="kind")]


class DeviceStatus(_Model):
    """Retained on ``.../status``; the Last Will is the same model with ``state='offline'``."""

    v: Version = 1
    device_id: DeviceId
    state: Literal["online", "offline"]
    sw_version: Text | None = Field(default=None, max_length=40)
    boot_id: UUID | None = None
    at: UtcDatetime | None = None
    mono_ms: int | None = Field(
        default=None,
        ge=0,
        lt=INT64_LIMIT,
        description="monotonic ms of the boot when published (the cloud dates the boot by it)",
    )


class ReceiptStatus(StrEnum):
    CREDITED = "credited"
    UNASSIGNED = "unassigned"  # kept for an operator: unknown card or no card
    REJECTED = "rejected"
    #: kept for an operator, not credited: its signature, chain, frames, build or
    #: configuration did not check out (``reason`` says which), or its time is not known yet
    HELD = "held"


class Receipt(_Model):
    """The cloud's answer to one weigh-in; a redelivered weigh-in gets the same receipt."""

    v: Version = 1
    device_id: DeviceId
    event_id: EventId
    seq: int = Field(ge=1, lt=INT64_LIMIT)
    status: ReceiptStatus
    amount_rp: int = Field(default=0, ge=0, lt=INT64_LIMIT, description="rupiah credited")
    price_rp_per_kg: int | None = Field(default=None, ge=0, lt=INT64_LIMIT)
    net_g: int | None = Field(default=None, ge=0, le=MAX_WEIGHT_G)
    member_no: Text | None = Field(default=None, max_length=40)
    reason: Text | None = Field(default=None, max_length=200)
    processed_at: UtcDatetime
    verify_code: VerifyCode | None = Field(
        default=None, description="the code a household checks the record with (public page)"
    )


class CommandAction(StrEnum):
    TARE = "tare"
    ZERO = "zero"
    RELOAD = "reload"
    PING = "ping"


class DeviceCommand(_Model):
    """A command from the cloud on ``.../cmd``."""

    v: Version = 1
    cmd_id: CmdId
    device_id: DeviceId
    action: CommandAction
    issued_at: UtcDatetime


#: most seq ranges in one ``ack`` (a longer confirmation is split into several messages)
MAX_ACK_RANGES = 256

Seq = Annotated[int, Field(ge=1, lt=2**63)]


class Ack(_Model):
    """``ack``: the cloud has stored these events, or kept them as dead letters; forget them.

    Fill and health events, and weigh-ins that got no receipt (dead letters), are
    confirmed here; a weigh-in with a receipt is completed by its receipt. ``seqs`` are
    inclusive ``[first, last]`` ranges, coalesced per device over a short interval.
    """

    v: Literal[1] = 1
    device_id: DeviceId
    seqs: list[tuple[Seq, Seq]] = Field(
        min_length=1, max_length=MAX_ACK_RANGES, description="inclusive [first, last] ranges"
    )

    @model_validator(mode="after")
    def _ranges_ordered(self) -> Ack:
        if any(first > last for first, last in self.seqs):
            raise ValueError("each range must be [first, last] with first <= last")
        return self

    @classmethod
    def for_seqs(cls, device_id: str, seqs: Iterable[int]) -> list[Ack]:
        """The fewest messages confirming ``seqs`` (coalesced into ranges)."""
        ranges: list[tuple[int, int]] = []
        for seq in sorted(set(seqs)):
            if ranges and seq == ranges[-1][1] + 1:
                ranges[-1] = (ranges[-1][0], seq)
            else:
                ranges.append((seq, seq))
        return [
            cls(device_id=device_id, seqs=ranges[i : i + MAX_ACK_RANGES])
            for i in range(0, len(ranges), MAX_ACK_RANGES)
        ]


class IngestOnline(_Model):
    """Retained on ``salinmas/v1/cloud/ingest``: an ingest worker has (re)subscribed.

    A new ``epoch`` tells every device that events the broker acknowledged but the cloud
    has not confirmed may have been lost (a broker restart drops them): send them again.
    """

    v: Literal[1] = 1
    epoch: str = Field(pattern=r"^[0-9a-f]{8,64}$", description="new at every subscribe")
    at: UtcDatetime


class ContractError(ValueError):
    """A payload that does not satisfy the contract; ``errors`` names each field and why."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def describe_errors(exc: ValidationError) -> list[str]:
    """``['net_g: Input should be greater than 0', ...]`` — which field and why."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(payload)"
        out.append(f"{loc}: {err['msg']}")
    return out


_MODELS: dict[Kind, type[_Model]] = {
    Kind.WEIGHIN: Weighin,
    Kind.FILL: Fill,
    Kind.HEALTH: Health,
    Kind.CONFIG: DeviceConfig,
    Kind.STATUS: DeviceStatus,
    Kind.RECEIPT: Receipt,
    Kind.CMD: DeviceCommand,
    Kind.ACK: Ack,
}

#: payload models of the fleet-wide topics (``contract.topics.FLEET_TOPICS``)
FLEET_MODELS: dict[str, type[_Model]] = {INGEST_ONLINE_TOPIC: IngestOnline}


def model_for(kind: Kind | str) -> type[_Model]:
    return _MODELS[Kind(kind)]


def parse_payload(kind: Kind | str, payload: bytes | str) -> Any:
    """Validate a raw MQTT payload for ``kind``; raise :class:`ContractError` if it is bad.

    Strict (see :class:`_Model`), and a key given twice in the object is refused: JSON
    parsers keep the last one silently, so ``{"net_g": 1, "net_g": 9999999}`` would be
    one payload to a reviewer and another to the ledger.
    """
    return _parse(_MODELS[Kind(kind)], payload)


def parse_fleet_payload(topic: str, payload: bytes | str) -> Any:
    """:func:`parse_payload` for a fleet-wide topic (``contract.topics.FLEET_TOPICS``)."""
    return _parse(FLEET_MODELS[topic], payload)


def _parse(model_type: type[_Model], payload: bytes | str) -> Any:
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        model = model_type.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = describe_errors(exc)
        raise ContractError("; ".join(errors)[:1000], errors) from None
    # Every key and every string value brings two quote characters, so a payload with
    # more quotes than the model's keys and strings account for repeats a key (or has an
    # escaped quote inside a string): only then is it parsed again, key by key. Counting
    # adds ~15 % to parsing; parsing every message again (json with object_pairs_hook)
    # would more than double it (bench/contract_parse.py, docs/benchmarks.md).
    if raw.count(b'"') != 2 * (len(model.model_fields_set) + _strings_in(model)):
        _refuse_duplicate_keys(raw)
    return model


@dataclass(frozen=True, slots=True)
class _StringLayout:
    """Which fields of a model are JSON strings, read from its JSON Schema once."""

    always: int  # required fields that are always a string
    optional: tuple[str, ...]  # a string when given and not null
    lists: tuple[str, ...]  # arrays (of strings)


def _is_string(prop: dict[str, Any], defs: dict[str, Any]) -> bool:
    if "$ref" in prop:
        prop = defs[prop["$ref"].rpartition("/")[2]]
    return prop.get("type") == "string"


@functools.cache
def _string_layout(model: type[BaseModel]) -> _StringLayout:
    schema = model.model_json_schema()
    defs, required = schema.get("$defs", {}), set(schema.get("required", ()))
    always, optional, lists = 0, [], []
    for name, prop in schema["properties"].items():
        if prop.get("type") == "array":
            if _is_string(prop.get("items", {}), defs):  # (an ack's seq ranges are not)
                lists.append(name)
        elif any(_is_string(p, defs) for p in prop.get("anyOf", [prop])):
            nullable = any(p.get("type") == "null" for p in prop.get("anyOf", ()))
            if name in required and not nullable:
                always += 1
            else:
                optional.append(name)
    return _StringLayout(always, tuple(optional), tuple(lists))


def _strings_in(model: BaseModel) -> int:
    """How many JSON strings the given fields of a strictly parsed ``model`` were.

    Types are exact on the wire, so the schema says which fields were strings: the
    required ones, the optional ones that were given and not null, and each item of an
    array (the contract's arrays hold strings).
    """
    layout = _string_layout(type(model))
    given, values = model.model_fields_set, model.__dict__
    n = layout.always
    for name in layout.optional:
        if name in given and values[name] is not None:
            n += 1
    for name in layout.lists:
        n += len(values[name])
    return n


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ContractError(
                f"duplicate key {key[:40]!r} in a JSON object", [f"{key[:40]}: duplicate key"]
            )
        seen.add(key)
    return dict(pairs)


def _refuse_duplicate_keys(raw: bytes) -> None:
    try:
        json.loads(raw, object_pairs_hook=_unique_keys)
    except ContractError:
        raise
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ContractError(f"not JSON the contract accepts: {exc}"[:1000]) from None


class EventKey(BaseModel):
    """Who sent an event and which one: what a refusal's answer (a receipt) needs.

    Read with :func:`event_key` from a payload that failed the contract, so the station
    can still be told that its weigh-in was refused.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=512)

    device_id: DeviceId
    seq: int = Field(ge=1, lt=INT64_LIMIT)
    event_id: EventId


def event_key(payload: bytes) -> EventKey | None:
    """``device_id``, ``seq`` and ``event_id`` of a payload if those three are valid and agree."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        key = EventKey.model_validate_json(payload, strict=True)
    except ValidationError:
        return None
    return key if key.event_id == EventBase.make_event_id(key.device_id, key.seq) else None


def to_json(model: BaseModel) -> bytes:
    """The wire form of a model (compact JSON, UTF-8)."""
    return model.model_dump_json(exclude_none=False).encode()


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload, keyed by kind."""
    return {k.value: m.model_json_schema() for k, m in _MODELS.items()}


def fleet_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every fleet-wide payload, keyed by the topic's last level."""
    return {t.rsplit("/", 1)[1]: m.model_json_schema() for t, m in FLEET_MODELS.items()}
