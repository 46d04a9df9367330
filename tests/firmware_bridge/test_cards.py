"""Member-card readers: documented frames as data, debouncing, and a reader on a pty."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.firmware_bridge.cards import CardReader, get_card_protocol
from edge.firmware_bridge.cards.parsers import printed_number
from protocols.base import FrameBuffer
from simulators.pty import PtyDevice

DATA = Path(__file__).resolve().parent.parent / "data" / "cards"
CASES = sorted(p for p in DATA.glob("*/*") if (p / "input.bin").is_file())
CARD = b"\x0262E3086CED08\x03"


def rdm6300_frame(card_hex: str) -> bytes:
    checksum = 0
    for b in bytes.fromhex(card_hex):
        checksum ^= b
    return b"\x02" + card_hex.encode() + f"{checksum:02X}".encode() + b"\x03"


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_documented_card_frames(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    assert expected["source"]
    protocol = get_card_protocol(case.parent.name)
    buffer = FrameBuffer()
    buffer.feed((case / "input.bin").read_bytes())
    results = [protocol.parse(frame) for frame in protocol.frames(buffer)]
    assert [r for r in results if r is not None] == expected["cards"]
    assert sum(r is None for r in results) == expected["rejected"]


def test_printed_number_is_the_last_eight_hex_digits() -> None:
    assert printed_number("62E3086CED") == 0xE3086CED


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=6))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    for kind in ("rdm6300", "scanner"):
        protocol = get_card_protocol(kind)
        buffer = FrameBuffer(limit=512)
        for chunk in chunks:
            buffer.feed(chunk)
            for frame in protocol.frames(buffer):
                card = protocol.parse(frame)
                assert card is None or 1 <= len(card) <= 64


@settings(max_examples=150, deadline=None)
@given(card=st.binary(min_size=5, max_size=5), index=st.integers(1, 12), mask=st.integers(1, 255))
def test_a_corrupted_rdm6300_frame_is_never_a_card(card: bytes, index: int, mask: int) -> None:
    frame = bytearray(rdm6300_frame(card.hex().upper()))
    original = frame[index]
    frame[index] ^= mask
    if chr(frame[index]).upper() == chr(original).upper():
        return  # a case change of a hex letter is the same value
    assert get_card_protocol("rdm6300").parse(bytes(frame)) is None


def test_debounce_reports_a_held_card_once_and_a_new_tap_again() -> None:
    reader = CardReader("loop://", debounce_s=2.0)
    try:
        assert reader.feed(CARD, 0.0) == ["62E3086CED"]
        for t in (0.1, 0.5, 1.5, 3.0, 4.9):  # held on the antenna: repeats every < 2 s
            assert reader.feed(CARD, t) == []
        assert reader.feed(CARD, 7.0) == ["62E3086CED"]  # away > 2 s, tapped again
        other = rdm6300_frame("0F00A1B2C3")
        assert reader.feed(other, 7.1) == ["0F00A1B2C3"]  # another member: at once
        assert reader.feed(CARD + other, 7.2) == []
    finally:
        reader.close()


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="unknown card reader kind"):
        CardReader("loop://", kind="magstripe")
    with pytest.raises(ValueError, match="debounce_s"):
        CardReader("loop://", debounce_s=-1)


def read_cards(reader: CardReader, want: int, deadline_s: float = 5.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < want and time.monotonic() < deadline:
        got.extend(reader.read(0.1))
    return got


def test_reader_on_a_pty_survives_unplug_and_replug(tmp_path: Path) -> None:
    with (
        PtyDevice(tmp_path, name="usb-RDM6300-if00-port0") as dev,
        CardReader(dev.path, debounce_s=0.0, backoff_s=(0.02, 0.1)) as reader,
    ):
        reader.read(0.05)
        dev.write(b"\xff" + CARD)
        assert read_cards(reader, 1) == ["62E3086CED"]
        assert reader.errors["rejected"] == 1

        dev.unplug()
        assert read_cards(reader, 1, deadline_s=0.4) == []
        assert not reader.connected
        assert reader.errors["disconnects"] == 1

        dev.replug()
        deadline = time.monotonic() + 5
        while not reader.connected and time.monotonic() < deadline:
            reader.read(0.05)
        dev.write(rdm6300_frame("0F00A1B2C3"))
        assert read_cards(reader, 1) == ["0F00A1B2C3"]


def test_scanner_on_a_pty(tmp_path: Path) -> None:
    with (
        PtyDevice(tmp_path, name="usb-Scanner-if00") as dev,
        CardReader(dev.path, kind="scanner", debounce_s=2.0) as reader,
    ):
        reader.read(0.05)
        dev.write(b"HH-000123\r\nHH-000123\r\nHH-000124\r\n")
        assert read_cards(reader, 2) == ["HH-000123", "HH-000124"]
