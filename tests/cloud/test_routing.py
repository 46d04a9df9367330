"""Motorbike routes: every stop served once or reported with a reason, no rule broken.

Plans are checked by :func:`check_plan`, written here from the inputs alone (travel
times from the straight-line matrix, which test_routing_matrix.py pins to numbers):
each stop on one route or in ``unserved``, box weight and volume, the ETA chain,
time windows, shift start and end, who may serve what.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cloud.routing import (
    Collector,
    LatLon,
    Plan,
    Progress,
    RoutingError,
    RoutingSettings,
    Stop,
    StraightLine,
    Window,
    engine,
    plan_routes,
    replan_routes,
)
from cloud.routing.problem import UNLIMITED, Job, Problem, Vehicle
from tests.support.waiting import wait_until

WIB = timezone(timedelta(hours=7))
DAY = datetime(2026, 3, 2, tzinfo=WIB)
DEPOT = LatLon(-7.4245, 109.2302)  # a waste bank in Purwokerto
#: a fixed search to the end: the same routes on a loaded machine as on an idle one
SETTINGS = RoutingSettings(exploration_level=5, solve_timeout_s=None)
LINE = StraightLine(detour_factor=SETTINGS.detour_factor, speed_kmh=SETTINGS.speed_kmh)
REASONS = {"no_collector", "capacity", "time_window", "shift"}


def at(hour: float) -> datetime:
    return DAY + timedelta(hours=hour)


def ride(a: LatLon, b: LatLon) -> int:
    return int(LINE.matrix([a, b]).durations_s[0, 1])


def near(rng: random.Random, km: float = 4.0) -> LatLon:
    d = km / 111.0
    return LatLon(DEPOT.lat + rng.uniform(-d, d), DEPOT.lon + rng.uniform(-d, d))


def shift(
    n: int, *, capacity_g: int = 60_000, capacity_ml: int | None = 500_000
) -> list[Collector]:
    return [
        Collector(f"col-{k}", at(8), at(15), capacity_g=capacity_g, capacity_ml=capacity_ml)
        for k in range(n)
    ]


def households(n: int, seed: int, *, kg: tuple[float, float] = (1.0, 4.5)) -> list[Stop]:
    """``n`` requests within 4 km; every third asks for a two-hour window."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        window = None
        if i % 3 == 0:
            h = rng.choice([8, 9, 10, 11, 12])
            window = Window(at(h), at(h + 2))
        out.append(
            Stop(
                f"pickup:{i}",
                near(rng),
                weight_g=int(rng.uniform(*kg) * 1000),
                volume_ml=rng.randint(5, 25) * 1000,
                service_s=rng.choice([180, 240, 300]),
                window=window,
            )
        )
    return out


def check_plan(
    plan: Plan,
    stops: Sequence[Stop],
    collectors: Sequence[Collector],
    *,
    progress: Sequence[Progress] = (),
    now: datetime | None = None,
) -> None:
    """Every rule a plan must keep, checked from the inputs (not from the planner)."""
    by_id = {s.id: s for s in stops}
    done = {sid for p in progress for sid in p.done}
    placed = [ps.stop_id for r in plan.routes for ps in r.stops]
    unserved = [u.stop_id for u in plan.unserved]
    assert sorted(placed + unserved) == sorted(set(by_id) - done), "each stop exactly once"
    assert not done & set(placed + unserved), "a stop already done is planned again"
    assert {u.reason for u in plan.unserved} <= REASONS
    assert all(u.detail for u in plan.unserved)
    assert sorted(r.collector_id for r in plan.routes) == sorted(c.id for c in collectors)
    moving = {p.collector_id: p for p in progress}
    for c in collectors:
        route = plan.route_of(c.id)
        p = moving.get(c.id)
        g, ml = (p.load_g, p.load_ml) if p else (0, 0)
        here = p.position if p else (c.start or DEPOT)
        leave = max(p.at, c.shift_start) if p else max(now or c.shift_start, c.shift_start)
        assert route.depart == leave
        assert route.origin == here
        assert route.done == (p.done if p else ())
        t = leave
        for ps in route.stops:
            s = by_id[ps.stop_id]
            assert s.collectors is None or c.id in s.collectors
            g += s.weight_g
            ml += s.volume_ml or 0
            assert (ps.load_g, ps.load_ml) == (g, ml)
            assert ps.arrival == t + timedelta(seconds=ride(here, s.location))
            assert ps.start == max(ps.arrival, s.window.start if s.window else ps.arrival)
            if s.window is not None:
                assert s.window.start <= ps.start <= s.window.end, f"{s.id} outside window"
            assert ps.departure == ps.start + timedelta(seconds=s.service_s)
            t, here = ps.departure, s.location
        assert g <= c.capacity_g, f"{c.id} carries {g} g"
        assert c.capacity_ml is None or ml <= c.capacity_ml, f"{c.id} carries {ml} ml"
        assert (route.load_g, route.load_ml) == (g, ml)
        assert route.back == t + timedelta(seconds=ride(here, DEPOT))
        assert route.back <= c.shift_end, f"{c.id} back after the shift"


def plan(stops: Sequence[Stop], collectors: Sequence[Collector], **kw: object) -> Plan:
    return plan_routes(
        depot=DEPOT,
        stops=stops,
        collectors=collectors,
        matrix=LINE,
        settings=SETTINGS,
        **kw,  # type: ignore[arg-type]
    )


def planned(stops: Sequence[Stop], collectors: Sequence[Collector]) -> Plan:
    """A plan of the whole shift that has passed :func:`check_plan`."""
    p = plan(stops, collectors)
    check_plan(p, stops, collectors)
    return p


def reasons(p: Plan) -> dict[str, str]:
    return {u.stop_id: u.reason for u in p.unserved}


# ----------------------------------------------------------------------------- tests


def test_forty_stops_two_collectors_all_served() -> None:
    """40 households (~110 kg), two motorbikes of 60 kg: all served, every rule kept.

    mutant: job time windows not given to VROOM -> fails (a stop outside its window);
    mutant: vehicle time window end = infinity -> fails (back after the shift);
    mutant: capacity not given to VROOM -> fails (RoutingError or over 60 kg);
    mutant: ETA ignores waiting for the window -> fails (start != max(arrival, open)).
    """
    stops = households(40, seed=7, kg=(1.0, 4.5))
    assert 100_000 < sum(s.weight_g for s in stops) <= 115_000
    collectors = shift(2)
    p = planned(stops, collectors)
    assert p.unserved == ()
    assert all(r.stops for r in p.routes)
    assert p.matrix_source == "straight"
    assert p.engine.startswith("vroom")
    # the box is the binding constraint: both routes are well loaded
    assert all(r.load_g > 40_000 for r in p.routes)


def test_forty_stops_over_capacity_reports_the_rest() -> None:
    """~150 kg for 2 x 60 kg: what does not fit is reported as ``capacity``, once.

    mutant: stops VROOM leaves out not added to ``unserved`` -> fails (silently dropped);
    mutant: explain() ranks window before capacity -> fails (reason not capacity).
    """
    stops = households(40, seed=11, kg=(2.5, 5.0))
    total = sum(s.weight_g for s in stops)
    assert total > 140_000
    collectors = shift(2)
    p = planned(stops, collectors)
    assert p.unserved
    assert set(reasons(p).values()) == {"capacity"}
    served = sum(r.load_g for r in p.routes)
    assert served + sum(next(s.weight_g for s in stops if s.id == u) for u in reasons(p)) == total
    assert served > 110_000  # the boxes are nearly full, not half empty


def test_forty_stops_short_shift_keeps_the_shift_end() -> None:
    """A 2.5-hour shift cannot reach 40 households: the rest is ``shift``, all back in time.

    mutant: vehicle time window end = infinity -> fails (RoutingError: back after the
    shift; with the planner's own check off too, check_plan's shift-end assertion).
    """
    stops = [replace(s, window=None) for s in households(40, seed=13, kg=(0.5, 1.5))]
    collectors = [
        Collector(f"col-{k}", at(8), at(10.5), capacity_g=60_000, capacity_ml=500_000)
        for k in range(2)
    ]
    p = planned(stops, collectors)
    assert set(reasons(p).values()) == {"shift"}
    assert all(r.back > at(10) for r in p.routes)  # the shifts are used to the end


def test_a_window_that_cannot_be_met_is_reported_not_dropped() -> None:
    """Windows before the shift, after it, or too soon to ride there: ``time_window``.

    mutant: precheck skips the window test -> fails (engine-side reason or placed);
    mutant: window end compared with arrival + service -> fails ("tight" is servable);
    mutant: window opening after the shift reported as ``shift`` -> fails.
    """
    rng = random.Random(3)
    far = LatLon(DEPOT.lat + 0.08, DEPOT.lon)  # ~9 km north, ~33 min by motorbike
    stops = [
        *households(6, seed=5),
        Stop("early", near(rng), 2_000, window=Window(at(6), at(7.5))),
        Stop("late", near(rng), 2_000, window=Window(at(16), at(17))),
        Stop("too-far-too-soon", far, 2_000, window=Window(at(8), at(8.25))),
        # reachable just in time: starts before its window ends, even though the
        # service runs past it
        Stop(
            "tight",
            LatLon(DEPOT.lat + 0.01, DEPOT.lon),
            2_000,
            service_s=900,
            window=Window(
                at(8), at(8) + timedelta(seconds=ride(DEPOT, LatLon(DEPOT.lat + 0.01, DEPOT.lon)))
            ),
        ),
    ]
    collectors = shift(1)
    p = planned(stops, collectors)
    assert reasons(p) == {
        "early": "time_window",
        "late": "time_window",
        "too-far-too-soon": "time_window",
    }
    assert p.route_of("col-0").stops[0].stop_id == "tight"


def test_two_windows_one_collector_cannot_keep_both() -> None:
    """Same 10-minute window on opposite sides of town: one is served, one reported.

    mutant: explain() reports ``shift`` for a stop whose own window is the blocker -> fails.
    """
    east = LatLon(DEPOT.lat, DEPOT.lon + 0.03)
    west = LatLon(DEPOT.lat, DEPOT.lon - 0.03)
    w = Window(at(9), at(9) + timedelta(minutes=10))
    stops = [Stop("east", east, 3_000, window=w), Stop("west", west, 3_000, window=w)]
    collectors = shift(1)
    p = planned(stops, collectors)
    assert len(p.route_of("col-0").stops) == 1
    assert list(reasons(p).values()) == ["time_window"]


def test_the_reason_names_the_binding_constraint() -> None:
    """Only the full collector could come in time, the one with room cannot: ``capacity``.

    col-small (10 kg box) must take the urgent 9 kg bin; col-late starts after the
    household's window. The 3 kg request is feasible alone (for col-small) and left out.
    mutant: explain() checks the window before capacity -> fails (``time_window``).
    """
    w = Window(at(8.5), at(8.75))
    stops = [
        Stop(
            "urgent",
            LatLon(DEPOT.lat + 0.004, DEPOT.lon),
            9_000,
            priority=100,
            collectors=frozenset({"col-small"}),
        ),
        Stop("request", LatLon(DEPOT.lat - 0.004, DEPOT.lon), 3_000, window=w),
    ]
    collectors = [
        Collector("col-small", at(8), at(12), capacity_g=10_000),
        Collector("col-late", at(9), at(12), capacity_g=60_000),
    ]
    p = planned(stops, collectors)
    assert p.assignments() == {"urgent": "col-small"}
    assert [(u.stop_id, u.reason) for u in p.unserved] == [("request", "capacity")]
    assert "full" in p.unserved[0].detail


def test_alone_infeasible_stops_get_their_reason() -> None:
    """Too heavy for any box, too far to get back, nobody allowed: each says why.

    mutant: capacity precheck ignores volume -> fails (the bulky sack gets the engine's
    "boxes are full" instead of "does not fit in the largest box");
    mutant: collectors restriction ignored -> fails (a bin is emptied by the wrong one).
    """
    rng = random.Random(9)
    stops = [
        *households(8, seed=2),
        Stop("heavy", near(rng), 70_000),
        Stop("bulky", near(rng), 5_000, volume_ml=600_000),
        Stop("far", LatLon(DEPOT.lat + 1.0, DEPOT.lon), 2_000),  # ~150 km away
        Stop("bin:B-1", near(rng), 15_000, kind="bin", collectors=frozenset({"col-1"})),
        Stop("bin:B-2", near(rng), 15_000, kind="bin", collectors=frozenset({"col-9"})),
    ]
    collectors = shift(2)
    p = planned(stops, collectors)
    assert reasons(p) == {
        "heavy": "capacity",
        "bulky": "capacity",
        "far": "shift",
        "bin:B-2": "no_collector",
    }
    assert p.assignments()["bin:B-1"] == "col-1"
    detail = {u.stop_id: u.detail for u in p.unserved}
    assert "does not fit in the largest box" in detail["bulky"]
    assert "600000 ml" in detail["bulky"]


def test_priority_wins_when_not_everything_fits() -> None:
    """One 10 kg box, three 6 kg sacks: the urgent one is taken although it is farthest.

    mutant: priority not passed to VROOM -> fails (the nearest is taken).
    """
    stops = [
        Stop("near", LatLon(DEPOT.lat + 0.005, DEPOT.lon), 6_000),
        Stop("mid", LatLon(DEPOT.lat + 0.010, DEPOT.lon), 6_000),
        Stop("urgent", LatLon(DEPOT.lat + 0.030, DEPOT.lon), 6_000, priority=100),
    ]
    collectors = shift(1, capacity_g=10_000)
    p = planned(stops, collectors)
    assert [s.stop_id for s in p.route_of("col-0").stops] == ["urgent"]
    assert reasons(p) == {"near": "capacity", "mid": "capacity"}


def test_replan_keeps_what_is_done_and_starts_from_where_the_collector_is() -> None:
    """A collector is 2.5 hours late after 4 stops and a household adds a request.

    mutant: done stops not removed -> fails (planned again);
    mutant: progress time ignored (leave at shift start) -> fails (ETA in the past);
    mutant: load already in the box ignored -> fails (over 60 kg / wrong loads);
    mutant: pins ignored -> fails (a pinned stop changes collector).
    """
    stops = households(24, seed=21, kg=(1.5, 4.0))
    collectors = shift(2)
    first = planned(stops, collectors)
    done = first.route_of("col-0").stops[:4]
    late = done[-1].departure + timedelta(hours=2.5)
    prog = Progress(
        "col-0",
        position=done[-1].location,
        at=late,
        load_g=done[-1].load_g,
        load_ml=done[-1].load_ml,
        done=tuple(ps.stop_id for ps in done),
    )
    added = Stop(
        "pickup:new",
        LatLon(DEPOT.lat - 0.01, DEPOT.lon + 0.01),
        3_000,
        volume_ml=10_000,
        window=Window(late, late + timedelta(hours=2)),
    )
    stops2 = [*stops, added]
    now = late
    pins = {sid: cid for sid, cid in first.assignments().items() if sid not in prog.done}

    def again(pins: dict[str, str] | None) -> Plan:
        return replan_routes(
            depot=DEPOT,
            stops=stops2,
            collectors=collectors,
            progress=[prog],
            now=now,
            matrix=LINE,
            settings=SETTINGS,
            pins=pins,
        )

    free, pinned = again(None), again(pins)
    for p in (free, pinned):
        check_plan(p, stops2, collectors, progress=[prog], now=now)
        assert p.route_of("col-0").done == prog.done
        assert p.route_of("col-0").depart == late
        assert p.route_of("col-1").depart == now  # it had not reported: leaves now
        assert "pickup:new" in p.assignments() or "pickup:new" in reasons(p)
        assert all(ps.arrival > late for r in p.routes for ps in r.stops)
    # unpinned, the on-time collector takes over some of the late one's households ...
    assert any(pins.get(sid, cid) != cid for sid, cid in free.assignments().items())
    # ... pinned, nobody changes collector (what cannot be kept is reported instead)
    assert all(pins.get(sid, cid) == cid for sid, cid in pinned.assignments().items())
    assert pinned.unserved


def test_replan_without_pins_may_move_stops_to_the_other_collector() -> None:
    """Collector 0 breaks down at the depot two hours late: collector 1 takes over."""
    stops = households(10, seed=4, kg=(1.0, 2.0))
    collectors = shift(2)
    prog = Progress("col-0", position=DEPOT, at=at(14.9))
    p = replan_routes(
        depot=DEPOT,
        stops=stops,
        collectors=collectors,
        progress=[prog],
        now=at(8),
        matrix=LINE,
        settings=SETTINGS,
    )
    check_plan(p, stops, collectors, progress=[prog], now=at(8))
    assert p.route_of("col-0").stops == ()
    assert len(p.route_of("col-1").stops) + len(p.unserved) == 10


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Window(datetime(2026, 3, 2, 9), at(10)), "timezone-aware"),
        (lambda: Window(at(10), at(9)), "before it starts"),
        (lambda: Stop("x", DEPOT, -1), "weight_g"),
        (lambda: Stop("x", DEPOT, 1, priority=101), "priority"),
        (lambda: LatLon(91, 0), "latitude"),
        (lambda: Collector("c", at(9), at(8), capacity_g=1), "shift ends"),
        (lambda: plan([Stop("a", DEPOT, 1), Stop("a", DEPOT, 1)], shift(1)), "duplicate stop"),
        (lambda: plan([Stop("a", DEPOT, 1)], shift(1), pins={"a": "ghost"}), "unknown collector"),
    ],
)
def test_bad_input_is_refused_clearly(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_no_stops_or_no_collectors() -> None:
    assert plan([], shift(1)).route_of("col-0").stops == ()
    lonely = plan([Stop("a", DEPOT, 1_000)], [])
    assert [(u.stop_id, u.reason) for u in lonely.unserved] == [("a", "no_collector")]


def tiny_problem() -> Problem:
    return Problem(
        T=[[0, 60], [60, 0]],
        vehicles=[Vehicle(0, "c", 0, 0, 3_600, 10, 10, 0, 0)],
        jobs=[Job(0, Stop("a", DEPOT, 1), 1, 1, 0, 0, 0, UNLIMITED, frozenset({0}))],
    )


def test_the_engine_runs_in_a_worker_process_and_survives_its_death() -> None:
    """pyvroom holds the GIL while it solves: by default it runs in a worker process.

    mutant: solve() always solves in-process -> fails (same pid);
    mutant: the broken pool is not replaced -> fails (every later plan errors).
    """
    here = engine.solve(tiny_problem(), [0], SETTINGS.model_copy(update={"solve_in_worker": False}))
    worker = engine.warm_up(SETTINGS)
    there = engine.solve(tiny_problem(), [0], SETTINGS)
    assert here.pid == os.getpid()
    assert there.pid == worker != os.getpid()
    assert here.routes == there.routes == {0: [0]}
    os.kill(there.pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{there.pid}").exists() or _zombie(there.pid), 10, "gone")
    with pytest.raises(RoutingError, match="worker process died"):
        engine.solve(tiny_problem(), [0], SETTINGS)
    again = engine.solve(tiny_problem(), [0], SETTINGS)
    assert again.routes == {0: [0]}
    assert again.pid not in (os.getpid(), there.pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
