"""An HTTP gateway down for five minutes: do the notifications wait, then go out in
order, once? (The test suite runs the same scenario with a 3-second outage.)

    .venv/bin/python -m bench.notify_outage                 # 300 s outage, ~6 minutes
    .venv/bin/python -m bench.notify_outage --outage-s 30   # a shorter look

A SQLite ledger with ``--households`` households, ``--messages`` credits told to them
(interleaved), one sender (``salinmas notify`` code, in this process) posting through
Apprise ``json://`` to a local HTTP gateway that is down for ``--outage-s`` seconds and
then back. Prints: requests the gateway refused during the outage (the retries: they
back off to ``--backoff-max-s``), time from the gateway's return to the last message,
messages received, duplicates, and whether each household's messages arrived in order.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import exit_on_sigterm, machine
from cloud import households
from cloud.db import make_engine, migrate, session_factory
from cloud.models.notifications import NotificationDelivery
from cloud.notifications import Outgoing, enqueue_many
from cloud.notifications.preferences import ChannelSpec
from cloud.notifications.sender import Sender
from cloud.notifications.settings import AppriseChannelSettings, NotifySettings
from tests.cloud.notify_support import HttpGateway, credit_data, seed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.notify_outage", description=__doc__.split("\n")[0])
    p.add_argument("--outage-s", type=float, default=300.0)
    p.add_argument("--messages", type=int, default=60)
    p.add_argument("--households", type=int, default=6)
    p.add_argument("--backoff-max-s", type=float, default=30.0)
    ns = p.parse_args(argv)
    exit_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix="sal-notify-outage-"))
    url = f"sqlite:///{work / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        seed(s, channels=[ChannelSpec("wa", "apprise", household_default=True)])
        ids = [
            households.register_household(
                s, member_no=f"B-{i:03d}", name="b", phone=f"0812-0000-{i:04d}"
            ).id
            for i in range(ns.households)
        ]
        enqueue_many(
            s,
            [
                Outgoing("weighin_credited", f"w:{n}", credit_data(n), ids[n % len(ids)])
                for n in range(1, ns.messages + 1)
            ],
        )
        s.commit()
    gateway = HttpGateway().start()
    refused = {"n": 0}
    settings = NotifySettings(
        ledger_url=url,
        migrate_on_start=False,
        quiet_hours="",
        poll_interval_s=0.2,
        backoff_base_s=1.0,
        backoff_max_s=ns.backoff_max_s,
        max_attempts=10_000,
        channels={"wa": AppriseChannelSettings(url=gateway.url, timeout_s=2)},
    )
    sender = Sender(settings, engine=engine)
    original = sender.channels["wa"].deliver

    def counting(session: object, msg: object) -> object:
        out = original(session, msg)  # type: ignore[arg-type]
        if out.status != "sent":
            refused["n"] += 1
        return out

    sender.channels["wa"].deliver = counting  # type: ignore[method-assign]
    gateway.stop()
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    started = time.monotonic()
    thread.start()
    print(
        f"gateway down for {ns.outage_s:.0f} s with {ns.messages} messages waiting ...", flush=True
    )
    time.sleep(ns.outage_s)
    with sessions() as s:
        waiting = s.query(NotificationDelivery).filter_by(channel="wa", status="pending").count()
    gateway.start()
    back = time.monotonic()
    while len(gateway.messages()) < ns.messages and time.monotonic() - back < 600:
        time.sleep(0.2)
    drained = time.monotonic() - back
    stop.set()
    thread.join(10)
    sender.close()
    gateway.stop()
    got = gateway.received
    keys = [r["key"] for r in got]
    per_hh: dict[str, list[int]] = defaultdict(list)
    for r in got:
        balance = int(re.findall(r"Saldo Rp ([\d.]+)\.", str(r["message"]))[0].replace(".", ""))
        per_hh[str(r["path"])].append(balance)
    in_order = all(v == sorted(v) for v in per_hh.values())
    print(f"machine: {machine()}")
    print(f"outage: {ns.outage_s:.0f} s; waiting at its end: {waiting} of {ns.messages}")
    print(
        f"refused tries during the outage: {refused['n']} (backoff capped at "
        f"{ns.backoff_max_s:.0f} s; one head-of-line try per household at a time)"
    )
    print(
        f"after the gateway came back: {len(got)} received in {drained:.1f} s "
        f"(run {time.monotonic() - started:.0f} s)"
    )
    print(f"duplicates: {len(keys) - len(set(keys))}; in order per household: {in_order}")
    ok = len(got) == ns.messages and len(set(keys)) == ns.messages and in_order
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    print("RESULT", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
