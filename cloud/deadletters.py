"""Dead letters: what ingest refused, with the reason and the raw bytes, for an operator.

Reason codes (``reason``): ``bad_topic``, ``oversize``, ``malformed`` (not JSON or
fails the contract), ``identity`` (topic device id != payload device id),
``unknown_device``, ``revoked_device``, ``wrong_kind`` (e.g. a bin sending weigh-ins),
``clock_ahead`` (a synchronised device clock too far ahead of the receive time),
``over_capacity`` (a weigh-in heavier than the station's scale can weigh),
``unknown_bin``, ``internal`` (a bug while processing; the message is kept).

The topic and the detail are stored as printable text (a hostile key or topic may hold
control characters, and PostgreSQL refuses NUL in text); the payload is kept as bytes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.models import MAX_KEPT_PAYLOAD, DeadLetter, utcnow
from contract.models import printable

REASONS = (
    "bad_topic",
    "oversize",
    "malformed",
    "identity",
    "unknown_device",
    "revoked_device",
    "wrong_kind",
    "clock_ahead",
    "over_capacity",
    "unknown_bin",
    "internal",
)


def add_dead_letter(
    session: Session,
    *,
    topic: str,
    payload: bytes,
    reason: str,
    detail: str,
    client_hint: str | None = None,
    received_at: datetime | None = None,
) -> DeadLetter:
    """Keep a refused message (payload cut at :data:`MAX_KEPT_PAYLOAD` bytes). Flushes."""
    dl = DeadLetter(
        received_at=received_at or utcnow(),
        topic=printable(topic, 256),
        client_hint=client_hint[:80] if client_hint else None,
        reason=reason[:40],
        detail=printable(detail, 1000),
        payload=bytes(payload[:MAX_KEPT_PAYLOAD]),
        payload_size=len(payload),
        truncated=len(payload) > MAX_KEPT_PAYLOAD,
    )
    session.add(dl)
    session.flush()
    return dl


def counts_by_reason(session: Session, *, since: datetime | None = None) -> dict[str, int]:
    q = select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    if since is not None:
        q = q.where(DeadLetter.received_at >= since)
    return {reason: int(n) for reason, n in session.execute(q)}


def list_dead_letters(
    session: Session, *, reason: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if reason is not None:
        q = q.where(DeadLetter.reason == reason)
    if before_id is not None:
        q = q.where(DeadLetter.id < before_id)
    return list(session.scalars(q))


def prune_dead_letters(session: Session, *, older_than: datetime) -> int:
    """Delete dead letters received before ``older_than``; how many. Flushes."""
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < older_than))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
