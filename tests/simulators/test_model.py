"""The load-cell model: rings and settles, holds a steady value, overload, zero and tare."""

from __future__ import annotations

import pytest

from simulators.scales.model import LoadModel


def _samples(model: LoadModel, start: float, end: float, step: float = 0.05) -> list[float]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += step
    return out


def test_settles_to_the_load_rounded_to_d() -> None:
    model = LoadModel(division_g=20, capacity_g=150_000, seed=1)
    model.place(3_127, now=0.0)
    early = [model.display(now=t) for t in _samples(model, 0.0, 0.4)]
    assert not any(d.stable for d in early)
    assert len({d.weight_g for d in early}) > 3  # ringing and noise while moving
    late = [model.display(now=t) for t in _samples(model, 3.0, 5.0)]
    assert all(d.stable for d in late)
    assert {d.weight_g for d in late} == {3_120}


def test_settling_time_grows_with_the_step() -> None:
    def settle_time(grams: int) -> float:
        model = LoadModel(division_g=20, capacity_g=150_000, seed=2)
        model.place(grams, now=0.0)
        return next(t for t in _samples(model, 0, 10, 0.01) if model.settled(t))

    assert 0.3 < settle_time(200) < settle_time(50_000) < 5.0


def test_removal_returns_to_zero() -> None:
    model = LoadModel(division_g=50, capacity_g=300_000, seed=3)
    model.place(10_000, now=0.0)
    model.remove(now=5.0)
    assert not model.display(now=5.1).stable
    assert model.display(now=10.0).weight_g == 0
    assert model.display(now=10.0).stable


def test_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[int]:
        model = LoadModel(division_g=20, capacity_g=150_000, seed=seed)
        model.place(5_000, now=0.0)
        return [model.display(now=t).weight_g for t in _samples(model, 0, 1)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_overload_and_underload() -> None:
    model = LoadModel(division_g=20, capacity_g=30_000, seed=4)
    model.place(40_000, now=0.0)
    shown = model.display(now=10.0)
    assert shown.overload
    assert not shown.stable
    model.place(-1_000, now=10.0)
    shown = model.display(now=20.0)
    assert shown.underload
    assert not shown.stable
    model.place(-200, now=20.0)
    shown = model.display(now=30.0)
    assert shown.weight_g == -200
    assert shown.stable
    assert not shown.underload


def test_shake_keeps_it_in_motion() -> None:
    model = LoadModel(division_g=20, capacity_g=150_000, seed=5)
    model.place(2_000, now=0.0)
    model.shake(3.0, now=4.0)
    assert not model.display(now=5.0).stable
    assert model.display(now=7.5).stable


def test_zero_and_tare() -> None:
    model = LoadModel(division_g=20, capacity_g=150_000, seed=6)
    model.place(1_000, now=0.0)
    assert not model.tare(now=0.05)  # refused in motion
    assert model.tare(now=5.0)
    model.place(4_000, now=5.0)
    shown = model.display(now=10.0)
    assert (shown.weight_g, shown.tare_g, shown.net) == (3_000, 1_000, True)
    model.clear_tare()
    model.place(60, now=10.0)
    assert model.zero(now=15.0)  # within the zero range
    assert model.display(now=15.0).weight_g == 0
    model.place(20_000, now=15.0)
    assert not model.zero(now=20.0)  # far outside +-2 % of capacity


def test_validation() -> None:
    with pytest.raises(ValueError, match="division_g"):
        LoadModel(division_g=0, capacity_g=1000)
    with pytest.raises(ValueError, match="capacity_g"):
        LoadModel(division_g=100, capacity_g=1000)
