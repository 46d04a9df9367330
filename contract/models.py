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
"""

from __future__ import annotations

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
    ValidationError,
    model_validator,
)

from contract.topics import DEVICE_ID_PATTERN, Kind

#: The largest payload the cloud accepts; anything bigger is a dead letter.
MAX_PAYLOAD_BYTES = 16 * 1024

#: Most raw indicator frames kept with one weigh-in (for audit).
MAX_FRAMES = 32


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN, examples=["st-bank01"])]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
HexFrame = Annotated[str, Field(pattern=r"^([0-9a-f]{2}){1,256}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=512)


class EventBase(_Model):
    """Fields every upstream event carries."""

    v: Literal[1] = 1
    device_id: DeviceId
    seq: int = Field(ge=1, lt=2**63, description="per-device monotonic sequence, never reused")
    event_id: str = Field(max_length=80, description='"{device_id}:{seq}", the idempotency key')
    device_time: UtcDatetime = Field(description="device clock at the event")
    clock_synced: bool = Field(description="whether NTP had synchronised the device clock")
    boot_id: UUID = Field(description="random id of the device's current boot")
    mono_ms: int = Field(ge=0, description="monotonic milliseconds since boot")

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
    net_g: int = Field(gt=0, le=10_000_000, description="net weight in grams")
    tare_g: int = Field(default=0, ge=0, le=10_000_000, description="tare in grams")
    division_g: int = Field(gt=0, le=100_000, description="the scale's division d in grams")
    protocol: str = Field(max_length=32, description="indicator protocol the frames were read with")
    frames: list[HexFrame] = Field(
        default_factory=list, max_length=MAX_FRAMES, description="raw frames (hex) behind it"
    )
    stable_ms: int = Field(default=0, ge=0, description="length of the stable window")


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
    sw_version: str = Field(max_length=40)
    uptime_s: int = Field(ge=0)
    load1: float | None = Field(default=None, ge=0)
    mem_used_pct: float | None = Field(default=None, ge=0, le=100)
    disk_free_pct: float | None = Field(default=None, ge=0, le=100)
    cpu_temp_c: float | None = Field(default=None, ge=-60, le=150)
    outbox_depth: int = Field(ge=0)
    outbox_capacity: int = Field(ge=0)
    weighins_refused: int | None = Field(
        default=None, ge=0, description="weigh-ins refused since install (outbox full)"
    )
    telemetry_thinned: int | None = Field(
        default=None, ge=0, description="telemetry events dropped under outbox pressure"
    )
    in_reply_to: str | None = Field(default=None, max_length=80, description="cmd_id of a ping")


UpstreamEvent = Annotated[Weighin | Fill | Health, Field(discriminator="kind")]


class DeviceStatus(_Model):
    """Retained on ``.../status``; the Last Will is the same model with ``state='offline'``."""

    v: Literal[1] = 1
    device_id: DeviceId
    state: Literal["online", "offline"]
    sw_version: str | None = Field(default=None, max_length=40)
    boot_id: UUID | None = None
    at: UtcDatetime | None = None


class ReceiptStatus(StrEnum):
    CREDITED = "credited"
    UNASSIGNED = "unassigned"  # kept for an operator: unknown card or no card
    REJECTED = "rejected"


class Receipt(_Model):
    """The cloud's answer to one weigh-in; a redelivered weigh-in gets the same receipt."""

    v: Literal[1] = 1
    device_id: DeviceId
    event_id: str = Field(max_length=80)
    seq: int = Field(ge=1)
    status: ReceiptStatus
    amount_rp: int = Field(default=0, ge=0, description="rupiah credited")
    price_rp_per_kg: int | None = Field(default=None, ge=0)
    net_g: int | None = None
    member_no: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=200)
    processed_at: UtcDatetime


class CommandAction(StrEnum):
    TARE = "tare"
    ZERO = "zero"
    RELOAD = "reload"
    PING = "ping"


class DeviceCommand(_Model):
    """A command from the cloud on ``.../cmd``."""

    v: Literal[1] = 1
    cmd_id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    device_id: DeviceId
    action: CommandAction
    issued_at: UtcDatetime


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
    Kind.STATUS: DeviceStatus,
    Kind.RECEIPT: Receipt,
    Kind.CMD: DeviceCommand,
}


def model_for(kind: Kind | str) -> type[_Model]:
    return _MODELS[Kind(kind)]


def parse_payload(kind: Kind | str, payload: bytes | str) -> Any:
    """Validate a raw MQTT payload for ``kind``; raise :class:`ContractError` if it is bad."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return _MODELS[Kind(kind)].model_validate_json(raw)
    except ValidationError as exc:
        errors = describe_errors(exc)
        raise ContractError("; ".join(errors)[:1000], errors) from None


def to_json(model: BaseModel) -> bytes:
    """The wire form of a model (compact JSON, UTF-8)."""
    return model.model_dump_json(exclude_none=False).encode()


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload, keyed by kind."""
    return {k.value: m.model_json_schema() for k, m in _MODELS.items()}
