"""Card-reader simulator: RDM6300 frames, line mode, and the bridge's CardReader reading them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.firmware_bridge.cards.reader import CardReader
from simulators.cards import (
    CardReaderSimulator,
    barcode_line,
    card_id_from_tag,
    rdm6300_checksum,
    rdm6300_frame,
)
from simulators.pty import PtyDevice


def test_rdm6300_frame_matches_the_documented_example() -> None:
    # Hobby Components' capture: 02 31 30 30 30 38 36 46 34 34 34 32 36 03
    assert rdm6300_frame("100086F444") == b"\x02100086F44426\x03"
    assert rdm6300_checksum("100086F444") == 0x26
    assert len(rdm6300_frame("0000000000")) == 14


def test_card_id_from_the_printed_number() -> None:
    # the printed number is the last 4 bytes in decimal: 0x0086F444 = 8844356
    assert card_id_from_tag(8_844_356, version=0x10) == "100086F444"
    with pytest.raises(ValueError, match="32 bits"):
        card_id_from_tag(2**32)


def test_bad_checksum_and_validation() -> None:
    bad = rdm6300_frame("100086F444", bad_checksum=True)
    assert bad[1:11] == b"100086F444"
    assert bad[11:13] != b"26"
    with pytest.raises(ValueError, match="10 hex digits"):
        rdm6300_frame("XYZ")
    assert barcode_line("SAL-000123") == b"SAL-000123\r\n"
    with pytest.raises(ValueError, match="printable"):
        barcode_line("bad\x00code")


@pytest.fixture
def device(tmp_path: Path) -> Iterator[PtyDevice]:
    with PtyDevice(tmp_path, name="usb-Sim_RFID-if00-port0") as dev:
        yield dev


def connected(reader: CardReader) -> CardReader:
    """Open the port first: pyserial drops what arrived before it was opened."""
    deadline = time.monotonic() + 5
    while not reader.connected:
        assert time.monotonic() < deadline, "the reader never opened its port"
        reader.read(0.05)
    return reader


def read_ids(reader: CardReader, count: int, timeout_s: float = 5.0) -> list[str]:
    ids: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(ids) < count and time.monotonic() < deadline:
        ids.extend(reader.read(0.2))
    return ids


def test_bridge_reads_taps_rejects_corruption(device: PtyDevice) -> None:
    with (
        CardReaderSimulator(device, repeats=4) as sim,
        CardReader(device.path, "rdm6300", debounce_s=1.0, backoff_s=(0.05, 0.2)) as reader,
    ):
        connected(reader)
        sim.present("100086F444")  # four frames, one tap after debouncing
        sim.present_bad_checksum("0A0B0C0D0E")
        sim.inject_garbage(b"\x02ZZZZ\x03")
        sim.present("0A0B0C0D0E")
        ids = read_ids(reader, 2)
        assert ids == ["100086F444", "0A0B0C0D0E"]
        assert reader.errors["rejected"] >= 2

        device.unplug()
        device.replug()
        # a card held to the reader keeps being sent; pyserial drops what came before
        # the port was reopened, so hold it until the reader is back
        ids = []
        deadline = time.monotonic() + 5
        while not ids and time.monotonic() < deadline:
            sim.present("00DEADBEEF", repeats=1)
            ids = reader.read(0.1)
        assert ids == ["00DEADBEEF"]
        assert reader.errors["disconnects"] >= 1


def test_bridge_reads_a_line_scanner(device: PtyDevice) -> None:
    with (
        CardReaderSimulator(device, kind="line") as sim,
        CardReader(device.path, "scanner", debounce_s=1.0, backoff_s=(0.05, 0.2)) as reader,
    ):
        connected(reader)
        sim.present("SAL-000123")
        assert read_ids(reader, 1) == ["SAL-000123"]
