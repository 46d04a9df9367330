"""Station mode in-process: a real ScaleTransport and CardReader on pseudo-terminals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.capture import CapturedWeight
from edge.config import StationSettings
from edge.firmware_bridge.cards import CardReader
from edge.firmware_bridge.transport import ScaleTransport
from edge.station import LogFeedback, Station
from protocols.base import get_protocol
from simulators.cards import CardReaderSimulator, card_id_from_tag
from simulators.pty import PtyDevice
from simulators.scales import Dynamics, ScaleSimulator
from tests.support.waiting import wait_until


@dataclass
class Submissions:
    accept: bool = True
    got: list[tuple[int, str | None, str, str]] = field(default_factory=list)

    def __call__(
        self, w: CapturedWeight, card: str | None, category: str, proto: str
    ) -> int | None:
        if not self.accept:
            return None
        self.got.append((w.net_g, card, category, proto))
        return len(self.got)


@dataclass
class Bench:
    station: Station
    scale: ScaleSimulator
    cards: CardReaderSimulator
    submitted: Submissions
    feedback: LogFeedback

    def weigh(self, grams: int) -> None:
        n = len(self.submitted.got) + self.feedback.signals.count("refused")
        wait_until(lambda: self.station.capture.armed, 10, "the station armed at zero")
        self.scale.place(grams)
        wait_until(
            lambda: len(self.submitted.got) + self.feedback.signals.count("refused") > n,
            10,
            f"a weigh-in of {grams} g",
        )
        self.scale.remove()


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    scale_dev = PtyDevice(tmp_path, name="scale")
    card_dev = PtyDevice(tmp_path, name="cards")
    sim = ScaleSimulator(
        "and_indicator", scale_dev, division_g=10, rate_hz=20, dynamics=Dynamics(tau_s=0.05)
    ).start()
    cards = CardReaderSimulator(card_dev)
    reader = CardReader(card_dev.path, "rdm6300")
    settings = StationSettings(
        scale_port=scale_dev.path,
        protocol="and_indicator",
        division_g=10,
        stable_window_s=0.3,
        card_port=card_dev.path,
        card_session_s=1.5,
        default_category="mixed",
    )
    feedback = LogFeedback()
    submitted = Submissions()
    station = Station(
        settings,
        scale=ScaleTransport(scale_dev.path, get_protocol("and_indicator"), line=(9600, 8, "N", 1)),
        protocol="and_indicator",
        submit=submitted,
        feedback=feedback,
        cards=reader,
    )
    stop = threading.Event()
    thread = threading.Thread(target=station.run, args=(stop,), daemon=True)
    thread.start()
    # bytes sent before the host opens its port are flushed by the open, as on a real line
    wait_until(lambda: reader.connected and station.scale.connected, 10, "ports open")
    try:
        yield Bench(station, sim, cards, submitted, feedback)
    finally:
        stop.set()
        thread.join(5)
        station.close()
        sim.stop()
        cards.close()
        scale_dev.close()
        card_dev.close()


def test_card_then_category_then_weight(bench: Bench) -> None:
    card = card_id_from_tag(4_242_424)
    bench.cards.present(card)
    wait_until(lambda: bench.station.card == card, 10, "the card")
    assert "card" in bench.feedback.signals
    bench.station.select_category("plastic-pet")
    bench.weigh(1_230)
    bench.station.select_category("paper")
    bench.weigh(2_000)  # the same household weighs a second category after one tap
    assert bench.submitted.got == [
        (1_230, card, "plastic-pet", "and_indicator"),
        (2_000, card, "paper", "and_indicator"),
    ]


def test_no_card_or_an_expired_session_is_unassigned(bench: Bench) -> None:
    card = card_id_from_tag(77)
    bench.cards.present(card)
    wait_until(lambda: bench.station.card == card, 10, "the card")
    wait_until(lambda: bench.station.card is None, 10, "the card session to end")
    bench.weigh(600)
    assert bench.submitted.got == [(600, None, "mixed", "and_indicator")]


def test_refused_weighin_is_signalled(bench: Bench) -> None:
    bench.submitted.accept = False
    bench.weigh(900)
    assert bench.feedback.signals[-1] == "refused"
    assert bench.station.refused == 1
    assert bench.station.weighins == 0


def test_tare_and_zero_requests_reach_the_indicator(bench: Bench) -> None:
    bench.station.request("tare")
    bench.station.request("zero")
    wait_until(
        lambda: {b"MT", b"MZ"} <= {c.strip() for c in bench.scale.commands_seen},
        10,
        "tare and zero commands",
    )
    with pytest.raises(ValueError, match="unknown scale action"):
        bench.station.request("explode")


class _IdleScale:
    connected = False

    def read(self, timeout_s: float) -> list[object]:
        return []

    def zero(self) -> bool:
        return False

    def tare(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_a_format_without_a_stability_flag_gets_the_longer_window() -> None:
    """mutant: Station not handing stability_flag to its capture -> fails."""
    settings = StationSettings(protocol="cas10", stable_window_s=1.0, min_stable_samples=3)
    station = Station(
        settings,
        scale=_IdleScale(),  # type: ignore[arg-type]
        protocol="cas10",
        submit=Submissions(),
        feedback=LogFeedback(),
        stability_flag=get_protocol("cas10").has_stability_flag,
    )
    assert (station.capture.window_s, station.capture.min_samples) == (3.0, 6)
