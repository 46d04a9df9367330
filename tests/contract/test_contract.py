"""The wire contract: topics, payload validation, error messages and exported schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from contract import (
    MAX_PAYLOAD_BYTES,
    ContractError,
    Kind,
    TopicError,
    Weighin,
    device_topic,
    parse_payload,
    parse_topic,
    subscription,
)
from contract.__main__ import write_schemas
from contract.models import json_schemas, to_json

SCHEMA_DIR = Path(__file__).parents[2] / "contract" / "schemas"


def weighin(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1,
        "kind": "weighin",
        "device_id": "st-bank01",
        "seq": 7,
        "event_id": "st-bank01:7",
        "device_time": "2026-11-29T08:15:00+07:00",
        "clock_synced": True,
        "boot_id": str(uuid4()),
        "mono_ms": 123456,
        "card_id": "0A1B2C3D4E",
        "category": "organic",
        "net_g": 2350,
        "tare_g": 0,
        "division_g": 5,
        "protocol": "mtsics",
        "frames": ["5320532020202020322e333530206b670d0a"],
        "stable_ms": 1200,
    }
    body.update(overrides)
    return body


def test_topic_round_trip() -> None:
    topic = device_topic("st-bank01", Kind.WEIGHIN)
    assert topic == "salinmas/v1/dev/st-bank01/weighin"
    assert parse_topic(topic) == ("st-bank01", Kind.WEIGHIN)
    assert subscription(Kind.FILL) == "salinmas/v1/dev/+/fill"


@pytest.mark.parametrize(
    "topic",
    [
        "salinmas/v1/dev/st-bank01/unknown",
        "salinmas/v2/dev/st-bank01/weighin",
        "salinmas/v1/dev/ST_BANK/weighin",
        "salinmas/v1/dev/+/weighin",
        "salinmas/v1/dev/a/b/weighin",
        "",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_device_topic_refuses_wildcards() -> None:
    with pytest.raises(TopicError):
        device_topic("st-#", Kind.WEIGHIN)


def test_weighin_parses_and_normalises_time_to_utc() -> None:
    event = parse_payload(Kind.WEIGHIN, json.dumps(weighin()).encode())
    assert isinstance(event, Weighin)
    assert event.net_g == 2350
    assert event.device_time == datetime(2026, 11, 29, 1, 15, tzinfo=UTC)
    assert event.device_time.utcoffset() == timedelta(0)


def test_wire_form_round_trips() -> None:
    event = parse_payload(Kind.WEIGHIN, json.dumps(weighin()).encode())
    assert parse_payload(Kind.WEIGHIN, to_json(event)) == event


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"net_g": 0}, "net_g"),
        ({"net_g": 12.5}, "net_g"),
        ({"event_id": "st-bank01:8"}, "event_id"),
        ({"device_time": "2026-11-29T08:15:00"}, "device_time"),
        ({"category": "Organic Waste!"}, "category"),
        ({"surprise": 1}, "surprise"),
        ({"v": 2}, "v"),
        ({"seq": 0}, "seq"),
        ({"device_id": "st/bank"}, "device_id"),
    ],
)
def test_validation_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_payload(Kind.WEIGHIN, json.dumps(weighin(**change)).encode())
    assert any(field in e for e in info.value.errors) or field in str(info.value)


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b"null", b"\xff\xfe", b'{"v":1}'])
def test_garbage_payloads_raise_contract_error(payload: bytes) -> None:
    with pytest.raises(ContractError):
        parse_payload(Kind.WEIGHIN, payload)


def test_oversize_payload_is_refused_before_parsing() -> None:
    body = json.dumps(weighin()).encode() + b" " * MAX_PAYLOAD_BYTES
    with pytest.raises(ContractError, match="exceeds"):
        parse_payload(Kind.WEIGHIN, body)


def test_fill_needs_exactly_one_of_level_and_fault() -> None:
    base = {
        "device_id": "bin-01",
        "seq": 1,
        "event_id": "bin-01:1",
        "device_time": datetime.now(timezone(timedelta(hours=7))).isoformat(),
        "clock_synced": False,
        "boot_id": str(uuid4()),
        "mono_ms": 1,
        "bin_id": "bin-01-a",
    }
    ok = parse_payload(Kind.FILL, json.dumps({**base, "fill_pct": 42.5}))
    assert ok.fill_pct == 42.5
    fault = parse_payload(Kind.FILL, json.dumps({**base, "fault": "no_echo"}))
    assert fault.fill_pct is None
    for bad in ({}, {"fill_pct": 10, "fault": "no_echo"}):
        with pytest.raises(ContractError, match="exactly one"):
            parse_payload(Kind.FILL, json.dumps({**base, **bad}))


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    written = {p.name: p.read_text() for p in write_schemas(tmp_path)}
    committed = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.schema.json")}
    assert written == committed, "run `python -m contract` and commit contract/schemas"
    assert set(json_schemas()) == {k.value for k in Kind}
