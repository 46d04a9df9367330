"""Round trip: each simulated indicator on a pty, read by the bridge's driver of the same name.

Real pyserial on the pty's slave end (through its stable symlink), the bridge's
:class:`ScaleTransport` and the protocol's own parser; the simulator only writes bytes.
Each protocol is checked for: motion then a stable weight, garbage on the line, unplug
and replug of the cable, a negative weight and overload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.firmware_bridge.transport import ScaleTransport, detect_line
from protocols.base import Mode, Reading, Status, get_protocol
from simulators.pty import PtyDevice
from simulators.scales import Dynamics, ScaleSimulator


@dataclass(frozen=True)
class Caps:
    """What a protocol's frames can say, and the bridge parser that reads them."""

    motion: bool = True  # frames carry a motion flag
    overload: bool = True  # an overload frame exists
    parser: str = ""  # the bridge's parser name when it differs from the simulator's


#: every simulated protocol, and what its frames can express
PROTOCOLS: dict[str, Caps] = {
    "mtsics": Caps(),
    "and_balance": Caps(),
    "and_indicator": Caps(),
    "cas22": Caps(),
    "cas10": Caps(motion=False, overload=False),  # 8 digits + CR LF, no status at all
    "toledo": Caps(),
    "ohaus": Caps(overload=False),  # the print output carries no overload frame
    "sartorius": Caps(),
    # the bridge reads the documented "Stat ... H" status line as ERROR, not OVERLOAD
    # (reported); either way it never becomes a weight
    "sartorius22": Caps(parser="sartorius", overload=False),
}

D = 20
#: a quick platter so the suite stays short (real ones ring for 1-2 s)
FAST = Dynamics(tau_s=0.08, ring_hz=4.0)


@pytest.fixture
def device(tmp_path: Path) -> Iterator[PtyDevice]:
    with PtyDevice(tmp_path, name="usb-Sim_Indicator-if00-port0") as dev:
        yield dev


def _transport(protocol: str, dev: PtyDevice, sim: ScaleSimulator) -> ScaleTransport:
    parser = get_protocol(PROTOCOLS[protocol].parser or protocol)
    poll = None if sim.streaming else 0.05
    return ScaleTransport(dev.path, parser, poll_interval_s=poll, backoff_s=(0.05, 0.2))


def read_until(
    transport: ScaleTransport, want: Callable[[Reading], bool], timeout_s: float = 8.0
) -> list[Reading]:
    """All readings up to and including the first one that satisfies ``want``."""
    seen: list[Reading] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for reading in transport.read(0.2):
            seen.append(reading)
            if want(reading):
                return seen
    statuses = [(r.status.value, r.grams) for r in seen[-10:]]
    raise AssertionError(f"no matching reading within {timeout_s}s; last: {statuses}")


def drain(transport: ScaleTransport, seconds: float) -> list[Reading]:
    """Every reading that arrives during the next ``seconds``."""
    seen: list[Reading] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.extend(transport.read(deadline - time.monotonic()))
    return seen


def wait_settled(sim: ScaleSimulator, timeout_s: float = 5.0) -> None:
    """Until the simulated indicator itself is stable (cas10 frames cannot tell)."""
    deadline = time.monotonic() + timeout_s
    while not sim.stable:
        assert time.monotonic() < deadline, "the simulated platter never settled"
        time.sleep(0.02)


def stable_at(grams: int) -> Callable[[Reading], bool]:
    return lambda r: r.status is Status.STABLE and r.grams == grams


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_round_trip(protocol: str, device: PtyDevice) -> None:
    caps = PROTOCOLS[protocol]
    sim = ScaleSimulator(protocol, device, division_g=D, rate_hz=20, seed=11, dynamics=FAST)
    with sim, _transport(protocol, device, sim) as transport:
        read_until(transport, stable_at(0))

        # a load placed: motion first, then the stable weight, never a wrong stable one
        sim.place(3_127)
        seen = read_until(transport, stable_at(3_120))
        if caps.motion:
            assert any(r.status is Status.MOTION for r in seen)
            assert all(r.grams == 3_120 for r in seen if r.stable and r.grams != 0)
        wait_settled(sim)

        # garbage on the line: counted, and good frames keep coming
        sim.inject_garbage(b"\x00\xff\x13#garbage\x9c\r\n")
        seen = read_until(transport, lambda r: r.status is Status.ERROR)
        seen += read_until(transport, stable_at(3_120))
        assert transport.errors["garbled"] >= 1
        assert all(r.grams in (None, 3_120) for r in seen)

        # cable pulled and plugged back in: the transport reopens the stable path
        device.unplug()
        device.replug()
        read_until(transport, stable_at(3_120))
        assert transport.errors["disconnects"] >= 1

        # a negative weight (platter lifted) is read as negative
        sim.place(-200)
        read_until(transport, lambda r: r.grams == -200)

        if caps.overload:
            sim.overload()
            read_until(transport, lambda r: r.status is Status.OVERLOAD)
        sim.remove()
        read_until(transport, stable_at(0))


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_random_garbage_never_becomes_a_wrong_weight(protocol: str, device: PtyDevice) -> None:
    sim = ScaleSimulator(protocol, device, division_g=D, rate_hz=25, seed=5, dynamics=FAST)
    sim.garbage_probability = 0.3
    with sim, _transport(protocol, device, sim) as transport:
        sim.place(10_000)
        read_until(transport, stable_at(10_000))
        wait_settled(sim)
        drain(transport, 0.3)  # frames sent while still moving (cas10 cannot tell)
        seen = drain(transport, 1.0)
        stable = [r for r in seen if r.stable]
        assert stable, "stable frames must still get through the noise"
        assert {r.grams for r in stable} == {10_000}


def ask(
    transport: ScaleTransport, command: bytes, want: Callable[[Reading], bool], timeout_s: float = 8
) -> Reading:
    """Send ``command`` every 0.3 s until a reading satisfies ``want``; return it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        transport.send(command)
        for reading in transport.read(0.3):
            if want(reading):
                return reading
    raise AssertionError(f"no answer to {command!r} within {timeout_s}s")


def test_polled_mode_answers_commands(device: PtyDevice) -> None:
    """MT-SICS: S answers once stable, T tares, SI then reads net, Z is refused under load."""
    sim = ScaleSimulator("mtsics", device, division_g=D, seed=3, dynamics=FAST)
    with sim, ScaleTransport(device.path, get_protocol("mtsics"), backoff_s=(0.05, 0.2)) as t:
        sim.place(1_000)
        ask(t, b"S\r\n", stable_at(1_000))
        tare = ask(t, b"T\r\n", lambda r: r.mode is Mode.TARE)
        assert tare.grams == 1_000
        sim.place(3_000)
        net = ask(t, b"SI\r\n", lambda r: r.stable and r.mode is Mode.NET)
        assert (net.grams, net.tare_g) == (2_000, 1_000)
        assert sim.display().net
        assert sim.stats["commands"] >= 3


@pytest.mark.parametrize(
    ("protocol", "line"),
    [
        ("and_balance", (2400, 7, "E", 1)),  # the A&D default
        ("and_indicator", (4800, 8, "N", 1)),  # reconfigured on site: not the default
        ("mtsics", (2400, 7, "E", 1)),  # an older balance, polled
    ],
)
def test_line_settings_are_detected(
    protocol: str, line: tuple[int, int, str, int], tmp_path: Path
) -> None:
    """A device talking at ``line`` garbles every other setting; detection finds it."""
    with (
        PtyDevice(tmp_path, name="usb-Sim_Indicator-if00-port0", line=line) as dev,
        ScaleSimulator(protocol, dev, division_g=D, rate_hz=10, seed=2, dynamics=FAST) as sim,
    ):
        sim.place(3_000)
        assert detect_line(dev.path, get_protocol(protocol), listen_s=1.0) == line
