"""Bins that fill with a daily pattern, seen through an HC-SR04 on gpiozero mock pins.

:class:`BinModel` is the bin: its fill level grows with the neighbourhood's daily
rhythm (mornings and evenings busiest, nights quiet) on a :class:`~simulators.clock.SimClock`
that may run a day in minutes, and drops to a few percent when the bin is emptied.

:class:`BinSimulator` puts the bin under an ultrasonic ranger: it creates the HC-SR04's
echo pin and a trigger pin (a ``MockTriggerPin``) on a gpiozero ``MockFactory`` and, on
every ping, answers with an echo pulse as long as sound takes to the fill surface and
back (``2 * distance / 343.26 m/s``); the echo's edges carry their own time stamps, as
kernel-stamped GPIO edges do on a Pi, so the measured length is exact on a busy machine.
Faults on demand: ``"no_echo"`` (the echo never rises: sensor unplugged),
``"out_of_range"`` (an echo from beyond the sensor's 4 m: lid open, sensor knocked
askew) and ``"unstable"`` (echoes scattered by rain or a moving object). The bin is
emptied by :meth:`BinSimulator.empty` or when its ``emptied_when`` callable says so
(e.g. :func:`pickup_poller`: the collector marked the pickup done in the API).

Inside an edge agent (``pin_factory = "mock"``), name the hook in the agent's config::

    [edge]
    pin_factory = "mock"
    simulator_hook = "simulators.bins:attach"

and :func:`attach` is called with the agent's pin factory before its sensors exist; it
simulates every ``[[edge.bins]]`` of the config. Its knobs come from the environment:
``SALINMAS_SIM_SPEED`` (time factor, default 1), ``SALINMAS_SIM_SEED``,
``SALINMAS_SIM_FILL`` (initial fill %, one value or one per bin, comma-separated),
``SALINMAS_SIM_DAILY_GROWTH`` (% per day, default 40), ``SALINMAS_SIM_PICKUPS_URL`` and
``SALINMAS_SIM_API_TOKEN`` (poll the API for completed pickups), ``SALINMAS_SIM_START``
(the simulated time at start, ISO 8601 with offset, shared by a fleet), and
``SALINMAS_SIM_CONFIG`` (the agent's config file, when not given ``settings``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import sleep
from typing import Any, Literal

from gpiozero.pins.mock import MockPin, MockTriggerPin, PinState

from simulators._io import on_sigterm
from simulators.clock import SimClock

log = logging.getLogger("salinmas.sim.bins")

SPEED_OF_SOUND_M_S = 343.26
#: an HC-SR04 sees nothing closer than this
BLIND_ZONE_MM = 20
#: where an out-of-range echo seems to come from (beyond the HC-SR04's 4 m)
OUT_OF_RANGE_MM = 4_500

Fault = Literal["no_echo", "out_of_range", "unstable"]

#: relative amount of waste thrown in per local hour (0..23): quiet nights, busy
#: mornings before work and school, a second peak after the evening meal
DAILY_PATTERN: tuple[float, ...] = (
    0.1,
    0.1,
    0.1,
    0.1,
    0.3,
    1.0,
    2.2,
    2.6,
    1.8,
    1.2,
    1.0,
    1.1,
    1.3,
    1.0,
    0.9,
    1.0,
    1.4,
    2.0,
    2.4,
    2.0,
    1.2,
    0.6,
    0.3,
    0.2,
)


class BinModel:
    """A bin's fill level over simulated time (pure; thread-safe).

    ``daily_growth_pct`` is how much of the bin an average day fills; the hour-to-hour
    rate follows ``pattern`` with day-to-day noise. The fill may pass 100 % (a heap above
    the full line) up to ``overflow_pct``.
    """

    def __init__(
        self,
        *,
        bin_id: str,
        empty_depth_mm: int,
        full_margin_mm: int,
        clock: SimClock | None = None,
        daily_growth_pct: float = 40.0,
        initial_fill_pct: float = 0.0,
        pattern: Sequence[float] = DAILY_PATTERN,
        overflow_pct: float = 110.0,
        seed: int = 0,
    ) -> None:
        if not 0 < full_margin_mm < empty_depth_mm:
            raise ValueError("need 0 < full_margin_mm < empty_depth_mm")
        if len(pattern) != 24 or min(pattern) < 0 or sum(pattern) <= 0:
            raise ValueError("pattern must be 24 non-negative weights, not all zero")
        if daily_growth_pct < 0 or not 0 <= initial_fill_pct <= overflow_pct:
            raise ValueError("daily_growth_pct must be >= 0 and 0 <= initial fill <= overflow")
        self.bin_id = bin_id
        self.empty_depth_mm = empty_depth_mm
        self.full_margin_mm = full_margin_mm
        self.clock = clock or SimClock()
        self.daily_growth_pct = daily_growth_pct
        self.overflow_pct = overflow_pct
        total = sum(pattern)
        self._per_hour = [daily_growth_pct * w / total for w in pattern]  # % per hour
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._fill = float(initial_fill_pct)
        self._at = self.clock.now()
        self._day_factor = self._new_day_factor()
        self._day = self._at.date()
        self.emptied_count = 0

    # -- state -------------------------------------------------------------------------
    def fill_pct(self, at: datetime | None = None) -> float:
        """The fill level (0 .. overflow %) at ``at`` (default: now on the clock)."""
        with self._lock:
            self._advance(at or self.clock.now())
            return self._fill

    def distance_mm(self, at: datetime | None = None) -> float:
        """Distance from the sensor to the fill surface (the bin's floor when empty)."""
        fill = self.fill_pct(at)
        span = self.empty_depth_mm - self.full_margin_mm
        return max(BLIND_ZONE_MM + 5.0, self.empty_depth_mm - fill / 100 * span)

    def empty(self, residual_pct: float | None = None) -> None:
        """The collector empties the bin: a few percent stay (sticky, wet waste)."""
        with self._lock:
            self._advance(self.clock.now())
            self._fill = residual_pct if residual_pct is not None else self._rng.uniform(0, 3)
            self.emptied_count += 1

    def set_fill(self, pct: float) -> None:
        """Jump to ``pct`` (for demos and tests)."""
        with self._lock:
            self._advance(self.clock.now())
            self._fill = min(max(0.0, pct), self.overflow_pct)

    # -- internals ---------------------------------------------------------------------
    def _new_day_factor(self) -> float:
        return math.exp(self._rng.gauss(0.0, 0.25))  # busier and quieter days

    def _advance(self, to: datetime) -> None:
        step = timedelta(minutes=10)
        while self._at < to:
            nxt = min(to, self._at + step)
            if nxt.date() != self._day:
                self._day = nxt.date()
                self._day_factor = self._new_day_factor()
            hour = int(self.clock.local_hour(self._at)) % 24
            hours = (nxt - self._at).total_seconds() / 3600
            self._fill += self._per_hour[hour] * self._day_factor * hours
            self._at = nxt
        self._fill = min(self._fill, self.overflow_pct)


class SimEchoPin(MockPin):  # type: ignore[misc]
    """The HC-SR04's echo line, whose edges carry their own time stamps.

    On a Pi the kernel stamps GPIO edges (lgpio), so the pulse a sensor measures does
    not depend on when Python gets to run. :meth:`edge` does the same for the mock pin:
    the simulator says when the edge happened, and a reader computing ``fall - rise``
    gets the exact echo length even on a busy machine.
    """

    _state: bool
    _last_change: float

    def edge(self, value: bool, at: float) -> None:
        """The line goes to ``value`` at time ``at`` (on the factory's ``ticks`` clock)."""
        assert self._function == "input"
        if self._state == value:
            return
        self._state = value
        self.states.append(PinState(at - self._last_change, value))
        self._last_change = at
        wanted = ("both", "rising") if value else ("both", "falling")
        if self._edges in wanted and self._when_changed is not None:
            self._call_when_changed()


class SimTriggerPin(MockTriggerPin):  # type: ignore[misc]
    """A ``MockTriggerPin`` whose echo length comes from ``source`` at each ping.

    ``source()`` returns the echo pulse length in seconds, or ``None`` for no echo.
    """

    echo_time: float

    def __init__(
        self,
        factory: Any,
        info: Any,
        echo_pin: Any = None,
        echo_time: float = 0.04,
        source: Callable[[], float | None] | None = None,
    ) -> None:
        super().__init__(factory, info, echo_pin=echo_pin, echo_time=echo_time)
        self.source = source

    def _echo(self) -> None:
        length: float | None = self.echo_time
        if self.source is not None:
            length = self.source()
        if length is None:
            return  # no echo: the pin never rises
        self.echo_time = length
        sleep(0.001)  # the HC-SR04 sends its burst about half a millisecond after TRIG
        echo = self.echo_pin
        if isinstance(echo, SimEchoPin):
            rise = self.factory.ticks()
            echo.edge(True, rise)
            sleep(length)
            echo.edge(False, rise + length)  # the edge's own time, not when we woke up
        else:
            echo.drive_high()
            sleep(length)
            echo.drive_low()


class BinSimulator:
    """One bin on an HC-SR04 made of mock pins; runs a thread that polls ``emptied_when``.

    Create it *before* the code under test opens its sensor on the same pins (the edge
    agent calls its ``simulator_hook`` first for exactly this reason).
    """

    def __init__(
        self,
        model: BinModel,
        pin_factory: Any,
        *,
        trigger_pin: int | str,
        echo_pin: int | str,
        lid_pin: int | str | None = None,
        emptied_when: Callable[[], bool] | None = None,
        poll_s: float = 2.0,
        surface_noise_mm: float = 4.0,
        seed: int = 0,
    ) -> None:
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        self.model = model
        self.emptied_when = emptied_when
        self.poll_s = poll_s
        self.surface_noise_mm = surface_noise_mm
        self.fault: Fault | None = None
        #: the lid's state; the thread keeps the lid pin at it (a pull-up resets it)
        self.lid_open = False
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pings = 0
        self.echo_pin = pin_factory.pin(echo_pin, pin_class=SimEchoPin)
        if not isinstance(self.echo_pin, SimEchoPin):
            raise RuntimeError(
                f"pin {echo_pin} already exists as {type(self.echo_pin).__name__}: create the "
                "bin simulator before the sensor that uses it"
            )
        self.trigger_pin = self._trigger(pin_factory, trigger_pin)
        self.lid_pin = pin_factory.pin(lid_pin) if lid_pin is not None else None

    def _trigger(self, factory: Any, name: int | str) -> Any:
        pin = factory.pin(name, pin_class=SimTriggerPin, echo_pin=self.echo_pin)
        if isinstance(pin, SimTriggerPin):
            pin.echo_pin = self.echo_pin
            pin.source = self._echo_seconds
            return pin
        raise RuntimeError(
            f"pin {name} already exists as {type(pin).__name__}: create the bin simulator "
            "before the sensor that uses it"
        )

    # -- the sensor's view -------------------------------------------------------------
    def _echo_seconds(self) -> float | None:
        self.pings += 1
        fault = self.fault
        if fault == "no_echo":
            return None
        distance: float
        if fault == "out_of_range":
            distance = OUT_OF_RANGE_MM
        else:
            distance = self.model.distance_mm() + self._rng.gauss(0.0, self.surface_noise_mm)
            if fault == "unstable":
                distance += self._rng.uniform(-300, 300)
            distance = max(BLIND_ZONE_MM + 5.0, distance)
        return 2 * distance / 1000 / SPEED_OF_SOUND_M_S

    # -- actions -----------------------------------------------------------------------
    def fill_pct(self) -> float:
        return self.model.fill_pct()

    def empty(self) -> None:
        """The bin is emptied (the pickup was done)."""
        self.model.empty()
        log.info("bin %s emptied", self.model.bin_id)

    def set_fault(self, fault: Fault | None) -> None:
        """Break the sensor (``"no_echo"``, ``"out_of_range"``, ``"unstable"``) or mend it."""
        if fault not in (None, "no_echo", "out_of_range", "unstable"):
            raise ValueError(f"unknown fault {fault!r}")
        self.fault = fault

    def open_lid(self) -> None:
        """Lid switch open (pin high; a lid switch closes to ground when the lid is shut)."""
        self.lid_open = True
        self._drive_lid()

    def close_lid(self) -> None:
        self.lid_open = False
        self._drive_lid()

    def _drive_lid(self) -> None:
        pin = self.lid_pin
        if pin is None or pin.function != "input" or bool(pin.state) == self.lid_open:
            return
        pin.drive_high() if self.lid_open else pin.drive_low()

    # -- the thread --------------------------------------------------------------------
    def start(self) -> BinSimulator:
        if self._thread is None and (self.emptied_when is not None or self.lid_pin is not None):
            self._thread = threading.Thread(
                target=self._run, name=f"bin-{self.model.bin_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> BinSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        wait = min(0.5, self.poll_s)  # the lid first: the agent's pull-up just reset it
        while not self._stop.wait(wait):
            wait = self.poll_s
            with contextlib.suppress(Exception):
                self._drive_lid()
            if self.emptied_when is None:
                continue
            try:
                if self.emptied_when():
                    self.empty()
            except Exception:  # a flaky API must not kill the bin
                log.exception("emptying trigger of bin %s failed", self.model.bin_id)


# --------------------------------------------------------------------------- pickups


def pickup_poller(
    url: str,
    bin_id: str,
    *,
    token: str | None = None,
    timeout_s: float = 3.0,
    done_states: Sequence[str] = ("done", "completed"),
) -> Callable[[], bool]:
    """A trigger that is True once per pickup of ``bin_id`` newly completed at ``url``.

    ``url`` answers ``GET`` with JSON: a list of pickups, or an object with an ``items``
    list; a pickup is an object with ``id``, ``bin_id`` and ``status``. Pickups already
    done at the first poll are the baseline and do not empty the bin. Errors count as
    "nothing new" (and are logged), so an API that is not up yet is harmless.
    """
    seen: set[str] | None = None
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"pickups url must be http(s), got {url!r}")

    def completed() -> set[str]:
        req = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) checked)
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            doc = json.loads(resp.read())
        items = doc.get("items", []) if isinstance(doc, dict) else doc
        return {
            str(p.get("id"))
            for p in items
            if isinstance(p, dict)
            and p.get("bin_id") == bin_id
            and str(p.get("status", "")).lower() in done_states
        }

    def poll() -> bool:
        nonlocal seen
        try:
            now_done = completed()
        except (OSError, ValueError) as exc:
            log.debug("pickups poll of %s failed: %s", url, exc)
            return False
        if seen is None:
            seen = now_done
            return False
        new = now_done - seen
        seen |= now_done
        return bool(new)

    return poll


# --------------------------------------------------------------------------- agent hook

#: simulators attached inside this process (kept alive for the process's life)
ATTACHED: list[BinSimulator] = []


@dataclass(frozen=True)
class HookOptions:
    """The bin simulators' knobs inside an agent process (from the environment)."""

    speed: float = 1.0
    seed: int = 0
    fills: tuple[float, ...] = ()
    daily_growth_pct: float = 40.0
    pickups_url: str | None = None
    api_token: str | None = None
    start: datetime | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> HookOptions:
        e = os.environ if env is None else env
        fills = tuple(float(x) for x in e.get("SALINMAS_SIM_FILL", "").split(",") if x.strip())
        return cls(
            speed=float(e.get("SALINMAS_SIM_SPEED", "1")),
            seed=int(e.get("SALINMAS_SIM_SEED", "0")),
            fills=fills,
            daily_growth_pct=float(e.get("SALINMAS_SIM_DAILY_GROWTH", "40")),
            pickups_url=e.get("SALINMAS_SIM_PICKUPS_URL") or None,
            api_token=e.get("SALINMAS_SIM_API_TOKEN") or None,
            start=datetime.fromisoformat(e["SALINMAS_SIM_START"])
            if e.get("SALINMAS_SIM_START")
            else None,
        )

    def fill_for(self, index: int) -> float:
        if not self.fills:
            return 0.0
        return self.fills[min(index, len(self.fills) - 1)]


def attach(pin_factory: Any, settings: Any = None) -> list[BinSimulator]:
    """The edge agent's ``simulator_hook``: simulate every bin of its configuration.

    ``settings`` is the agent's ``EdgeSettings``; when the agent passes only the pin
    factory, the config file named by ``SALINMAS_SIM_CONFIG`` (or ``SALINMAS_CONFIG``)
    is read. Returns the simulators (also kept in :data:`ATTACHED`).
    """
    if pin_factory is None:
        raise RuntimeError("the bin simulator needs pin_factory = 'mock' in the agent config")
    if settings is None:
        from edge.config import EdgeSettings

        path = os.environ.get("SALINMAS_SIM_CONFIG") or os.environ.get("SALINMAS_CONFIG")
        if not path:
            raise RuntimeError("set SALINMAS_SIM_CONFIG to the agent's config file")
        settings = EdgeSettings.load(path)
    opts = HookOptions.from_env()
    clock = SimClock(opts.speed, start=opts.start)
    sims: list[BinSimulator] = []
    for i, b in enumerate(settings.bins):
        model = BinModel(
            bin_id=b.bin_id,
            empty_depth_mm=b.empty_depth_mm,
            full_margin_mm=b.full_margin_mm,
            clock=clock,
            daily_growth_pct=opts.daily_growth_pct,
            initial_fill_pct=opts.fill_for(i),
            seed=opts.seed + i,
        )
        trigger = None
        if opts.pickups_url:
            trigger = pickup_poller(opts.pickups_url, b.bin_id, token=opts.api_token)
        sim = BinSimulator(
            model,
            pin_factory,
            trigger_pin=b.trigger_pin,
            echo_pin=b.echo_pin,
            lid_pin=b.lid_pin,
            emptied_when=trigger,
            seed=opts.seed + 1000 + i,
        )
        sims.append(sim.start())
        log.info("simulating bin %s (fill %.1f %%)", b.bin_id, model.fill_pct())
    ATTACHED.extend(sims)
    return sims


def detach(sims: Sequence[BinSimulator] | None = None) -> None:
    """Stop ``sims`` (default: every simulator :func:`attach` started in this process)."""
    for sim in list(ATTACHED if sims is None else sims):
        with contextlib.suppress(Exception):
            sim.stop()
        if sim in ATTACHED:
            ATTACHED.remove(sim)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``salinmas sim bin``: watch a simulated bin fill over an accelerated day."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="salinmas sim bin",
        description=(
            "Simulate one bin filling with the neighbourhood's daily rhythm and print its "
            "fill level, the distance an HC-SR04 in the lid would measure and the echo "
            "length. The bin is emptied when it reaches --empty-at, or when the API at "
            "--pickups-url reports its pickup done. To feed an edge agent instead, set "
            "simulator_hook = 'simulators.bins:attach' in the agent's config."
        ),
    )
    parser.add_argument("--bin-id", default="bin-demo-01")
    parser.add_argument("--depth-mm", type=int, default=1000, help="sensor to empty floor")
    parser.add_argument("--margin-mm", type=int, default=100, help="sensor to the full line")
    parser.add_argument("--day-minutes", type=float, default=2.0, help="real minutes per day")
    parser.add_argument("--growth", type=float, default=60.0, help="%% of the bin per day")
    parser.add_argument("--fill", type=float, default=10.0, help="initial fill %%")
    parser.add_argument("--every", type=float, default=2.0, help="real seconds between lines")
    parser.add_argument("--empty-at", type=float, default=95.0, help="auto-empty at this %%")
    parser.add_argument("--pickups-url", help="GET this for completed pickups instead")
    parser.add_argument("--token", help="bearer token for --pickups-url")
    parser.add_argument("--duration", type=float, default=0, help="stop after N real seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    clock = SimClock.day_in(args.day_minutes)
    model = BinModel(
        bin_id=args.bin_id,
        empty_depth_mm=args.depth_mm,
        full_margin_mm=args.margin_mm,
        clock=clock,
        daily_growth_pct=args.growth,
        initial_fill_pct=args.fill,
        seed=args.seed,
    )
    trigger = (
        pickup_poller(args.pickups_url, args.bin_id, token=args.token) if args.pickups_url else None
    )
    stop = threading.Event()
    started = time.monotonic()
    print(f"bin {args.bin_id}: a day in {args.day_minutes:g} min; Ctrl-C stops", flush=True)
    try:
        with on_sigterm(stop.set):
            while not stop.is_set():
                fill = model.fill_pct()
                if (trigger is not None and trigger()) or (
                    trigger is None and fill >= args.empty_at
                ):
                    model.empty()
                    print("  emptied", flush=True)
                    fill = model.fill_pct()
                distance = model.distance_mm()
                local = clock.now().astimezone(clock.tz)
                print(
                    f"{local:%a %H:%M}  fill {fill:5.1f} %  distance {distance:6.0f} mm  "
                    f"echo {2 * distance / 1000 / SPEED_OF_SOUND_M_S * 1000:5.2f} ms",
                    flush=True,
                )
                if args.duration and time.monotonic() - started >= args.duration:
                    break
                stop.wait(args.every)
    except KeyboardInterrupt:
        pass
    return 0
