"""The signed bytes of a weigh-in, as docs/contract.md describes them for a third party.

mutant: signed_bytes leaves a field out (e.g. net_g) -> test_every_field_but_the_signature_is_signed
mutant: signed_bytes keeps device_time as sent (+07:00) -> test_a_third_party_recomputes_...
mutant: the all-or-none validator removed -> test_a_half_signed_weighin_is_refused
mutant: normalise_code keeps lower case / lookalikes -> test_codes_as_people_type_them
mutant: canonical_time without its ``u.year < 1000`` branch, or with ``%02d`` seconds
        after ``%06d`` micro swapped -> test_canonical_time_is_strftimes_text
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from hashlib import sha256

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract import ContractError, Weighin, parse_payload
from contract.codes import format_code, normalise_code
from contract.models import GENESIS_HASH, to_json
from contract.signing import SIGNED_FIELDS, canonical_time, record_hash, signed_bytes

SEED = bytes(range(32))
WIRE = (
    '{"v":1,"kind":"weighin","device_id":"st-bank01","seq":7,"event_id":"st-bank01:7",'
    '"device_time":"2026-11-29T08:15:00.250+07:00","clock_synced":true,'
    '"boot_id":"6F1C3A52-8D0E-4B7E-9A53-2F3CF1D7A001","mono_ms":123456,'
    '"card_id":"0A1B2C3D4E","category":"organic","net_g":2350,"tare_g":0,"division_g":5,'
    '"protocol":"mtsics","frames":["5320532020202020322e333530206b670d0a"],"stable_ms":1200,'
    '"public_key":"PK","chain_pos":1,"prev_hash":"' + GENESIS_HASH + '",'
    '"sw_hash":"' + "a" * 64 + '","config_hash":"' + "b" * 64 + '","signature":"SIG"}'
)


def _signed_wire() -> str:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    pub = key.public_key().public_bytes_raw().hex()
    unsigned = WIRE.replace("PK", pub).replace("SIG", "0" * 128)
    sig = key.sign(signed_bytes(parse_payload("weighin", unsigned))).hex()
    return unsigned.replace("0" * 128, sig)


def test_a_third_party_recomputes_the_signed_bytes_and_verifies_them() -> None:
    wire = _signed_wire()
    # what docs/contract.md tells a verifier to do, with nothing of ours
    record = json.loads(wire)
    signature = bytes.fromhex(record.pop("signature"))
    record["device_time"] = "2026-11-29T01:15:00.250000Z"  # UTC, 6 digits, Z
    record["boot_id"] = record["boot_id"].lower()
    mine = (
        b"salinmas/weighin/v1\n"
        + json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    )
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(record["public_key"])).verify(signature, mine)
    w = parse_payload("weighin", wire)
    assert signed_bytes(w) == mine
    assert record_hash(w) == sha256(mine).hexdigest()
    # the bytes survive the cloud's round trip (parsed, stored, dumped again)
    assert signed_bytes(Weighin.model_validate_json(to_json(w))) == mine


def test_every_field_but_the_signature_is_signed() -> None:
    assert set(SIGNED_FIELDS) == set(Weighin.model_fields) - {"signature"}
    w = parse_payload("weighin", _signed_wire())
    for name, other in (("net_g", 23_500), ("card_id", "FFFF"), ("chain_pos", 2)):
        assert signed_bytes(w.model_copy(update={name: other})) != signed_bytes(w)


def test_a_half_signed_weighin_is_refused() -> None:
    data = json.loads(_signed_wire())
    del data["chain_pos"]
    with pytest.raises(ContractError, match="chain_pos"):
        parse_payload("weighin", json.dumps(data))
    data = json.loads(_signed_wire())
    data["chain_pos"] = 2  # not the first record, but a genesis prev_hash
    with pytest.raises(ContractError, match="all zeros"):
        parse_payload("weighin", json.dumps(data))


def test_codes_as_people_type_them() -> None:
    assert normalise_code("7k3q-x9m2-pa4t") == "7K3QX9M2PA4T"
    assert normalise_code("7K3Q X9M2 PA4T") == "7K3QX9M2PA4T"
    assert normalise_code("7K3Q-X9M2-PAOI") == "7K3QX9M2PA01"  # O and I read as 0 and 1
    assert normalise_code("7K3Q-X9M2-PA4U") is None  # U is not in the alphabet
    assert normalise_code("7K3Q-X9M2-PA4") is None
    assert format_code("7K3QX9M2PA4T") == "7K3Q-X9M2-PA4T"


def test_canonical_time_is_strftimes_text() -> None:
    """The signed and hashed time text (issue 15 formats it from the fields) is what
    ``strftime`` wrote before, for any instant and zone: hashes of stored records hold."""
    rng = random.Random(15)
    zones = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-9, minutes=-30))]
    times = [
        datetime(1, 1, 2, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 29, 1, 15, tzinfo=timezone(timedelta(hours=7))),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    times += [
        datetime(2, 1, 1, tzinfo=UTC)
        + timedelta(seconds=rng.uniform(0, 3.15e11), microseconds=rng.randrange(10**6))
        for _ in range(2_000)
    ]
    for t in times:
        text = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the rule before
        for zone in zones if 1 < t.year < 9999 else [UTC]:  # in datetime's range there
            assert canonical_time(t.astimezone(zone)) == text, t
