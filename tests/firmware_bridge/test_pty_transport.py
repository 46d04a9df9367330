"""A simulated indicator on a pseudo-terminal, read through real pyserial."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from edge.firmware_bridge import get_protocol
from edge.firmware_bridge.transport import ScaleTransport, detect_line
from protocols.base import Reading, Status
from simulators.pty import PtyDevice


@pytest.fixture
def device(tmp_path: Path) -> Iterator[PtyDevice]:
    with PtyDevice(tmp_path, name="usb-Sim_Scale-if00-port0") as dev:
        yield dev


def read_until(
    transport: ScaleTransport, want: Callable[[list[Reading]], bool], deadline_s: float = 5.0
) -> list[Reading]:
    got: list[Reading] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and not want(got):
        got.extend(transport.read(0.1))
    return got


def test_bytes_pass_unmodified_through_the_pty(device: PtyDevice) -> None:
    every_byte = bytes(range(256))
    with serial.Serial(device.path, timeout=2) as ser:
        device.write(every_byte)
        assert ser.read(256) == every_byte
        ser.write(b"SI\r\n\x00\xff")
        ser.flush()
        got = b""
        deadline = time.monotonic() + 2
        while len(got) < 6 and time.monotonic() < deadline:
            got += device.read_available(0.2)
        assert got == b"SI\r\n\x00\xff"


def test_stable_path_is_a_symlink_to_the_slave(device: PtyDevice) -> None:
    path = Path(device.path)
    assert path.is_symlink()
    first = path.resolve()
    device.replug()
    assert path.is_symlink()
    assert path.resolve() != first or Path(device.slave_name) == path.resolve()


def test_unplug_makes_pyserial_raise(device: PtyDevice) -> None:
    with serial.Serial(device.path, timeout=1) as ser:
        device.unplug()
        with pytest.raises(serial.SerialException):
            ser.read(1)


def test_continuous_frames_become_readings(device: PtyDevice) -> None:
    with ScaleTransport(device.path, get_protocol("mtsics")) as scale:
        scale.read(0.05)  # opens the port
        assert scale.connected
        device.write(b"S S     100.00 g\r\nS D     100.02 g\r\nS +\r\n")
        got = read_until(scale, lambda r: len(r) >= 3)
    assert [(r.status, r.grams) for r in got] == [
        (Status.STABLE, 100),
        (Status.MOTION, 100),
        (Status.OVERLOAD, None),
    ]
    assert got[0].raw == b"S S     100.00 g"


def test_partial_frames_and_garbage_resync(device: PtyDevice) -> None:
    with ScaleTransport(device.path, get_protocol("mtsics")) as scale:
        scale.read(0.05)
        device.write(b"\xff\x00junk\r\nS S     12")
        first = read_until(scale, lambda r: len(r) >= 1, deadline_s=1.0)
        device.write(b".34 kg\r\n")
        rest = read_until(scale, lambda r: any(x.status is Status.STABLE for x in r))
        assert [r.status for r in first] == [Status.ERROR]
        assert [r.grams for r in rest if r.status is Status.STABLE] == [12340]
        assert scale.errors["garbled"] == 1
        assert scale.rejected[-1] == b"\xff\x00junk"


def test_polled_mode_sends_the_poll_command(device: PtyDevice) -> None:
    with ScaleTransport(device.path, get_protocol("mtsics"), poll_interval_s=0.05) as scale:
        scale.read(0.2)
        sent = b""
        deadline = time.monotonic() + 3
        while sent.count(b"SI\r\n") < 2 and time.monotonic() < deadline:
            scale.read(0.05)
            sent += device.read_available(0.05)
        assert sent.count(b"SI\r\n") >= 2
        assert set(sent.split(b"\r\n")) <= {b"SI", b""}


def test_zero_and_tare_commands_reach_the_device(device: PtyDevice) -> None:
    with ScaleTransport(device.path, get_protocol("mtsics")) as scale:
        assert scale.zero()
        assert scale.tare()
        sent = b""
        deadline = time.monotonic() + 2
        while len(sent) < 6 and time.monotonic() < deadline:
            sent += device.read_available(0.1)
        assert sent == b"Z\r\nT\r\n"


def test_unplug_and_replug_without_restarting(device: PtyDevice) -> None:
    with ScaleTransport(device.path, get_protocol("mtsics"), backoff_s=(0.02, 0.1)) as scale:
        scale.read(0.05)
        device.write(b"S S       1.00 kg\r\n")
        assert [r.grams for r in read_until(scale, bool)] == [1000]

        device.unplug()
        assert read_until(scale, bool, deadline_s=0.5) == []  # never raises
        assert not scale.connected
        assert scale.errors["disconnects"] == 1
        assert not scale.send(b"SI\r\n")

        device.replug()
        deadline = time.monotonic() + 5
        while not scale.connected and time.monotonic() < deadline:
            scale.read(0.05)
        assert scale.connected
        device.write(b"S S       2.50 kg\r\n")
        assert [r.grams for r in read_until(scale, bool)] == [2500]
        assert scale.errors["disconnects"] == 1


def test_a_missing_port_is_retried_not_raised(tmp_path: Path) -> None:
    scale = ScaleTransport(
        str(tmp_path / "usb-nothing"), get_protocol("mtsics"), backoff_s=(0.01, 0.02)
    )
    try:
        assert scale.read(0.1) == []
        assert not scale.connected
        assert scale.errors["open_failures"] >= 2
    finally:
        scale.close()


def test_polled_mode_needs_a_poll_command() -> None:
    class NoPoll(type(get_protocol("mtsics"))):  # type: ignore[misc]
        poll_command = None

    with pytest.raises(ValueError, match="no poll command"):
        ScaleTransport("/dev/null", NoPoll(), poll_interval_s=0.1)


def test_detect_line_keeps_the_setting_whose_frames_validate(tmp_path: Path) -> None:
    with PtyDevice(tmp_path, name="usb-old-balance", line=(2400, 7, "E", 1)) as dev:
        protocol = get_protocol("mtsics")
        import threading

        stop = threading.Event()

        def answer_polls() -> None:
            while not stop.is_set():
                if b"SI" in dev.read_available(0.02):
                    dev.write(b"S S     100.00 g\r\n")

        responder = threading.Thread(target=answer_polls, daemon=True)
        responder.start()
        try:
            found = detect_line(
                dev.path,
                protocol,
                [(9600, 8, "N", 1), (4800, 8, "N", 1), (2400, 7, "E", 1)],
                listen_s=1.5,
            )
        finally:
            stop.set()
            responder.join(2)
        assert found == (2400, 7, "E", 1)


def test_detect_line_gives_none_when_nothing_validates(tmp_path: Path) -> None:
    with PtyDevice(tmp_path, name="usb-chatty") as dev:
        import threading

        stop = threading.Event()

        def chatter() -> None:  # an indicator of another protocol, streaming
            while not stop.is_set():
                dev.write(b"ST,GS,+0012.34kg\r\n")
                stop.wait(0.05)

        talker = threading.Thread(target=chatter, daemon=True)
        talker.start()
        try:
            found = detect_line(dev.path, get_protocol("mtsics"), [(9600, 8, "N", 1)], listen_s=0.5)
        finally:
            stop.set()
            talker.join(2)
        assert found is None


def test_a_reopened_port_forgets_the_tare(device: PtyDevice) -> None:
    """An MT-SICS balance unplugged (maybe power-cycled) has no tare when it returns."""
    with ScaleTransport(device.path, get_protocol("mtsics"), backoff_s=(0.02, 0.1)) as scale:
        scale.read(0.05)
        device.write(b"T S      10.00 g\r\nS S      90.00 g\r\n")
        got = read_until(scale, lambda r: len(r) >= 2)
        assert [(r.mode.value, r.tare_g) for r in got] == [("tare", 10), ("net", 10)]
        device.unplug()
        read_until(scale, bool, deadline_s=0.2)
        device.replug()
        deadline = time.monotonic() + 5
        while not scale.connected and time.monotonic() < deadline:
            scale.read(0.05)
        device.write(b"S S      90.00 g\r\n")
        (after,) = read_until(scale, bool)
        assert (after.mode.value, after.tare_g, after.grams) == ("gross", None, 90)
