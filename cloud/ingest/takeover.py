"""Heartbeats of the ingest workers, and the automatic takeover of a dead one's share.

Why: with a shared subscription, a worker's persistent session stays in the group after
the process dies for good, and Mosquitto goes on queueing that worker's share of the
stream for it until the session expires (a day). Nobody would process it.

How: every worker writes a heartbeat row (``ingest_workers``, one per MQTT client id)
from its processing loop every ``heartbeat_s``. A worker of the same share group that
sees a peer silent for ``takeover_after_s`` claims it (one conditional ``UPDATE``: only one
survivor wins), connects **with the dead worker's client id without subscribing**,
processes what the broker queued for that session through the normal path
(:func:`cloud.ingest.lifecycle.drain_session`), ends the session — from then on the group has one
member less and the survivors get the whole stream — and raises an ``ingest_takeover``
alert. Bound: ``takeover_after_s`` + ``heartbeat_s`` + the drain (seconds).

A worker that comes back simply resumes: its heartbeat clears any claim on it, and
connecting with its own client id disconnects a survivor still draining (which then stops
without ending the session: :class:`salinmas.mqtt.Connection` with ``reconnect=False``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.ingest.settings import IngestSettings
from cloud.models import utcnow
from cloud.models.ingest import WorkerBeat
from cloud.pickups import raise_alert
from cloud.telemetry import TelemetryWriter

log = logging.getLogger(__name__)

ALERT_KIND = "ingest_takeover"


@dataclass
class Peers:
    """This worker's heartbeat and its view of the other workers of its share group."""

    sessions: sessionmaker[Session]
    client_id: str
    share_group: str | None
    dead_after_s: float
    #: a claim older than this is free again (the claimant died, or its takeover stopped:
    #: the peer came back, or the broker was away — then it is tried again)
    lease_s: float = 120.0

    def beat(self, now: datetime | None = None) -> None:
        """Record that this worker's processing loop runs; clears any claim on it."""
        now = now or utcnow()
        with self.sessions() as s:
            row = s.get(WorkerBeat, self.client_id)
            if row is None:
                s.add(
                    WorkerBeat(
                        client_id=self.client_id,
                        share_group=self.share_group,
                        started_at=now,
                        beat_at=now,
                    )
                )
            else:
                row.beat_at, row.share_group = now, self.share_group
                row.taken_over_by = row.taken_over_at = None
            s.commit()

    def claim_dead(self, now: datetime | None = None) -> WorkerBeat | None:
        """Claim one peer silent past the bound (None if there is none, or another won)."""
        if not self.share_group:
            return None  # without a shared subscription no session holds a share
        now = now or utcnow()
        silent = now - timedelta(seconds=self.dead_after_s)
        free = or_(
            WorkerBeat.taken_over_at.is_(None),
            WorkerBeat.taken_over_at < now - timedelta(seconds=self.lease_s),
        )
        with self.sessions() as s:
            candidates = s.scalars(
                select(WorkerBeat)
                .where(
                    WorkerBeat.share_group == self.share_group,
                    WorkerBeat.client_id != self.client_id,
                    WorkerBeat.beat_at < silent,
                    free,
                )
                .order_by(WorkerBeat.beat_at)
            ).all()
            for peer in candidates:
                won = s.execute(
                    update(WorkerBeat)
                    .where(
                        WorkerBeat.client_id == peer.client_id,
                        WorkerBeat.beat_at < silent,
                        free,
                    )
                    .values(taken_over_by=self.client_id, taken_over_at=now)
                    .execution_options(synchronize_session=False)
                )
                s.commit()
                if getattr(won, "rowcount", 0) == 1:
                    s.expunge_all()
                    return peer
        return None

    def finish(self, peer: WorkerBeat, *, drained: int, seconds: float, ended: bool) -> None:
        """After a takeover: alert the operators; forget the peer if its session is ended."""
        silent_since = peer.beat_at.isoformat(timespec="seconds")
        if ended:
            message = (
                f"ingest worker {peer.client_id} silent since {silent_since}: {self.client_id} "
                f"processed the {drained} message(s) queued for it and ended its session "
                f"in {seconds:.0f} s; the other workers take its share"
            )
        else:
            message = (
                f"ingest worker {peer.client_id} silent since {silent_since}: takeover by "
                f"{self.client_id} stopped after {seconds:.0f} s ({drained} processed); "
                "the worker came back or the broker was away"
            )
        with self.sessions() as s:
            if ended:
                s.execute(
                    delete(WorkerBeat).where(
                        WorkerBeat.client_id == peer.client_id,
                        WorkerBeat.taken_over_by == self.client_id,
                    )
                )
            raise_alert(s, kind=ALERT_KIND, subject=peer.client_id[:48], message=message)
            s.commit()
        log.warning("%s", message)


class Takeover:
    """A worker's heartbeat and, in the background, the takeover of one silent peer."""

    def __init__(self, peers: Peers, settings: IngestSettings, store: TelemetryWriter) -> None:
        self.peers = peers
        self.settings = settings
        self.store = store
        self._thread: threading.Thread | None = None
        #: sessions of dead peers this worker ended
        self.count = 0

    def check(self) -> None:
        """Beat; claim a peer silent past the bound and take it over (one at a time)."""
        try:
            self.peers.beat()
            if not self.settings.takeover_after_s or (
                self._thread is not None and self._thread.is_alive()
            ):
                return
            peer = self.peers.claim_dead()
        except Exception:
            log.warning("heartbeat skipped (database away?)", exc_info=True)
            return
        if peer is not None:
            self._thread = threading.Thread(
                target=self._take_over, args=(peer,), name="ingest-takeover", daemon=True
            )
            self._thread.start()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _take_over(self, peer: WorkerBeat) -> None:
        # imported here: lifecycle imports the worker, which imports this module
        from cloud.ingest.lifecycle import drain_session, end_session

        started = time.monotonic()
        log.warning("ingest worker %s is silent: taking over its session", peer.client_id)
        settings = self.settings.model_copy(update={"client_id": peer.client_id})
        try:
            result = drain_session(
                settings, store=self.store, idle_s=self.settings.takeover_idle_s, timeout_s=600
            )
            ended = result.drained and end_session(settings)
            self.count += int(ended)
            self.peers.finish(
                peer, drained=result.processed, seconds=time.monotonic() - started, ended=ended
            )
        except Exception:
            log.exception("takeover of %s failed", peer.client_id)
