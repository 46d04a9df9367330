"""One load step, and the search for the highest rate a consumer holds.

A *step* publishes ``rate x duration`` events from the fleet, then waits until the
consumer has delivered (L0/L1) or stored (L2/L3) all of them, and records what it cost.

A step **holds** when

- every published message arrived (zero loss: delivered == published), and
- the consumer kept pace: the last one arrived at most ``allow_lag_s`` after the last
  publish (the level's own flush interval + 0.5 s), and
- the publisher itself reached >= 95 % of the offered rate, or was late by at most
  0.25 s (otherwise the step says nothing about the consumer: the ramp stops there, and
  a result never contradicted by a failing step is reported as a lower bound, ">=").

With ``D``-second steps a consumer of capacity ``C`` can still hold at ``C x (1 + 0.5/D)``
(its backlog drains within the slack), so the highest held rate overstates the capacity
by at most ``0.5/D`` (6 % at the full run's 8-second steps).

The search ramps the rate geometrically with short steps until one fails, then bisects
(geometric midpoint) between the last held and the first failed rate with full-length
steps, and confirms the result with a full-length step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.common import cpu_seconds, machine_busy, percentile, rss_mib
from bench.consumers import Consumer
from bench.publisher import FleetProcess

SLACK_S = 0.5


@dataclass
class Step:
    level: str
    qos: int
    purpose: str
    offered: float
    duration_s: float
    sent: int = 0
    acked: int = 0
    published_rate: float = 0.0
    delivered: int = 0
    lag_s: float | None = None  # last publish -> last stored; None if never complete
    held: bool = False
    publisher_bound: bool = False
    #: delivered / (first publish -> last stored, less the level's flush interval)
    throughput: float = 0.0
    cpu_us_per_msg: float | None = None
    broker_us_per_msg: float | None = None
    rss_mib: float = 0.0
    machine_busy_pct: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    n_latency: int = 0


@dataclass
class Plan:
    ramp_s: float
    step_s: float
    start_rate: float
    ramp_factor: float
    bisect_rounds: int
    max_rate: float
    check_80: bool = True  # at QoS 1, also run a step at 80 % of the max (loss check)
    #: stop bisecting once a (level, QoS) search has run this long
    budget_s: float = 75.0
    min_rate: float = 20.0
    #: a step ends when nothing new arrived for this long (loss), or after max_drain_s
    stall_s: float = 4.0
    max_drain_s: float = 90.0


@dataclass
class Search:
    level: str
    qos: int
    max_rate: float = 0.0
    publisher_bound: bool = False
    at_max: Step | None = None
    at_half: Step | None = None
    at_80: Step | None = None
    steps: list[Step] = field(default_factory=list)


class Runner:
    """Runs steps of one (level, QoS) against one consumer."""

    def __init__(
        self,
        fleet: FleetProcess,
        consumer: Consumer,
        *,
        level: str,
        qos: int,
        allow_lag_s: float,
        flush_s: float,
        broker_pid: int,
        plan: Plan,
        log: bool = True,
    ) -> None:
        self.fleet, self.consumer = fleet, consumer
        self.level, self.qos = level, qos
        self.allow_lag_s = allow_lag_s
        self.flush_s = flush_s
        self.broker_pid = broker_pid
        self.plan = plan
        self.log = log
        fast = level in ("L0", "L1", "L1r")
        self.poll_s = 0.05 if fast else 0.2
        # stored-count levels flush in batches: allow a few flushes before calling it a stall
        self.stall_s = plan.stall_s if fast else max(plan.stall_s, 8.0)

    def step(self, rate: float, duration_s: float, purpose: str) -> Step:
        st = Step(self.level, self.qos, purpose, rate, duration_s)
        count = max(1, int(rate * duration_s))
        pids = self.consumer.pids()
        self.consumer.begin_step(time.time(), rate)
        cpu0 = sum(cpu_seconds(p) for p in pids)
        b0 = cpu_seconds(self.broker_pid)
        m0 = machine_busy()
        res = self.fleet.run(rate=rate, count=count, qos=self.qos)
        st.sent, st.acked, st.published_rate = res.sent, res.acked, res.achieved_rate
        # the fleet fell behind: > 5 % below the offered rate and > 0.25 s late overall (a
        # short scheduling hiccup on a busy machine is not a publisher limit)
        late_s = (res.t_last - res.t_first) - (res.sent - 1) / rate
        st.publisher_bound = res.achieved_rate < 0.95 * rate and late_s > 0.25
        last_n, last_change, done_at = -1, time.time(), None
        while True:
            n = self.consumer.delivered(res.t_first, res.t_last)
            now = time.time()
            if n >= res.sent:
                done_at = now
                break
            if n != last_n:
                last_n, last_change = n, now
            if now - last_change > self.stall_s or now - res.t_last > self.plan.max_drain_s:
                break
            time.sleep(self.poll_s)
        st.delivered = n
        end = done_at or time.time()
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        m1 = machine_busy()
        if n:
            st.cpu_us_per_msg = cpu / n * 1e6
            st.broker_us_per_msg = (cpu_seconds(self.broker_pid) - b0) / n * 1e6
        st.rss_mib = sum(rss_mib(p) for p in pids)
        st.machine_busy_pct = 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
        if done_at is not None:
            st.lag_s = done_at - res.t_last
        span = max(res.t_last - res.t_first, end - res.t_first - self.flush_s, 1e-6)
        st.throughput = n / span
        st.held = (
            n == res.sent
            and st.lag_s is not None
            and st.lag_s <= self.allow_lag_s
            and not st.publisher_bound
        )
        lat = self.consumer.latencies()
        st.n_latency = len(lat)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        st.p50_ms = None if p50 is None else p50 * 1000
        st.p99_ms = None if p99 is None else p99 * 1000
        if self.log:
            print(
                f"  {self.level:<5} q{self.qos} {purpose:<7} offered {rate:>9,.0f}/s "
                f"published {res.achieved_rate:>9,.0f}/s  stored {n:>8,}/{res.sent:<8,} "
                f"lag {'-' if st.lag_s is None else f'{st.lag_s:.2f}s':>6} "
                f"cpu {st.cpu_us_per_msg or 0:6.1f}us/msg p99 "
                f"{'-' if st.p99_ms is None else f'{st.p99_ms:.0f}ms':>6} "
                f"{'HELD' if st.held else ('PUB-BOUND' if st.publisher_bound else 'fail')}",
                flush=True,
            )
        return st

    def _kept_pace(self, st: Step) -> bool:
        return st.delivered == st.sent and st.lag_s is not None and st.lag_s <= self.allow_lag_s

    def search(self) -> Search:
        p = self.plan
        t0 = time.monotonic()
        out = Search(self.level, self.qos)
        lo, hi = 0.0, 0.0
        confirmed: Step | None = None
        rate = p.start_rate
        while p.min_rate <= rate <= p.max_rate:  # up until a step fails, or down until one holds
            # a ramp step must span a few of the level's flushes, or it only says that one
            # batch fitted (L3's 1-s telemetry timer: 3-s ramp steps)
            st = self.step(rate, max(p.ramp_s, 3 * self.flush_s), "ramp")
            out.steps.append(st)
            if st.publisher_bound:
                # the fleet could not offer more: if the consumer kept pace, the result
                # is only a lower bound of its capacity
                if self._kept_pace(st):
                    lo = max(lo, st.published_rate)
                else:
                    hi = st.published_rate
                break
            if st.held:
                lo = rate
                if hi:
                    break
                rate *= p.ramp_factor
            else:
                hi = rate
                if lo:
                    break
                rate /= p.ramp_factor
        if hi:
            for _ in range(p.bisect_rounds):
                if time.monotonic() - t0 > p.budget_s:
                    break
                mid = math.sqrt(lo * hi) if lo else hi / p.ramp_factor
                st = self.step(mid, p.step_s, "bisect")
                out.steps.append(st)
                if st.held:
                    lo, confirmed = mid, st
                else:
                    hi = mid
        for _ in range(6):  # confirm lo at full length (ramp steps are short and lenient)
            if confirmed is not None or lo < p.min_rate:
                break
            st = self.step(lo, p.step_s, "confirm")
            out.steps.append(st)
            if st.held or (st.publisher_bound and self._kept_pace(st)):
                confirmed = st
                lo = min(lo, st.published_rate) if st.publisher_bound else lo
            else:
                lo /= 1.25
        out.max_rate = lo if confirmed is not None else 0.0
        # never saw the consumer fail (the fleet ran out first): the max is a lower bound
        out.publisher_bound = confirmed is not None and not any(
            not s.held and not (s.publisher_bound and self._kept_pace(s)) for s in out.steps
        )
        out.at_max = confirmed
        if out.max_rate > 0:
            out.at_half = self.step(out.max_rate / 2, p.step_s, "half")
            out.steps.append(out.at_half)
            if self.qos == 1 and p.check_80:
                out.at_80 = self.step(out.max_rate * 0.8, p.step_s, "80%")
                out.steps.append(out.at_80)
        return out
