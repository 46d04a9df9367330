"""Ingest workers' heartbeats: who is alive, and whose session a survivor took over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow


class WorkerBeat(Base):
    """One ingest worker (its MQTT client id), beating while its processing loop runs.

    A worker whose ``beat_at`` is older than the peers' bound is taken over by one of them
    (``taken_over_by``/``taken_over_at`` is that survivor's claim, see
    :mod:`cloud.ingest.takeover`); a worker that beats again simply resumes.
    """

    __tablename__ = "ingest_workers"
    client_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    share_group: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    taken_over_by: Mapped[str | None] = mapped_column(String(120))
    taken_over_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
