"""Frames from the manufacturers' documentation, as data: tests/data/<protocol>/<case>/.

Each case folder holds ``input.bin`` (the exact bytes on the wire) and ``expected.json``
(``source``: where the frames come from; ``options``: protocol options; ``readings``: what
the parser must make of them, in order). A frame captured in the field becomes a test by
adding a folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge.firmware_bridge.transport import parse_safely
from protocols.base import FrameBuffer, Reading, get_protocol, protocol_names

DATA = Path(__file__).resolve().parent.parent / "data"
CASES = sorted(p for p in DATA.glob("*/*") if (p / "input.bin").is_file())


def run_case(protocol_name: str, options: dict[str, Any], data: bytes) -> list[Reading]:
    protocol = get_protocol(protocol_name, **options)
    buffer = FrameBuffer()
    buffer.feed(data)
    readings = [parse_safely(protocol, frame) for frame in protocol.frames(buffer)]
    return [r for r in readings if r is not None]


def as_dict(reading: Reading) -> dict[str, Any]:
    return {
        "status": reading.status.value,
        "grams": reading.grams,
        "mode": reading.mode.value,
        "tare_g": reading.tare_g,
        "division_g": reading.division_g,
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_documented_frames(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    assert expected["source"], "every case names where its frames come from"
    data = (case / "input.bin").read_bytes()
    readings = run_case(case.parent.name, expected.get("options", {}), data)
    assert [as_dict(r) for r in readings] == expected["readings"]
    for reading in readings:
        assert reading.raw in data  # the raw frame is kept byte-exact for audit
        assert reading.protocol == case.parent.name


def test_every_protocol_has_at_least_four_cases_with_the_hard_ones() -> None:
    for name in protocol_names():
        cases = [p for p in CASES if p.parent.name == name]
        assert len(cases) >= 4, name
        statuses = {
            r["status"]
            for p in cases
            for r in json.loads((p / "expected.json").read_text())["readings"]
        }
        assert "overload" in statuses, name
        grams = [
            r["grams"]
            for p in cases
            for r in json.loads((p / "expected.json").read_text())["readings"]
            if r["grams"] is not None
        ]
        assert any(g < 0 for g in grams), f"{name}: no negative case"
        if get_protocol(name).has_stability_flag:
            assert "motion" in statuses, name
