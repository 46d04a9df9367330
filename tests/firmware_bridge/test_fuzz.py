"""Property tests: no parser raises on any bytes, and no flag or checksum is ever ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.base import FrameBuffer, Reading, Status, get_protocol, protocol_names
from protocols.toledo import checksum

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLES = {
    name: b"".join(p.read_bytes() for p in sorted((DATA / name).glob("*/input.bin")))
    for name in protocol_names()
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_all(name: str, chunks: list[bytes]) -> list[Reading]:
    """Feed chunks as a port would; call the parser directly (no safety net)."""
    protocol = get_protocol(name)
    buffer = FrameBuffer()
    out: list[Reading] = []
    for chunk in chunks:
        buffer.feed(chunk)
        for frame in protocol.frames(buffer):
            reading = protocol.parse(frame)
            if reading is not None:
                assert isinstance(reading, Reading)
                out.append(reading)
        assert len(buffer.data) <= buffer.limit
    return out


@pytest.mark.parametrize("name", protocol_names())
@FUZZ
@given(chunks=st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_never_raise(name: str, chunks: list[bytes]) -> None:
    for reading in parse_all(name, chunks):
        if reading.status is Status.STABLE:
            assert reading.grams is not None


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "replace"]))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            buf.insert(i, draw(st.integers(0, 255)))
        elif op == "delete":
            del buf[i]
        else:
            buf[i] = draw(st.integers(0, 255))
    return bytes(buf)


@pytest.mark.parametrize("name", protocol_names())
@FUZZ
@given(data=st.data())
def test_mutated_documented_frames_never_raise(name: str, data: st.DataObject) -> None:
    sample = SAMPLES[name]
    bytes_ = data.draw(mutated(sample))
    cut = data.draw(st.integers(0, len(bytes_)))
    parse_all(name, [bytes_[:cut], bytes_[cut:]])


# -- Toledo: a frame with a bad checksum never becomes a reading --------------------------

_TOLEDO = b"\x02" + bytes([0x3C, 0x30, 0x20]) + b"001234000000\r"
TOLEDO_FRAME = _TOLEDO + bytes([checksum(_TOLEDO)])


@FUZZ
@given(index=st.integers(0, len(TOLEDO_FRAME) - 1), mask=st.integers(1, 0x7F))
def test_toledo_single_corruption_is_rejected(index: int, mask: int) -> None:
    corrupted = bytearray(TOLEDO_FRAME)
    corrupted[index] ^= mask  # any change in the 7 data bits of any byte
    protocol = get_protocol("toledo", checksum=True)
    assert protocol.parse(TOLEDO_FRAME) is not None
    reading = protocol.parse(bytes(corrupted))
    assert reading is not None
    assert reading.status is Status.ERROR


# -- flags: unstable, overload and underload frames never read as STABLE ----------------

weights = st.decimals(min_value=-9999, max_value=9999, places=2, allow_nan=False)


@st.composite
def flagged_frames(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(protocol, frame, may_be_stable): a well-formed frame with random flags."""
    w = draw(weights)
    kind = draw(
        st.sampled_from(
            ["mtsics", "and_balance", "and_indicator", "cas22", "toledo", "ohaus", "sartorius"]
        )
    )
    if kind == "mtsics":
        flag = draw(st.sampled_from("SD+-"))
        body = f"S {flag}" if flag in "+-" else f"S {flag} {w:>10} kg"
        return kind, body.encode(), flag == "S"
    if kind == "and_balance":
        head = draw(st.sampled_from(["ST", "US", "OL"]))
        return kind, f"{head},{w:+09.2f}  g".encode(), head == "ST"
    if kind == "and_indicator":
        head = draw(st.sampled_from(["ST", "US", "OL"]))
        mode = draw(st.sampled_from(["GS", "NT"]))
        return kind, f"{head},{mode},{w:+08.2f}kg".encode(), head == "ST"
    if kind == "cas22":
        head = draw(st.sampled_from(["ST", "US", "OL"]))
        lamp = 0x80 | draw(st.integers(0, 0x7F))
        data = f"{abs(w):08.1f}".encode()
        frame = f"{head},GS,1".encode() + bytes([lamp]) + b"," + data + b" kg"
        return kind, frame, head == "ST" and bool(lamp & 0x40)
    if kind == "toledo":
        swb = 0x20 | draw(st.integers(0, 0x1F))
        body = b"\x02" + bytes([0x3C, swb, 0x20]) + f"{abs(int(w * 100)):06d}000000\r".encode()
        return kind, body + bytes([checksum(body)]), not swb & 0x0C
    if kind == "ohaus":
        unstable = draw(st.booleans())
        return kind, f"{w:>11} kg {'?' if unstable else ' '}".encode(), not unstable
    stable = draw(st.booleans())
    sign = "-" if w < 0 else "+"
    return kind, f"{sign} {abs(w):>8} {'kg ' if stable else '   '}".encode(), stable


@FUZZ
@given(case=flagged_frames())
def test_flags_are_never_ignored(case: tuple[str, bytes, bool]) -> None:
    name, frame, may_be_stable = case
    options = {"checksum": True} if name == "toledo" else {}
    reading = get_protocol(name, **options).parse(frame)
    assert reading is not None, frame
    assert reading.status is not Status.ERROR, (frame, reading.detail)
    if not may_be_stable:
        assert reading.status is not Status.STABLE, frame
    else:
        assert reading.status is Status.STABLE, frame
        assert reading.grams is not None
