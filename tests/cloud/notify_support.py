"""Shared helpers of the notification tests: a seeded programme and a local HTTP gateway.

:class:`HttpGateway` is a real HTTP server on 127.0.0.1 (a thread) that Apprise's
``json://`` posts to. It records every request (body and ``Idempotency-Key``), can be
taken down (the port refuses connections) and brought back, can hold a request until the
test lets it go, and keeps the keys it has acted on, as an SMS aggregator that honours
idempotency keys would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud import households, pricing
from cloud.models.notifications import Notification, NotificationDelivery
from cloud.notifications.channels.base import Message, Outcome
from cloud.notifications.preferences import ChannelSpec, register_channels, set_preference
from tests.support.services import free_port
from tests.support.waiting import wait_until

PHONE = "0812-3456-7890"
E164 = "+6281234567890"


@dataclass
class Programme:
    site_id: int
    with_phone: int
    no_phone: int
    opted_out: int
    bad_phone: int


def seed(session: Session, *, channels: Sequence[ChannelSpec] = ()) -> Programme:
    """A site, a category with a price, four households, the given channels registered."""
    site = households.ensure_site(session, code="bank01", name="Bank Sampah Sokaraja")
    pricing.ensure_category(session, code="plastic-pet", name_id="Plastik PET", name_en="PET")
    pricing.set_price(
        session,
        category="plastic-pet",
        rp_per_kg=3000,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    a = households.register_household(
        session, member_no="BMS-0001", name="Siti", site="bank01", phone=PHONE
    )
    b = households.register_household(session, member_no="BMS-0002", name="Budi", site="bank01")
    c = households.register_household(
        session, member_no="BMS-0003", name="Dewi", site="bank01", phone="081111111111"
    )
    d = households.register_household(
        session, member_no="BMS-0004", name="Agus", site="bank01", phone="021 555 1234"
    )
    register_channels(session, channels)
    set_preference(session, household_id=c.id, by="test", opt_out=True)
    session.commit()
    return Programme(site.id, a.id, b.id, c.id, d.id)


def credit_data(n: int = 1, amount_rp: int = 3750) -> dict[str, Any]:
    return {
        "event_id": f"st-1:{n}",
        "net_g": 1250,
        "category": "plastic-pet",
        "amount_rp": amount_rp,
        "price_rp_per_kg": 3000,
        "balance_rp": amount_rp * n,
        "at": "2026-12-01T03:00:00+00:00",
    }


def _detached(session: Session, rows: list[Any]) -> list[Any]:
    """Rows as plain detached objects; the read transaction is ended (on SQLite a test
    session would otherwise hold the write lock the sender needs)."""
    session.expunge_all()
    session.rollback()
    return rows


def deliveries(session: Session, channel: str | None = None) -> list[NotificationDelivery]:
    stmt = select(NotificationDelivery).order_by(NotificationDelivery.id)
    if channel is not None:
        stmt = stmt.where(NotificationDelivery.channel == channel)
    session.expire_all()
    return _detached(session, list(session.scalars(stmt)))


def notifications(session: Session) -> list[Notification]:
    session.expire_all()
    return _detached(session, list(session.scalars(select(Notification).order_by(Notification.id))))


class RecordingChannel:
    """A remote channel double for the queue's own rules: records, fails on demand."""

    kind = "apprise"
    transactional = False

    def __init__(self, name: str = "wa", *, fail: int = 0, address: bool = True) -> None:
        self.name = name
        self.fail = fail
        self.address = address
        self.sent: list[Message] = []

    def needs_address(self) -> bool:
        return self.address

    def deliver(self, session: Session | None, msg: Message) -> Outcome:
        if self.fail > 0:
            self.fail -= 1
            return Outcome("retry", error=f"{self.name}: gateway refused or unreachable")
        self.sent.append(msg)
        return Outcome("sent")

    def poll(self, session: Session, queued: Sequence[tuple[int, str]]) -> dict[int, Outcome]:
        return {}

    def close(self) -> None:
        return None


@dataclass
class HttpGateway:
    """A local HTTP gateway (see the module docs)."""

    port: int = field(default_factory=free_port)
    received: list[dict[str, Any]] = field(default_factory=list)
    #: idempotency keys acted on (a repeat is acknowledged and not acted on again)
    acted: list[str] = field(default_factory=list)
    hold: threading.Event | None = None
    got_request: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/sms/{{phone_digits}}"

    def start(self) -> HttpGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                entry = {"path": self.path, "key": key, **json.loads(body)}
                with gateway._lock:
                    gateway.received.append(entry)
                    first = key not in gateway.acted
                    if first:
                        gateway.acted.append(key)
                gateway.got_request.set()
                if gateway.hold is not None:
                    gateway.hold.wait(30)
                self.send_response(200 if first else 208)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Take the gateway down: the port refuses connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def messages(self) -> list[str]:
        with self._lock:
            return [str(r["message"]) for r in self.received]

    def acted_messages(self) -> list[str]:
        with self._lock:
            seen: set[str] = set()
            out = []
            for r in self.received:
                if r["key"] not in seen:
                    seen.add(r["key"])
                    out.append(str(r["message"]))
            return out


def notify_config(path: Path, ledger_url: str, channels: str, **options: object) -> Path:
    """A ``[notify]`` TOML for a sender process (channels: TOML text of the channel tables)."""
    lines = [
        "[notify]",
        f'ledger_url = "{ledger_url}"',
        'quiet_hours = ""',
        "poll_interval_s = 0.1",
        "backoff_base_s = 0.5",
        "backoff_max_s = 2.0",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    path.write_text("\n".join(lines) + "\n" + channels)
    return path


@dataclass
class SenderProcess:
    """``salinmas notify run`` as a real process (to kill it mid-send)."""

    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SenderProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "salinmas", "-v", "notify", "run", "--config", str(self.config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: nothing finishes, nothing is rolled forward."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def kill_sender_mid_hand_over(engine: Engine, config: Path, log: Path) -> None:
    """PostgreSQL: start a sender, let its INSERT into Gammu's outbox wait on a lock this
    holds (its claim and hand-over are one open transaction), SIGKILL it, let go."""
    blocker = engine.connect()
    blocker.exec_driver_sql("LOCK TABLE gammu_outbox IN EXCLUSIVE MODE")
    sender = SenderProcess(config, log).start()
    try:
        wait_until(lambda: _waiting_insert(engine), 60, "the sender's INSERT to wait")
    finally:
        sender.kill()
        blocker.rollback()
        blocker.close()


def _waiting_insert(engine: Engine) -> bool:
    with engine.connect() as c:
        n = c.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO gammu_outbox%%'"
        ).scalar_one()
    return int(n) > 0
