"""The audit log: one row per operator action (who, when, what, before, after).

Rows are written by :func:`cloud.audit.record` in the transaction of the action itself,
so an action and its audit row commit together or not at all. Append-only: the ORM
refuses to change or delete a row (as for the ledger's tables).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow
from cloud.models.ledger import _refuse_change


class AuditEntry(Base):
    """One operator action. ``subject`` is ``"<kind>:<id>"`` (``household:12``)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    #: who did it: ``user:alice``, ``household:M-0001``, ``system:import``, ``public``
    actor: Mapped[str] = mapped_column(String(80), index=True)
    #: what: ``household.update``, ``price.approve``, ``payout.pay``, ...
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(120), index=True)
    #: the site the subject belongs to (None: programme-wide), for site-scoped reading
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_log_subject_at", "subject", "at"),)


event.listen(AuditEntry, "before_update", _refuse_change)
event.listen(AuditEntry, "before_delete", _refuse_change)
