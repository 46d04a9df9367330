"""The outbox: seq allocation, durability across SIGKILL, bounds, life cycle of events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.outbox import Outbox, OutboxFull


def payload(seq: int) -> bytes:
    return f'{{"seq": {seq}}}'.encode()


def test_seq_is_monotonic_and_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox(db, capacity=100) as box:
        assert [box.append("weighin", payload) for _ in range(3)] == [1, 2, 3]
        box.mark_published([1, 2, 3])
        for seq in (1, 2, 3):
            assert box.complete(seq, f"d:{seq}", "credited", b"{}")
        assert box.depth == 0
    with Outbox(db, capacity=100) as box:
        # everything was delivered and deleted; the counter still never goes back
        assert box.append("fill", payload) == 4


def test_payload_is_built_with_the_allocated_seq(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        box.append("health", payload)
        seq = box.append("weighin", payload)
        [_, entry] = box.pending(10)
        assert (entry.seq, entry.payload, entry.kind) == (seq, payload(seq), "weighin")


def test_failed_build_consumes_nothing(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:

        def broken(seq: int) -> bytes:
            raise ValueError("bad event")

        with pytest.raises(ValueError, match="bad event"):
            box.append("weighin", broken)
        assert box.depth == 0
        assert box.append("weighin", payload) == 1


def test_nothing_leaves_on_puback_only_on_the_clouds_confirmation(tmp_path: Path) -> None:
    """mutant: telemetry deleted at PUBACK (as before) -> fails
    mutant: weigh-in deleted at PUBACK -> fails"""
    with Outbox(tmp_path / "o.db") as box:
        w = box.append("weighin", payload)
        f = box.append("fill", payload)
        h = box.append("health", payload)
        box.mark_published([w, f, h])
        st = box.stats()
        assert (st.depth, st.weighins, st.telemetry, st.awaiting) == (3, 1, 2, 3)
        assert box.pending(10) == []
        assert box.awaiting() == [(w, 1), (f, 1), (h, 1)]
        assert box.confirm([(f, h)]) == [f, h]  # an ack: a range of seqs
        assert box.confirm([(f, h)]) == []  # a repeated ack changes nothing
        assert box.complete(w, f"d:{w}", "credited", b'{"r": 1}')
        assert not box.complete(w, f"d:{w}", "credited", b'{"r": 1}')  # repeated receipt
        assert box.depth == 0
        assert box.stats().telemetry == 0
        assert box.receipts(5) == [(w, "credited", b'{"r": 1}')]


def test_an_ack_confirms_a_weighin_the_cloud_kept_as_a_dead_letter(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        w = box.append("weighin", payload)
        box.mark_published([w])
        assert box.confirm([(w, w)]) == [w]
        assert (box.depth, box.stats().weighins) == (0, 0)


def test_a_huge_ack_range_costs_only_what_it_holds(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.append("fill", payload) for _ in range(3)]
        box.mark_published(seqs)
        assert box.confirm([(1, 2**62)]) == seqs  # never expanded into 2**62 seqs
        assert box.depth == 0


def test_requeue_all_unconfirmed_after_an_ingest_announcement(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.append(k, payload) for k in ("weighin", "fill", "health", "fill")]
        box.mark_published(seqs[:3])
        assert box.requeue() == 3
        assert [(e.seq, e.attempts) for e in box.pending(10)] == [
            (seqs[0], 1),
            (seqs[1], 1),
            (seqs[2], 1),
            (seqs[3], 0),
        ]


def test_a_failed_transaction_is_rolled_back_and_the_outbox_stays_usable(tmp_path: Path) -> None:
    """mutant: requeue without rollback (issue 15) -> the next BEGIN fails -> fails
    mutant: mark_published/confirm without rollback -> fails"""
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.append("fill", payload) for _ in range(3)]
        box.mark_published(seqs[:2])
        # the first chunk of 500 is applied, the second cannot be bound: all must roll back
        unbindable = [*seqs, *[10**6] * 497, object()]
        for broken in (
            lambda: box.requeue(unbindable),  # type: ignore[list-item]
            lambda: box.mark_published(unbindable),  # type: ignore[list-item]
            lambda: box.confirm([(seqs[0], seqs[2]), (1, object())]),  # type: ignore[list-item]
        ):
            with pytest.raises(Exception, match=r"(?i)binding|type"):
                broken()
            # nothing of the failed transaction stayed, and the next one works
            assert box.awaiting() == [(seqs[0], 1), (seqs[1], 1)]
            assert box.append("health", payload) is not None


def test_requeue_after_confirmation_timeout_publishes_in_seq_order(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.append("weighin", payload) for _ in range(4)]
        box.mark_published(seqs[:2])
        assert [e.seq for e in box.pending(10)] == seqs[2:]
        assert box.requeue(seqs[:2]) == 2
        entries = box.pending(10)
        assert [e.seq for e in entries] == seqs
        assert [e.attempts for e in entries] == [1, 1, 0, 0]
        assert [e.seq for e in box.pending(10, exclude=[seqs[0]])] == seqs[1:]


def test_full_outbox_refuses_weighins_loudly_and_keeps_what_it_has(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox(db, capacity=5, telemetry_share=0.4) as box:
        accepted = [box.append("weighin", payload) for _ in range(5)]
        with pytest.raises(OutboxFull):
            box.append("weighin", payload)
        with pytest.raises(OutboxFull):
            box.append("weighin", payload)
        st = box.stats()
        assert (st.depth, st.refused) == (5, 2)
        assert [e.seq for e in box.pending(10)] == accepted
    with Outbox(db, capacity=5) as box:
        assert box.stats().refused == 2  # the count is persisted for the operator


def test_telemetry_is_thinned_never_weighins(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", capacity=10, telemetry_share=0.3) as box:
        w = [box.append("weighin", payload) for _ in range(3)]
        t = [box.append("fill", payload) for _ in range(5)]
        st = box.stats()
        assert (st.telemetry, st.weighins, st.thinned) == (3, 3, 2)
        assert [e.seq for e in box.pending(20)] == w + t[2:]  # the oldest telemetry went
        w += [box.append("weighin", payload) for _ in range(4)]
        # full now: telemetry still gets in by thinning older telemetry; weigh-ins refused
        assert box.append("health", payload) is not None
        assert box.depth == 10
        with pytest.raises(OutboxFull):
            box.append("weighin", payload)
        assert [e.seq for e in box.pending(20) if e.kind == "weighin"] == w


def test_telemetry_is_dropped_when_only_weighins_are_left(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", capacity=3) as box:
        w = [box.append("weighin", payload) for _ in range(3)]
        assert box.append("fill", payload) is None
        st = box.stats()
        assert (st.depth, st.thinned) == (3, 1)
        assert [e.seq for e in box.pending(10)] == w
        assert box.append("fill", payload) is None
        box.mark_published([w[0]])
        box.complete(w[0], "d:1", "credited", b"{}")
        assert box.append("fill", payload) == w[-1] + 1  # the dropped ones took no seq


_WRITER = """
import sys
from edge.outbox import Outbox
box = Outbox(sys.argv[1], capacity=1_000_000)
while True:
    seq = box.append("weighin", lambda s: b'{"seq": %d}' % s)
    print(seq, flush=True)
"""


def test_sigkill_never_loses_an_acknowledged_append_nor_reuses_a_seq(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    seen: list[int] = []
    deadline = time.monotonic() + 30
    while len(seen) < 200 and time.monotonic() < deadline:
        seen.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert len(seen) == 200
    with Outbox(db) as box:
        stored = [e.seq for e in box.pending(1_000_000)]
        # every append that returned is there, in order, with no gap or repeat
        assert stored[: len(seen)] == seen
        assert stored == list(range(1, len(stored) + 1))
        assert box.append("weighin", payload) == stored[-1] + 1
