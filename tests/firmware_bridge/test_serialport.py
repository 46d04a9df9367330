"""The reconnecting port's back-off, through its opener seam and an injected clock."""

from __future__ import annotations

from itertools import pairwise

import pytest
import serial

from edge.firmware_bridge.serialport import LineSettings, ReconnectingPort, SerialLike
from protocols.base import get_protocol, protocol_names


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FlakyOpener:
    """Fails the first ``failures`` opens, then opens pyserial's loopback."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[float] = []
        self.clock: Clock | None = None

    def __call__(self, port: str, line: LineSettings) -> SerialLike:
        assert self.clock is not None
        self.attempts.append(self.clock.now)
        if len(self.attempts) <= self.failures:
            raise serial.SerialException(f"could not open port {port}")
        opened: SerialLike = serial.serial_for_url("loop://", timeout=0.01)
        return opened


def test_reopen_backs_off_exponentially_up_to_the_cap() -> None:
    clock, opener = Clock(), FlakyOpener(failures=6)
    opener.clock = clock
    port = ReconnectingPort(
        "/dev/ttyUSB9", (9600, 8, "N", 1), backoff_s=(0.2, 1.0), opener=opener, clock=clock
    )
    try:
        for _ in range(2000):  # step the clock 10 ms at a time
            if port.ensure_open():
                break
            clock.now += 0.01
        assert port.connected
        gaps = [b - a for a, b in pairwise(opener.attempts)]
        assert gaps == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0, 1.0], abs=0.011)
        assert port.errors["open_failures"] == 6
        assert "could not open" in port.last_error
    finally:
        port.close()


def test_a_closed_port_stays_closed() -> None:
    port = ReconnectingPort("loop://", (9600, 8, "N", 1))
    assert port.write(b"x")
    assert port.read(0.2) == b"x"
    port.close()
    assert not port.connected
    assert port.read(0.01) == b""
    assert not port.write(b"x")
    assert not port.ensure_open()


def test_zero_timeout_read_does_not_block_without_data() -> None:
    with ReconnectingPort("loop://", (9600, 8, "N", 1)) as port:
        assert port.read(0.0) == b""
        port.write(b"abc")
        assert port.read(0.0) == b"abc"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ((0, 8, "N", 1), "baudrate"),
        ((9600, 9, "N", 1), "bytesize"),
        ((9600, 8, "X", 1), "parity"),
        ((9600, 8, "N", 3), "stopbits"),
    ],
)
def test_line_settings_are_validated(line: LineSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReconnectingPort("loop://", line)


def test_backoff_is_validated() -> None:
    with pytest.raises(ValueError, match="backoff_s"):
        ReconnectingPort("loop://", (9600, 8, "N", 1), backoff_s=(2.0, 1.0))


def test_protocol_registry() -> None:
    assert protocol_names() == [
        "and_balance",
        "and_indicator",
        "cas10",
        "cas22",
        "generic",
        "mtsics",
        "ohaus",
        "sartorius",
        "toledo",
    ]
    with pytest.raises(ValueError, match="unknown scale protocol 'nope'; known: and_balance"):
        get_protocol("nope")
    with pytest.raises(ValueError, match="bad options"):
        get_protocol("mtsics", checksum=True)
    with pytest.raises(ValueError, match="named group 'weight'"):
        get_protocol("generic", pattern=r"^(?P<w>\d+)$")
    with pytest.raises(ValueError, match="unit"):
        get_protocol("cas10", unit="stone")
