"""Dead letters: every message ingest refused, kept for an operator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow

#: raw payload bytes kept per dead letter (the rest is cut, ``truncated`` is set)
MAX_KEPT_PAYLOAD = 64 * 1024


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(256))
    client_hint: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(String(1000))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
