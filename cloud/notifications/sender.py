"""``salinmas notify run``: the process that sends what the outbox holds.

Each round: claim due deliveries (SMS are handed to Gammu inside the claim's
transaction), send the HTTP ones, record outcomes, read back Gammu's results; sleep
``poll_interval_s`` when there was nothing to do. Any number of senders may run on one
database (see :mod:`cloud.notifications.queue` for why two never take the same message).

Delivery guarantees, per channel:

- ``inapp``: exactly once, written with the event itself.
- Gammu SMS: handed to Gammu exactly once (one transaction with the claim). Gammu then
  sends it at least once: killed between the modem's "sent" and its own bookkeeping it
  sends it again.
- Apprise (HTTP): at least once; exactly-once effect where the gateway honours the
  ``Idempotency-Key`` header it is sent.

Logs never carry phone numbers, PINs or gateway URLs (:mod:`cloud.notifications.redact`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from types import FrameType

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from cloud.db import make_engine, migrate, session_factory
from cloud.models import utcnow
from cloud.notifications.channels import Channel, build_channels
from cloud.notifications.channels.base import Outcome
from cloud.notifications.preferences import ChannelSpec, register_channels
from cloud.notifications.queue import Policy, claim, finish, settle_queued
from cloud.notifications.redact import add_secret, install_log_redaction
from cloud.notifications.settings import AppriseChannelSettings, NotifySettings

log = logging.getLogger(__name__)


def policy_of(settings: NotifySettings) -> Policy:
    return Policy(
        sender=settings.sender_id,
        max_attempts=settings.max_attempts,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        lease_s=settings.lease_s,
        timezone=settings.timezone,
        quiet_hours=settings.quiet_window,
    )


class Sender:
    """Sends due notifications of the configured channels (see the module docs)."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        engine: Engine | None = None,
        channels: Mapping[str, Channel] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.ledger_url)
        self._own_engine = engine is None
        self.sessions = session_factory(self.engine)
        self.channels = (
            dict(channels) if channels is not None else build_channels(settings.channels)
        )
        self.policy = policy_of(settings)
        self.clock = clock
        self.sent = self.failed = 0

    def prepare(self) -> None:
        """Migrate (if configured), create Gammu's tables, register the channels."""
        if self.settings.migrate_on_start:
            migrate(self.settings.ledger_url)
        for ch in self.channels.values():
            prepare = getattr(ch, "prepare", None)
            if prepare is not None:
                prepare(self.engine)
        specs = []
        for name, ch in self.channels.items():
            cfg = self.settings.channels.get(name)
            specs.append(
                ChannelSpec(
                    name,
                    ch.kind,
                    household_default=bool(cfg and cfg.household_default),
                    operators=bool(cfg and cfg.operators),
                    needs_address=ch.needs_address(),
                )
            )
        with self.sessions() as s:
            register_channels(s, specs)
            s.commit()
        log.info(
            "sender %s serving channels: %s",
            self.policy.sender,
            ", ".join(sorted(self.channels)) or "(none: in-app only)",
        )

    def run_once(self) -> int:
        """One round; how many deliveries it moved on."""
        with self.sessions() as s:
            jobs, taken = claim(
                s,
                channels=self.channels,
                policy=self.policy,
                now=self.clock(),
                limit=self.settings.batch_size,
            )
            s.commit()
        for job in jobs:
            channel = self.channels[job.message.channel]
            try:
                outcome = channel.deliver(None, job.message)
            except Exception as exc:
                log.exception("delivery %d: %s failed", job.delivery_id, channel.name)
                outcome = Outcome("retry", error=f"{channel.name}: {type(exc).__name__}")
            with self.sessions() as s:
                status = finish(s, job, outcome, policy=self.policy, now=self.clock())
                s.commit()
            if status == "sent":
                self.sent += 1
            elif status is not None:
                self.failed += 1
                log.warning(
                    "delivery %d on %s: %s (%s)",
                    job.delivery_id,
                    channel.name,
                    status,
                    outcome.error,
                )
        with self.sessions() as s:
            settled = settle_queued(s, channels=self.channels, policy=self.policy, now=self.clock())
            s.commit()
        return taken + settled

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; database errors are logged and retried."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except DBAPIError as exc:
                log.error("database error, retrying: %s", type(exc.orig).__name__)
                busy = 0
                stop.wait(min(5.0, self.settings.poll_interval_s * 5))
            if not busy:
                stop.wait(self.settings.poll_interval_s)

    def close(self) -> None:
        for ch in self.channels.values():
            ch.close()
        if self._own_engine:
            self.engine.dispose()


def run(settings: NotifySettings) -> int:
    """Run a sender in this process until SIGTERM/SIGINT."""
    install_log_redaction()
    for cfg in settings.channels.values():
        if isinstance(cfg, AppriseChannelSettings):
            add_secret(cfg.url.get_secret_value())
    logging.getLogger("cloud").setLevel(settings.log_level)
    try:
        sender = Sender(settings)
        sender.prepare()
    except (ValueError, OSError, DBAPIError) as exc:
        log.error("cannot start the notification sender: %s", exc)
        return 2
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sender.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sender.close()
        log.info("sender stopped (sent %d, failed %d)", sender.sent, sender.failed)
    return 0
