"""HTTP gateways through Apprise against a real local gateway (``json://``, real HTTP).

- the gateway down for a while (``SALINMAS_TEST_OUTAGE_S``, default 3 s; the 5-minute run
  is ``python -m bench.notify_outage``): messages wait, then go out in order, once;
- a sender killed while the gateway holds its request: the next sender sends it again
  (at least once) with the same ``Idempotency-Key``, so the gateway acts once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cloud.db import make_engine, migrate, session_factory
from cloud.notifications import Outgoing, enqueue_many
from cloud.notifications.preferences import ChannelSpec
from cloud.notifications.sender import Sender
from cloud.notifications.settings import AppriseChannelSettings, NotifySettings
from tests.cloud.notify_support import (
    HttpGateway,
    SenderProcess,
    credit_data,
    deliveries,
    notify_config,
    seed,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

OUTAGE_S = float(os.environ.get("SALINMAS_TEST_OUTAGE_S", "3"))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def gateway() -> Iterator[HttpGateway]:
    gw = HttpGateway().start()
    yield gw
    if gw.hold is not None:
        gw.hold.set()
    gw.stop()


def test_gateway_down_messages_wait_then_go_in_order_once(
    db: tuple[str, Engine], gateway: HttpGateway
) -> None:
    """mutant: a failed try gives up at once (max_attempts=1 semantics) -> lost messages;
    mutant: no per-recipient order -> the retried first message arrives after later ones."""
    url, engine = db
    with session_factory(engine)() as s:
        p = seed(s, channels=[ChannelSpec("wa", "apprise", household_default=True)])
        items = [
            Outgoing("weighin_credited", f"w:{n}", credit_data(n), hh)
            for n in range(1, 6)
            for hh in (p.with_phone, p.opted_out)
        ]
        enqueue_many(s, items)
        s.commit()
    settings = NotifySettings(
        ledger_url=url,
        migrate_on_start=False,
        quiet_hours="",
        poll_interval_s=0.05,
        backoff_base_s=0.2,
        backoff_max_s=1.0,
        max_attempts=1000,
        channels={"wa": AppriseChannelSettings(url=gateway.url, timeout_s=2)},
    )
    sender = Sender(settings, engine=engine)
    gateway.stop()  # the gateway is down before the first message
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,))
    thread.start()
    try:
        with session_factory(engine)() as s:
            wait_until(lambda: deliveries(s, "wa")[0].attempts >= 2, 30, "retries meanwhile")
            time.sleep(OUTAGE_S)  # the outage itself (nothing to wait for: it is the point)
            during = deliveries(s, "wa")
            gateway.start()
            wait_until(lambda: all(d.status == "sent" for d in deliveries(s, "wa")), 60, "all sent")
            after = deliveries(s, "wa")
    finally:
        stop.set()
        thread.join(10)
        sender.close()
    assert all(d.status == "pending" for d in during)
    assert during[0].attempts >= 2
    assert all(d.attempts == 0 for d in during[1:])  # waiting behind the first, not hammering
    expected = [f"Saldo Rp {3750 * n:,}".replace(",", ".") for n in range(1, 6)]
    got = gateway.messages()
    assert len(got) == 5  # once each; none for the opted-out household
    assert [e in m for e, m in zip(expected, got, strict=True)] == [True] * 5  # in order
    assert {r["path"] for r in gateway.received} == {"/sms/6281234567890"}
    assert [d.body for d in after] == got


def test_a_sender_killed_mid_request_resends_with_the_same_key(
    db: tuple[str, Engine], gateway: HttpGateway, tmp_path: Path
) -> None:
    """At least once on the wire, once in effect (the gateway dedupes on Idempotency-Key).

    mutant: the key changes per attempt (e.g. includes the attempt number) -> the gateway
    acts twice.
    """
    url, engine = db
    with session_factory(engine)() as s:
        p = seed(s, channels=[ChannelSpec("wa", "apprise", household_default=True)])
        enqueue_many(s, [Outgoing("weighin_credited", "w:1", credit_data(), p.with_phone)])
        s.commit()
    channels = (
        f'[notify.channels.wa]\nkind = "apprise"\nurl = "{gateway.url}"\nhousehold_default = true\n'
    )
    cfg = notify_config(tmp_path / "notify.toml", url, channels, lease_s=2.0)
    gateway.hold = threading.Event()
    first = SenderProcess(cfg, tmp_path / "sender1.log").start()
    try:
        assert gateway.got_request.wait(60), "the first sender never reached the gateway"
    finally:
        first.kill()  # killed while the gateway holds its request
    gateway.hold.set()
    with session_factory(engine)() as s:
        (d,) = deliveries(s, "wa")
        assert d.status == "sending"
        second = SenderProcess(cfg, tmp_path / "sender2.log").start()
        try:
            wait_until(lambda: deliveries(s, "wa")[0].status == "sent", 60, "the resend")
        finally:
            second.stop()
        (d,) = deliveries(s, "wa")
    assert len(gateway.received) == 2
    assert gateway.received[0]["key"] == gateway.received[1]["key"] == "w:1:wa:0"
    assert len(gateway.acted) == 1
    assert d.attempts == 2  # the interrupted try counts
