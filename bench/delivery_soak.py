"""Delivery soak: broker kill -9 loop, a long clean stop, a worker killed for good.

Real Mosquitto with the project's configuration, two real ingest worker processes on a
shared subscription (SQLite ledger and telemetry), and devices running the Pi's delivery
code (outbox + MQTT link, :class:`tests.support.delivery.LinkFleet`) publishing a steady
stream of fill levels (bins) and weigh-ins (stations). Phases:

1. ``--kills`` times: ``kill -9`` the broker, leave it down ``--down`` seconds, start it;
2. a clean stop of ``--clean-stop`` seconds while the devices go on producing;
3. one of the two workers ``kill -9`` for good (its peer takes its session over);

then the stream stops, every outbox drains, and the command prints what was produced,
stored, credited, re-sent, lost, and how long each recovery took: from the broker's
(re)start until every event produced before the outage is confirmed by the cloud, and
from a worker's death until its peer ended its session.

``--puback-is-done`` runs the devices as before this change (a fill leaves the outbox at
the broker's PUBACK) to show what the broker alone loses under the same faults.

    .venv/bin/python -m bench.delivery_soak                 # ~4 min
    .venv/bin/python -m bench.delivery_soak --kills 3 --clean-stop 10   # ~1.5 min
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import exit_on_sigterm, machine
from edge.outbox import WEIGHIN, Outbox


class PubackIsDone(Outbox):
    """The outbox as it was: telemetry deleted at the broker's PUBACK."""

    def mark_published(self, seqs: Sequence[int]) -> None:
        super().mark_published(seqs)
        with self._lock, self._transaction() as db:
            for seq in seqs:
                gone = db.execute(
                    "DELETE FROM events WHERE seq = ? AND kind != ?", (seq, WEIGHIN)
                ).rowcount
                self._telemetry -= gone


def wait(pred: Callable[[], bool], timeout_s: float) -> float | None:
    """Seconds until ``pred()``; None if it never held within ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if pred():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stations", type=int, default=3)
    p.add_argument("--bins", type=int, default=5)
    p.add_argument("--rate", type=float, default=5.0, help="events per second per device")
    p.add_argument("--kills", type=int, default=12, help="broker kill -9 cycles")
    p.add_argument("--every", type=float, default=10.0, help="seconds between kills")
    p.add_argument("--down", type=float, default=2.0, help="seconds the broker stays down")
    p.add_argument("--clean-stop", type=float, default=40.0, help="seconds of a clean stop")
    p.add_argument("--no-takeover", action="store_true", help="skip the worker phase")
    p.add_argument("--puback-is-done", action="store_true", help="the old outbox (see doc)")
    args = p.parse_args(argv)
    exit_on_sigterm()
    logging.basicConfig(level=logging.ERROR)  # the links' reconnect warnings are expected

    from tests.support.delivery import (
        LinkFleet,
        credited,
        ingest_workers,
        seed_fleet,
        stored_fills,
    )
    from tests.support.services import MosquittoServer

    work = Path(tempfile.mkdtemp(prefix="sal-soak-"))
    ledger = f"sqlite:///{work / 'ledger.db'}"
    bins = [f"bn-soak-{i:02d}" for i in range(args.bins)]
    devices = seed_fleet(ledger, [f"st-soak-{i:02d}" for i in range(args.stations)], bins)
    n_dev = len(devices)
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    mode = "PUBACK is done (old)" if args.puback_is_done else "until confirmed"
    print(f"{args.stations} stations + {args.bins} bins at {args.rate}/s each; outbox: {mode}")

    recoveries: list[float] = []
    boundaries: list[tuple[str, dict[str, int]]] = []  # (phase, last seq per device at start)
    with MosquittoServer(devices={d: pw for d, (_, pw) in devices.items()}).start() as broker:
        names = ["soak-ingest-0", "soak-ingest-1"]
        workers = ingest_workers(work, broker, ledger, names, takeover_after_s=30.0)
        fleet = LinkFleet(
            work / "fleet",
            broker.port,
            devices,
            rate_per_device=args.rate,
            confirm_timeout_s=15.0,
            outbox_class=PubackIsDone if args.puback_is_done else Outbox,
        )
        try:
            assert wait(lambda: all("subscribing" in w.log_text() for w in workers), 30)
            fleet.start()
            time.sleep(args.every)

            def outage(stop: Callable[[], None], down_s: float, label: str) -> None:
                cut = fleet.last_seqs()
                awaiting = fleet.awaiting()
                stop()
                time.sleep(down_s)
                broker.start()
                took = wait(lambda: fleet.first_unconfirmed_reached(cut), 300)
                print(
                    f"  {label}: {awaiting} awaiting confirmation at the stop; every event "
                    f"before it confirmed {took:.1f} s after the restart"
                    if took is not None
                    else f"  {label}: NOT recovered within 300 s"
                )
                if took is not None:
                    recoveries.append(took)

            print(f"phase 1: kill -9 every {args.every:.0f} s, {args.down:.0f} s down")
            boundaries.append(("kill -9 loop", {d: 0 for d in devices}))
            for k in range(args.kills):
                t0 = time.monotonic()
                outage(broker.kill, args.down, f"kill {k + 1}")
                time.sleep(max(0.0, args.every - (time.monotonic() - t0)))
            if args.clean_stop:
                print(f"phase 2: clean stop of {args.clean_stop:.0f} s")
                boundaries.append(("clean stop", fleet.last_seqs()))
                outage(broker.terminate, args.clean_stop, "clean stop")
                time.sleep(args.every)
            takeover = None
            if not args.no_takeover:
                print("phase 3: one worker kill -9 for good")
                boundaries.append(("worker killed", fleet.last_seqs()))
                workers[0].kill()
                killed = time.monotonic()
                took = wait(lambda: "ended its session" in workers[1].log_text(), 180)
                takeover = took
                print(
                    f"  takeover: session ended {took:.1f} s after the kill"
                    if took
                    else "  takeover: NOT within 180 s"
                )
                time.sleep(max(0.0, args.every - (time.monotonic() - killed)))
            fleet.stop_producing()
            drained = wait(lambda: fleet.unconfirmed() == 0, 300)
            fills = fleet.produced("bin")
            n_fills = sum(len(v) for v in fills.values())
            n_weighins = sum(len(v) for v in fleet.produced("station").values())
            stored = stored_fills([w.telemetry for w in workers])
            lost = sum(len(set(fills[b]) - stored.get(b, set())) for b in bins)
            for i, (phase, start) in enumerate(boundaries):
                end = boundaries[i + 1][1] if i + 1 < len(boundaries) else None
                in_phase = {
                    b: {q for q in fills[b] if q > start[b] and (end is None or q <= end[b])}
                    for b in bins
                }
                gone = sum(len(v - stored.get(b, set())) for b, v in in_phase.items())
                print(f"  {phase}: {sum(len(v) for v in in_phase.values())} fills, {gone} lost")
            n_credited, distinct, processed = credited(ledger)
            print("result:")
            print(f"  fills: produced {n_fills}, stored {n_fills - lost}, LOST {lost}")
            print(
                f"  weigh-ins: produced {n_weighins}, credited {n_credited} "
                f"({distinct} distinct, {processed} processed events)"
            )
            print(
                f"  outboxes drained: {'yes' if drained is not None else 'NO'}; devices "
                f"re-sent {fleet.stat('requeued_for_epoch')} events after an ingest "
                f"announcement and published {fleet.stat('republished_for_receipt')} "
                f"again in all ({fleet.stat('confirmed')} acks, "
                f"{fleet.stat('receipts')} receipts; {n_dev} devices)"
            )
            if recoveries:
                median, worst = statistics.median(recoveries), max(recoveries)
                print(
                    f"  recovery after a broker restart: median {median:.1f} s, max {worst:.1f} s"
                )
            if takeover is not None:
                print(f"  dead worker's session taken over after {takeover:.1f} s")
        finally:
            fleet.close()
            for w in workers:
                w.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
