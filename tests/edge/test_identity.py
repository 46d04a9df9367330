"""The station's key, its weigh-in chain in the outbox, its software hash and its
configuration log.

mutant: the key file made with the umask's mode (0644) -> test_the_key_is_made_once_...
mutant: DeviceKey.load accepts a key readable by others -> test_the_key_is_made_once_...
mutant: load_or_create overwrites an existing key -> test_the_key_is_made_once_...
mutant: append_chained stores the new head outside the event's transaction
        -> test_a_refused_weighin_does_not_advance_the_chain
mutant: Signer.seal links to the wrong previous hash -> test_weighins_chain_across_restarts...
mutant: software_hash ignores file contents -> test_the_software_hash_changes_with_the_code
mutant: ConfigLog.record appends when nothing changed / without prev -> test_the_configuration_log
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from contract import parse_payload
from contract.models import GENESIS_HASH
from contract.signing import config_hash, record_hash
from edge.alibi import ConfigLog
from edge.clock import Clock
from edge.events import EventFactory
from edge.identity import DeviceKey, KeyFileError, Signer, software_hash
from edge.outbox import Outbox, OutboxFull


def test_the_key_is_made_once_private_and_refused_when_exposed(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "device.key"
    key, created = DeviceKey.load_or_create(path)
    assert created
    assert path.stat().st_mode & 0o777 == 0o600
    again, created = DeviceKey.load_or_create(path)
    assert not created
    assert again.public_hex == key.public_hex  # the same key after a restart
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        DeviceKey.load(path)


def _factory(signer: Signer) -> EventFactory:
    clock = Clock(boot_id=uuid.uuid4(), synced=lambda: True)
    return EventFactory("st-edge01", clock)


def _weighin(events: EventFactory, signer: Signer, grams: int):  # type: ignore[no-untyped-def]
    return events.signed_weighin(
        signer,
        net_g=grams,
        division_g=10,
        protocol="and_indicator",
        category="organic",
        frames=[f"ST,GS,{grams / 1000:+08.3f}kg".encode()],
    )


def test_weighins_chain_across_restarts_and_a_replay_resends_the_same_bytes(
    tmp_path: Path,
) -> None:
    key, _ = DeviceKey.load_or_create(tmp_path / "device.key")
    signer = Signer(key, software_hash(), config_hash({}))
    events = _factory(signer)
    with Outbox(tmp_path / "outbox.db") as box:
        box.append(
            "health",
            events.health(
                {"sw_version": "0.1.0", "uptime_s": 1, "outbox_depth": 0, "outbox_capacity": 1}
            ),
        )
        box.append_chained("weighin", signer.chain, _weighin(events, signer, 1_000))
        box.append_chained("weighin", signer.chain, _weighin(events, signer, 2_000))
        sent = [e.payload for e in box.pending(10) if e.kind == "weighin"]
    with Outbox(tmp_path / "outbox.db") as box:  # the agent restarted
        box.append_chained("weighin", signer.chain, _weighin(events, signer, 3_000))
        again = [e.payload for e in box.pending(10) if e.kind == "weighin"]
    assert again[:2] == sent  # a replay re-sends the stored signed bytes
    records = [parse_payload("weighin", p) for p in again]
    assert [r.chain_pos for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert records[1].prev_hash == record_hash(records[0])
    assert records[2].prev_hash == record_hash(records[1])
    assert {r.public_key for r in records} == {key.public_hex}


def test_a_refused_weighin_does_not_advance_the_chain(tmp_path: Path) -> None:
    key, _ = DeviceKey.load_or_create(tmp_path / "device.key")
    signer = Signer(key, "1" * 64, "2" * 64)
    events = _factory(signer)
    with Outbox(tmp_path / "outbox.db", capacity=1) as box:
        box.append_chained("weighin", signer.chain, _weighin(events, signer, 1_000))
        head = box.chain_head(signer.chain)
        with pytest.raises(OutboxFull):
            box.append_chained("weighin", signer.chain, _weighin(events, signer, 2_000))

        def broken(seq: int, h: object) -> tuple[bytes, object]:
            raise RuntimeError("the SD card failed mid-write")

        box.capacity = 10
        with pytest.raises(RuntimeError):
            box.append_chained("weighin", signer.chain, broken)  # type: ignore[arg-type]
        assert box.chain_head(signer.chain) == head  # neither refusal moved it
        box.append_chained("weighin", signer.chain, _weighin(events, signer, 3_000))
        second = parse_payload("weighin", box.pending(10)[-1].payload)
    assert (second.chain_pos, second.prev_hash) == (2, head.digest)


def test_the_software_hash_changes_with_the_code(tmp_path: Path) -> None:
    pkg = tmp_path / "agentpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        first = software_hash(["agentpkg"])
        assert software_hash(["agentpkg"]) == first
        (pkg / "__init__.py").write_text("X = 2\n")
        assert software_hash(["agentpkg"]) != first
    finally:
        sys.path.remove(str(tmp_path))
    assert software_hash() == software_hash()  # the installed agent: deterministic


def test_the_configuration_log(tmp_path: Path) -> None:
    log = ConfigLog(tmp_path / "config-log.jsonl")
    fields = {"sw_hash": "1" * 64, "config_hash": "2" * 64, "division_g": 10}
    first = log.record(fields, at="t0", boot_id="b")
    assert first is not None
    assert (first.pos, first.change) == (1, "installed")
    assert log.record(fields, at="t1", boot_id="b") is None  # nothing changed
    second = log.record({**fields, "division_g": 5}, at="t2", boot_id="b")
    assert second is not None
    assert (second.pos, second.change) == (2, "division_g 10 -> 5")
    assert log.verify() is None
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[0])
    edited["division_g"] = 1
    log.path.write_text(json.dumps(edited, sort_keys=True) + "\n" + lines[1] + "\n")
    assert log.verify() == 2  # the entry after the edited one no longer links


def test_the_agent_refuses_to_start_with_an_exposed_key(tmp_path: Path) -> None:
    from edge.agent import run
    from edge.config import EdgeSettings

    key = tmp_path / "device.key"
    DeviceKey.load_or_create(key)
    os.chmod(key, 0o640)
    settings = EdgeSettings(
        device_id="st-edge01",
        key_file=key,
        outbox={"path": tmp_path / "outbox.db"},
        station={"scale_port": str(tmp_path / "none")},
        pin_factory="mock",
    )
    assert run(settings) == 2
