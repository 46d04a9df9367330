"""The weigh-in capture state machine (edge/capture.py), fed readings directly."""

from __future__ import annotations

import pytest

from edge.capture import FRAMES_KEPT, CapturedWeight, WeighinCapture
from protocols.base import Mode, Reading, Status, get_protocol

D = 10  # g


def reading(
    grams: int | None,
    status: Status = Status.STABLE,
    *,
    mode: Mode = Mode.GROSS,
    tare_g: int | None = None,
    division_g: int | None = None,
) -> Reading:
    raw = f"{status.value} {grams}".encode()
    return Reading(status, grams, raw, "test", mode=mode, tare_g=tare_g, division_g=division_g)


def run(
    capture: WeighinCapture, items: list[Reading], *, t0: float = 0.0, dt: float = 0.25
) -> list[tuple[float, CapturedWeight]]:
    out = []
    for i, r in enumerate(items):
        t = t0 + i * dt
        event = capture.feed(r, t)
        if event is not None:
            out.append((t, event))
    return out


def armed() -> WeighinCapture:
    cap = WeighinCapture(division_g=D)
    assert cap.feed(reading(0), 0.0) is None
    assert cap.armed
    return cap


def test_stable_load_is_captured_once_after_the_window() -> None:
    cap = armed()
    events = run(cap, [reading(1230)] * 10, t0=1.0)
    assert len(events) == 1
    t, event = events[0]
    assert t == pytest.approx(2.0)  # 5th sample: >= 3 samples and >= 1 s span
    assert event == CapturedWeight(
        net_g=1230, tare_g=0, division_g=D, frames=(b"stable 1230",) * 5, stable_ms=1000
    )
    assert not cap.armed


def test_without_a_stability_flag_the_window_is_three_times_as_long() -> None:
    """cas10 reads every numeric frame as STABLE: the window alone must show it.

    mutant: stability_flag ignored (cas10 gets the 1 s window) -> fails
    mutant: the longer window without the doubled samples -> fails (a sparse stream)
    """
    assert get_protocol("cas10").has_stability_flag is False
    cap = WeighinCapture(division_g=D, stability_flag=False)
    cap.feed(reading(0), 0.0)
    events = run(cap, [reading(1230)] * 20, t0=1.0)
    assert [(t, e.stable_ms) for t, e in events] == [(pytest.approx(4.0), 3000)]
    # a 1.5 s plateau while the bag is still being handled is not a weigh-in without a flag
    cap = WeighinCapture(division_g=D, stability_flag=False)
    cap.feed(reading(0), 0.0)
    assert run(cap, [reading(1230)] * 6 + [reading(1400)] * 6 + [reading(0)], t0=1.0) == []
    # four readings 1 s apart span 3 s: enough samples for a flagged format, not here
    cap = WeighinCapture(division_g=D, stability_flag=False)
    cap.feed(reading(0), 0.0)
    assert run(cap, [reading(1230)] * 4 + [reading(0)], t0=1.0, dt=1.0) == []
    flagged = WeighinCapture(division_g=D)
    flagged.feed(reading(0), 0.0)
    assert len(run(flagged, [reading(1230)] * 4, t0=1.0, dt=1.0)) == 1


def test_starts_disarmed_until_the_scale_reads_zero() -> None:
    cap = WeighinCapture(division_g=D)
    assert run(cap, [reading(5000)] * 10) == []  # load left on the platform at start-up
    assert run(cap, [reading(20)], t0=3) == []  # 2 d: counts as zero
    assert cap.armed
    assert len(run(cap, [reading(5000)] * 6, t0=4)) == 1


def test_start_armed_captures_a_load_already_present() -> None:
    cap = WeighinCapture(division_g=D, start_armed=True)
    assert len(run(cap, [reading(5000)] * 6)) == 1


def test_rearm_needs_a_return_to_zero_not_just_a_lighter_load() -> None:
    cap = armed()
    assert len(run(cap, [reading(3000)] * 6, t0=1)) == 1
    assert run(cap, [reading(1500)] * 8, t0=3) == []  # half taken off: no second event
    assert run(cap, [reading(30, Status.MOTION)], t0=6) == []  # 3 d: not zero yet
    assert not cap.armed
    assert run(cap, [reading(0, Status.MOTION)], t0=7) == []
    assert cap.armed
    assert [e.net_g for _, e in run(cap, [reading(1500)] * 6, t0=8)] == [1500]


def test_window_needs_min_samples_and_min_span() -> None:
    cap2 = WeighinCapture(division_g=D, min_samples=5, window_s=1.0)
    cap2.feed(reading(0), 0)
    # four samples over 3 s: span ok, too few samples
    assert run(cap2, [reading(800)] * 4, t0=1, dt=1.0) == []
    cap3 = WeighinCapture(division_g=D, min_samples=3, window_s=1.0)
    cap3.feed(reading(0), 0)
    # many samples within 0.9 s: enough samples, span too short
    assert run(cap3, [reading(800)] * 10, t0=1, dt=0.1) == []
    assert len(run(cap3, [reading(800)] * 2, t0=2.0, dt=0.1)) == 1


def test_values_drifting_more_than_one_division_restart_the_window() -> None:
    cap = armed()
    drifting = [reading(1000 + 15 * i) for i in range(8)]  # 1.5 d per sample
    assert run(cap, drifting, t0=1) == []
    settled = [reading(1105), reading(1110), reading(1105), reading(1110), reading(1110)]
    events = run(cap, settled, t0=3)
    assert [e.net_g for _, e in events] == [1110]


@pytest.mark.parametrize(
    "bad",
    [
        reading(None, Status.OVERLOAD),
        reading(None, Status.UNDERLOAD),
        reading(None, Status.ERROR),
        reading(1000, Status.MOTION),
        reading(1000, Status.ERROR),
    ],
    ids=["overload", "underload", "error", "motion", "error-with-weight"],
)
def test_an_ineligible_reading_breaks_the_window(bad: Reading) -> None:
    cap = armed()
    items = [reading(1000), reading(1000), reading(1000), bad, reading(1000), reading(1000)]
    assert run(cap, items, t0=1, dt=0.4) == []  # never 3 good samples over 1 s in a row
    assert run(cap, [bad] * 10, t0=5) == []


def test_negative_weight_is_never_captured() -> None:
    cap = armed()
    assert run(cap, [reading(-5000)] * 10, t0=1) == []


def test_below_minimum_weight_is_not_captured() -> None:
    cap = armed()
    assert run(cap, [reading(19 * D)] * 10, t0=1) == []
    assert [e.net_g for _, e in run(cap, [reading(20 * D)] * 6, t0=5)] == [20 * D]


def test_division_from_the_reading_wins_over_the_configured_one() -> None:
    cap = armed()
    # d = 50 g from the indicator: 20 d = 1000 g, so 900 g is below the minimum
    assert run(cap, [reading(900, division_g=50)] * 8, t0=1) == []
    events = run(cap, [reading(1000, division_g=50)] * 6, t0=4)
    assert [(e.net_g, e.division_g) for _, e in events] == [(1000, 50)]


def test_net_weighing_keeps_the_tare_and_rearms_on_gross_zero() -> None:
    cap = armed()
    net = [reading(2000, mode=Mode.NET, tare_g=500)] * 6
    events = run(cap, net, t0=1)
    assert [(e.net_g, e.tare_g) for _, e in events] == [(2000, 500)]
    # load taken off with the tare still set: net -500 is gross zero
    assert run(cap, [reading(-500, mode=Mode.NET, tare_g=500)], t0=4) == []
    assert cap.armed


def test_a_tare_display_is_not_a_weighin() -> None:
    cap = armed()
    assert run(cap, [reading(800, mode=Mode.TARE, tare_g=800)] * 10, t0=1) == []


def test_a_gap_in_readings_restarts_the_window() -> None:
    cap = armed()
    assert cap.feed(reading(1000), 1.0) is None
    assert cap.feed(reading(1000), 1.5) is None
    assert cap.feed(reading(1000), 5.0) is None  # 3.5 s silence: window restarts here
    assert cap.feed(reading(1000), 5.5) is None
    assert cap.feed(reading(1000), 6.0) is not None


def test_frames_are_bounded_and_the_newest_are_kept() -> None:
    cap = WeighinCapture(division_g=D, min_samples=40, window_s=0.1)
    cap.feed(reading(0), 0)
    items = [Reading(Status.STABLE, 1000 + (i % 2), f"f{i}".encode(), "test") for i in range(40)]
    ((_, event),) = run(cap, items, t0=1, dt=0.01)
    assert len(event.frames) == FRAMES_KEPT
    assert event.frames[-1] == b"f39"


def test_reset_disarms_and_rearm_arms() -> None:
    cap = armed()
    cap.reset()
    assert not cap.armed
    assert run(cap, [reading(1000)] * 6, t0=1) == []
    cap.rearm()
    assert len(run(cap, [reading(1000)] * 6, t0=4)) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"division_g": 0},
        {"division_g": 10, "min_divisions": 0},
        {"division_g": 10, "min_samples": 0},
        {"division_g": 10, "window_s": -1},
        {"division_g": 10, "zero_band_divisions": 20},
        {"division_g": 10, "max_gap_s": 0},
    ],
)
def test_constructor_rejects_nonsense(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        WeighinCapture(**kwargs)  # type: ignore[arg-type]


def test_from_indicator_frames_to_a_weighin() -> None:
    """Toledo frames carry d = 50 g: the capture uses it, and keeps the exact frames."""
    from protocols.base import get_protocol
    from protocols.toledo import checksum

    def frame(swb: int, digits: bytes) -> bytes:
        body = b"\x02" + bytes([0x3C, swb, 0x20]) + digits + b"000000\r"
        return body + bytes([checksum(body)])

    toledo = get_protocol("toledo", checksum=True)
    zero, moving, settled = frame(0x30, b"000000"), frame(0x38, b"001240"), frame(0x30, b"001250")
    cap = WeighinCapture(division_g=1)  # configured d is overridden by the frames' 50 g
    stream = [zero, moving, moving, settled, settled, settled, settled, settled]
    events = []
    for i, raw in enumerate(stream):
        reading = toledo.parse(raw)
        assert reading is not None
        event = cap.feed(reading, i * 0.3)
        if event is not None:
            events.append(event)
    assert [(e.net_g, e.division_g) for e in events] == [(12_500, 50)]
    assert events[0].frames == (settled,) * 5  # 0.9 s .. 2.1 s: the first span >= 1 s
