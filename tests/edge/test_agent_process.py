"""The agent as a real process against a real Mosquitto, with a scale on a pty.

Must-show of issue 4: broker killed mid-stream, agent SIGKILLed mid-stream, 1,000
weigh-ins queued through an outage, and a full outbox — nothing accepted is ever lost.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.edge.harness import AgentProcess, FakeCloud, Scale, write_config
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

_ids = itertools.count(1)


@dataclass
class Rig:
    device_id: str
    password: str
    dir: Path
    scale: Scale
    cloud: FakeCloud
    broker: MosquittoServer

    @property
    def outbox(self) -> Path:
        return self.dir / "outbox.db"

    def config(self, **overrides: object) -> Path:
        options: dict[str, object] = {
            "device_id": self.device_id,
            "password": self.password,
            "mqtt_port": self.broker.port,
            "scale_port": self.scale.path,
            "outbox": self.outbox,
        }
        options.update(overrides)
        return write_config(self.dir / "station.toml", **options)  # type: ignore[arg-type]

    def agent(self, **overrides: object) -> AgentProcess:
        return AgentProcess(self.config(**overrides), self.dir / "agent.log")


@pytest.fixture
def rig(mosquitto: MosquittoServer, tmp_path: Path) -> Iterator[Rig]:
    n = next(_ids)
    device_id = f"st-edge{n:02d}"
    password = f"pw-{device_id}-0123456789"
    mosquitto.add_device(device_id, password)
    scale = Scale(tmp_path)
    cloud = FakeCloud(mosquitto, client_id=f"cloud-edge-test-{n}")
    try:
        yield Rig(device_id, password, tmp_path, scale, cloud, mosquitto)
    finally:
        cloud.close()
        scale.close()


def _stop(agent: AgentProcess) -> None:
    if agent.alive:
        agent.stop()


def test_weighins_reach_the_cloud_and_receipts_complete_them(rig: Rig) -> None:
    agent = rig.agent().start()
    try:
        seqs = [rig.scale.weigh(g, agent) for g in (1_250, 3_400)]
        wait_until(lambda: set(rig.cloud.weighin_seqs(rig.device_id)) >= set(seqs), 15, "delivery")
        wait_until(lambda: "receipt" in agent.text(), 10, "receipt logged")
        [w1, w2] = rig.cloud.of("weighin", rig.device_id)[:2]
        assert (w1["net_g"], w2["net_g"]) == (1_250, 3_400)
        assert w1["division_g"] == 10
        assert w1["protocol"] == "and_indicator"
        assert w1["frames"]
        assert w1["card_id"] is None
        assert w1["category"] == "mixed"
        assert w1["clock_synced"] is False  # no sync flag on this "Pi"
        assert rig.cloud.statuses
        assert rig.cloud.statuses[-1]["state"] == "online"
    finally:
        assert agent.stop() == 0
    # a clean stop publishes the retained offline status
    wait_until(lambda: rig.cloud.statuses[-1]["state"] == "offline", 10, "offline status")


def test_broker_killed_and_restarted_mid_stream_loses_nothing(rig: Rig) -> None:
    agent = rig.agent(confirm_timeout_s=3.0).start()
    try:
        accepted = [rig.scale.weigh(1_000 + 10 * i, agent) for i in range(3)]
        wait_until(
            lambda: set(rig.cloud.weighin_seqs(rig.device_id)) >= set(accepted), 15, "first three"
        )
        rig.broker.kill()  # SIGKILL: whatever it had not saved is gone
        accepted += [rig.scale.weigh(2_000 + 10 * i, agent) for i in range(3)]
        rig.broker.restart()
        accepted += [rig.scale.weigh(3_000 + 10 * i, agent) for i in range(2)]
        wait_until(
            lambda: set(rig.cloud.weighin_seqs(rig.device_id)) >= set(accepted), 60, "all eight"
        )
    finally:
        _stop(agent)
    received = rig.cloud.of("weighin", rig.device_id)
    by_event = {d["event_id"]: d for d in received}
    assert len(accepted) == 8
    assert sorted(d["seq"] for d in by_event.values()) == sorted(accepted)  # 0 lost, 0 extra
    # a redelivered event is the same event (same payload), never a second weigh-in
    for d in received:
        assert d == by_event[d["event_id"]]
    assert sorted(d["net_g"] for d in by_event.values()) == [
        1_000,
        1_010,
        1_020,
        2_000,
        2_010,
        2_020,
        3_000,
        3_010,
    ]


def test_agent_sigkilled_mid_stream_and_restarted_loses_nothing_reuses_no_seq(rig: Rig) -> None:
    agent = rig.agent().start()
    try:
        first = [rig.scale.weigh(1_500 + 10 * i, agent) for i in range(3)]
        agent.kill()  # right after a capture: maybe before its publish or its receipt
        agent.start()
        second = [rig.scale.weigh(2_500 + 10 * i, agent) for i in range(3)]
        accepted = first + second
        wait_until(
            lambda: set(rig.cloud.weighin_seqs(rig.device_id)) >= set(accepted), 30, "all six"
        )
    finally:
        _stop(agent)
    assert min(second) > max(first)  # the counter continued across the kill
    # no seq carries two different events (weigh-ins, health: every kind shares the counter)
    by_seq: dict[int, dict[str, object]] = {}
    for kind in ("weighin", "fill", "health"):
        for d in rig.cloud.of(kind, rig.device_id):
            assert by_seq.setdefault(d["seq"], d) == d
    received = {d["seq"] for d in rig.cloud.of("weighin", rig.device_id)}
    assert received == set(accepted)


def test_a_thousand_queued_weighins_drain_in_order_after_reconnect(rig: Rig) -> None:
    import uuid

    from edge.clock import Clock
    from edge.events import EventFactory
    from edge.outbox import Outbox

    # the outage: 1,000 weigh-ins captured while the station had no link
    events = EventFactory(rig.device_id, Clock(boot_id=uuid.uuid4(), synced=lambda: False))
    with Outbox(rig.outbox, capacity=5_000) as box:
        queued = [
            box.append(
                "weighin",
                events.weighin(
                    net_g=200 + i,
                    division_g=10,
                    protocol="and_indicator",
                    category="plastic-pet",
                    card_id=f"C{i:04d}",
                ),
            )
            for i in range(1_000)
        ]
    agent = rig.agent(capacity=5_000, confirm_timeout_s=120).start()
    try:
        wait_until(
            lambda: len(set(rig.cloud.weighin_seqs(rig.device_id))) >= 1_000, 90, "1,000 delivered"
        )

        def drained() -> bool:  # (the configuration log's entry waits for its own ack)
            with Outbox(rig.outbox, capacity=5_000) as box:
                return box.stats().weighins == 0

        wait_until(drained, 90, "every receipt back, no weigh-in left in the outbox")
    finally:
        _stop(agent)
    arrivals = rig.cloud.weighin_seqs(rig.device_id)
    first_seen = list(dict.fromkeys(arrivals))
    assert first_seen == queued  # all of them, in seq order
    assert [d["net_g"] for d in rig.cloud.of("weighin", rig.device_id)][:3] == [200, 201, 202]


def test_full_outbox_refuses_visibly_and_loses_nothing_it_accepted(rig: Rig) -> None:
    from edge.outbox import Outbox
    from tests.support.services import free_port

    # no broker reachable (nothing listens on that port): the weigh-ins pile up; of the
    # six places, the station's first configuration log entry (signed weigh-ins) takes one
    offline = rig.agent(mqtt_port=free_port(), capacity=6, health_interval_s=3600).start()
    try:
        for i in range(7):
            rig.scale.weigh(1_000 + 10 * i, offline)
        assert offline.refusals() == 2
        assert offline.run_text().count("station signal: refused") == 2
        accepted = offline.weighin_seqs()
        assert len(accepted) == 5
    finally:
        _stop(offline)
    with Outbox(rig.outbox, capacity=6) as box:
        st = box.stats()
        assert (st.depth, st.weighins, st.refused) == (6, 5, 2)
    # the link comes back: every accepted weigh-in is delivered, the outbox drains
    agent = rig.agent(capacity=6, health_interval_s=3600).start()
    try:
        wait_until(
            lambda: set(rig.cloud.weighin_seqs(rig.device_id)) == set(accepted), 30, "delivery"
        )

        def drained() -> bool:
            with Outbox(rig.outbox, capacity=6) as box:
                return box.depth == 0

        wait_until(drained, 30, "receipts for all five")
        # the refusals are visible in the cloud too: the heartbeat carries the counter
        rig.cloud.command(rig.device_id, "ping", "after-refusals")

        def pong() -> list[dict[str, object]]:
            return [
                h
                for h in rig.cloud.of("health", rig.device_id)
                if h.get("in_reply_to") == "after-refusals"
            ]

        wait_until(pong, 20, "the answer to the ping")
        assert pong()[0]["weighins_refused"] == 2
    finally:
        _stop(agent)
    by_event = {d["event_id"]: d["net_g"] for d in rig.cloud.of("weighin", rig.device_id)}
    assert sorted(by_event.values()) == [1_000, 1_010, 1_020, 1_030, 1_040]
