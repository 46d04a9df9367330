"""The contract is strict on the wire: exact JSON types, no repeated keys, bounded values.

Mutants each test here was run against (each fails at least one test):
- ``strict=True`` dropped from ``parse_payload`` -> the coercion cases pass validation.
- the repeated-key check skipped (or its quote count always equal) -> duplicates pass.
- ``allow_inf_nan=False`` dropped from ``_Model`` -> ``load1: Infinity`` passes.
- ``Version`` back to ``Literal[1]`` -> ``"v": true`` passes.
- the RFC 3339 pattern dropped (``_WireTime`` removed) -> a Unix time in a string passes.
- ``TEXT_PATTERN`` dropped from ``sw_version`` -> NUL passes.
- a wrong string layout (``_strings_in`` off by one) -> every honest payload is re-parsed
  (``test_honest_payloads_take_the_fast_path``) or duplicates pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract import ContractError, Kind, parse_payload
from contract.models import (
    INT32_MAX,
    INT64_LIMIT,
    _strings_in,
    event_key,
    printable,
)
from tests.cloud.factories import fill, health, weighin

BOOT = "6f1c3a52-8d0e-4b7e-9a53-2f3cf1d7a001"


def _weighin(**change: Any) -> dict[str, Any]:
    body = json.loads(weighin("st-bank01", seq=7).model_dump_json())
    body.update(change)
    return body


def _refused(kind: Kind, raw: bytes | str, field: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_payload(kind, raw)
    assert field in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # the five payloads of issue 13, and their cousins
        ({"net_g": "12340"}, "net_g"),
        ({"net_g": True}, "net_g"),
        ({"device_time": 1764550000}, "device_time"),
        ({"seq": "7"}, "seq"),
        ({"clock_synced": "yes"}, "clock_synced"),
        ({"clock_synced": 1}, "clock_synced"),
        ({"net_g": 1250.0}, "net_g"),
        ({"device_time": "1764550000"}, "device_time"),  # a Unix time in a string
        ({"device_time": "2026-11-29"}, "device_time"),
        ({"device_time": "2026-11-29 01:15:00Z"}, "device_time"),
        ({"device_time": "2026-11-29T01:15:00"}, "device_time"),  # no offset
        ({"device_time": "2026-13-29T01:15:00Z"}, "device_time"),
        ({"v": True}, "v"),
        ({"v": 1.0}, "v"),
        ({"v": "1"}, "v"),
        ({"tare_g": None}, "tare_g"),
        ({"frames": "5320"}, "frames"),
        ({"card_id": 1234}, "card_id"),
        ({"mono_ms": INT64_LIMIT}, "mono_ms"),
        ({"stable_ms": INT32_MAX + 1}, "stable_ms"),
        ({"net_g": 10_000_001}, "net_g"),
        ({"protocol": "mt\x00sics"}, "protocol"),
        ({"protocol": "mtsics\n"}, "protocol"),
        ({"category": "organic\u202e"}, "category"),
        ({"frames": [["5320"]]}, "frames"),
        ({"extra": {"nested": 1}}, "extra"),
    ],
)
def test_weighin_types_are_exact(change: dict[str, Any], field: str) -> None:
    _refused(Kind.WEIGHIN, json.dumps(_weighin(**change)), field)


def test_a_time_with_an_offset_is_normalised_and_a_datetime_still_builds_a_model() -> None:
    event = parse_payload(
        Kind.WEIGHIN, json.dumps(_weighin(device_time="2026-11-29T08:15:00.5+07:00"))
    )
    assert event.device_time.isoformat() == "2026-11-29T01:15:00.500000+00:00"
    assert weighin("st-bank01").device_time.tzinfo is not None  # Python callers: a datetime


@pytest.mark.parametrize(
    "raw",
    [
        '"load1": NaN',
        '"load1": Infinity',
        '"load1": -Infinity',
        '"load1": 1e400',
        '"mem_used_pct": NaN',
    ],
)
def test_nan_and_infinities_are_refused(raw: str) -> None:
    field = raw.split('"')[1]
    body = json.loads(health("st-bank01").model_dump_json())
    del body[field]
    _refused(Kind.HEALTH, json.dumps(body)[:-1] + ", " + raw + "}", field)


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        (Kind.HEALTH, {"sw_version": "1.0\x00evil"}, "sw_version"),
        (Kind.HEALTH, {"sw_version": "1.0\x1b[31m"}, "sw_version"),
        (Kind.HEALTH, {"sw_version": "1.0\u2066x"}, "sw_version"),
        (Kind.HEALTH, {"uptime_s": INT32_MAX + 1}, "uptime_s"),
        (Kind.HEALTH, {"outbox_depth": -1}, "outbox_depth"),
        (Kind.HEALTH, {"in_reply_to": "ping 1"}, "in_reply_to"),
        (Kind.FILL, {"lid_open": 0}, "lid_open"),
        (Kind.FILL, {"fault": 1, "fill_pct": None}, "fault"),
        (Kind.FILL, {"fill_pct": "42.5"}, "fill_pct"),
    ],
)
def test_other_events_are_exact_too(kind: Kind, body: dict[str, Any], field: str) -> None:
    base = (health if kind is Kind.HEALTH else fill)("bin-01" if kind is Kind.FILL else "st-01")
    payload = {**json.loads(base.model_dump_json()), **body}
    _refused(kind, json.dumps(payload), field)


def test_free_text_keeps_printable_unicode() -> None:
    payload = {**json.loads(health("st-01").model_dump_json()), "sw_version": "1.0-β 🍌"}
    assert parse_payload(Kind.HEALTH, json.dumps(payload)).sw_version == "1.0-β 🍌"


@pytest.mark.parametrize(
    "raw",
    [
        # the payload: 1 g on a reviewer's screen, 9,999,999 g in the ledger
        lambda b: b[:-1] + ', "net_g": 9999999}',
        lambda b: b.replace('"net_g": 1250', '"net_g": 1, "net_g": 1250'),
        lambda b: b[:-1] + ', "net\\u005fg": 9999999}',  # the same key, escaped
        lambda b: b[:-1] + ' , "net_g"   :  9999999 }',
        lambda b: b[:-1] + ', "protocol": "x\\"y", "protocol": "mtsics"}',
        lambda b: b[:-1] + ', "card_id": null, "card_id": "CARD-1"}',
    ],
)
def test_a_repeated_key_is_refused(raw: Any) -> None:
    body = json.dumps(_weighin())
    assert '"net_g": 1250' in body
    with pytest.raises(ContractError, match="duplicate key"):
        parse_payload(Kind.WEIGHIN, raw(body))


def test_escaped_quotes_alone_are_not_a_repeated_key() -> None:
    payload = {**json.loads(health("st-01").model_dump_json()), "sw_version": 'v"1"'}
    assert parse_payload(Kind.HEALTH, json.dumps(payload)).sw_version == 'v"1"'


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        (Kind.WEIGHIN, weighin("st-01", card_id=None, frames=[])),
        (Kind.WEIGHIN, weighin("st-01", frames=["53", "5320", "0d0a"])),
        (Kind.FILL, fill("bin-01")),
        (Kind.FILL, fill("bin-01", fill_pct=None, fault="no_echo")),
        (Kind.HEALTH, health("st-01", in_reply_to="c-1", load1=0.5)),
    ],
)
def test_honest_payloads_take_the_fast_path(kind: Kind, model: Any) -> None:
    """Every honest payload's quotes are accounted for (only a repeat pays the re-parse)."""
    for raw in (model.model_dump_json(), json.dumps(json.loads(model.model_dump_json()))):
        parsed = parse_payload(kind, raw)
        expected = 2 * (len(parsed.model_fields_set) + _strings_in(parsed))
        assert raw.count('"') == expected


def test_deep_nesting_is_refused_at_the_parser() -> None:
    body = json.dumps(_weighin())
    _refused(Kind.WEIGHIN, body[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}", "JSON")


@pytest.mark.parametrize(
    ("kind", "raw", "field"),
    [
        (
            Kind.RECEIPT,
            '{"v":1,"device_id":"st-01","event_id":"st-01:1","seq":"1","status":"credited",'
            '"amount_rp":3750,"processed_at":"2026-11-29T00:00:00Z"}',
            "seq",
        ),
        (
            Kind.RECEIPT,
            '{"v":1,"device_id":"st-01","event_id":"st-01:1","seq":1,"status":"credited",'
            '"amount_rp":"3750","processed_at":"2026-11-29T00:00:00Z"}',
            "amount_rp",
        ),
        (
            Kind.RECEIPT,
            '{"v":1,"device_id":"st-01","event_id":"st-01:1","seq":1,"status":"credited",'
            '"amount_rp":1,"amount_rp":3750,"processed_at":"2026-11-29T00:00:00Z"}',
            "duplicate key",
        ),
        (
            Kind.CMD,
            '{"v":1,"cmd_id":"c1","device_id":"st-01","action":"tare","issued_at":1764550000}',
            "issued_at",
        ),
    ],
)
def test_what_the_agent_receives_is_exact_too(kind: Kind, raw: str, field: str) -> None:
    """The edge agent parses receipts and commands with :func:`parse_payload` as well."""
    _refused(kind, raw, field)


def test_event_key_reads_who_and_which_from_a_refused_payload() -> None:
    bad = json.dumps(_weighin(net_g="12340")).encode()
    key = event_key(bad)
    assert key is not None
    assert (key.device_id, key.seq, key.event_id) == ("st-bank01", 7, "st-bank01:7")
    assert event_key(json.dumps(_weighin(seq="7")).encode()) is None
    assert event_key(json.dumps(_weighin(event_id="st-bank01:8")).encode()) is None
    assert event_key(b"{not json") is None


def test_printable_replaces_what_free_text_refuses() -> None:
    assert printable("a\x00b\x1bc\u202ed\ud800", 100) == "a\ufffdb\ufffdc\ufffdd\ufffd"
    assert printable("x" * 300, 200) == "x" * 200
