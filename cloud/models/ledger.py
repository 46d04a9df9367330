"""Ledger tables: sites, households, member cards, categories, prices, accounts, journal.

Sign convention of :class:`Posting.amount_rp`: positive = debit, negative = credit.
Every journal entry's postings sum to 0. A household's account is a liability of the
programme (credit-normal): its balance is ``-sum(postings)``, positive when the
programme owes the household money.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utcnow


class Site(Base):
    """A waste bank or collection point; stations, bins and households belong to one."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(60), default="Asia/Jakarta")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: where the site is (WGS84): the depot collectors' routes start and end at
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    #: the kecamatan (district) the site lies in: the overview sums its sites per area
    area: Mapped[str | None] = mapped_column(String(100))


class Household(Base):
    __tablename__ = "households"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_no: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: the household's door (WGS84), for pickups at the door; None = address only
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    #: the search box's columns (:mod:`cloud.api.household_search`): trigram indexes on
    #: PostgreSQL (substring and prefix ILIKE), plain ones on SQLite
    __table_args__ = tuple(
        Index(
            f"ix_households_{col}_trgm",
            col,
            postgresql_using="gin",
            postgresql_ops={col: "gin_trgm_ops"},
        )
        for col in ("member_no", "name", "phone")
    )


class MemberCard(Base):
    """One linking of a card to a household; unlinking ends it (history is kept).

    At most one *active* row per ``card_id`` (partial unique index).
    """

    __tablename__ = "member_cards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[str] = mapped_column(String(64), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    linked_by: Mapped[str | None] = mapped_column(String(80))
    unlinked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unlinked_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        Index(
            "uq_member_cards_active_card",
            "card_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class WasteCategory(Base):
    __tablename__ = "waste_categories"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "#rrggbb" the charts draw this category in; None = the default for its code
    colour: Mapped[str | None] = mapped_column(String(7))


class Price(Base):
    """Rupiah per kg of one category from ``effective_from`` on; rows are never updated."""

    __tablename__ = "prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_categories.code"))
    rp_per_kg: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        UniqueConstraint("category_code", "effective_from"),
        CheckConstraint("rp_per_kg >= 0", name="rp_per_kg_nonneg"),
    )


class Account(Base):
    """A ledger account: one per household, plus programme accounts (``kind``)."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # household | expense | asset
    name: Mapped[str] = mapped_column(String(200))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JournalEntry(Base):
    """One balanced transaction. ``kind``: weighin_credit | reversal | payout | adjustment.

    Hash-chained (:mod:`cloud.ledger_chain`): ``entry_hash`` covers the entry, its
    postings, its position ``chain_pos`` and the previous entry's hash ``prev_hash``.
    Neither entries nor postings can be updated or deleted (database triggers).
    """

    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime)
    description: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str | None] = mapped_column(String(80))
    weighin_id: Mapped[int | None] = mapped_column(ForeignKey("weighins.id"), index=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entries.id"), unique=True
    )
    chain_pos: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("uq_journal_entries_chain_pos", "chain_pos", unique=True),)


class Posting(Base):
    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_rp: Mapped[int] = mapped_column(BigInteger)


class ProcessedEvent(Base):
    """Idempotency: one row per upstream event id, written with the event's effects."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(48))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WeighinRecord(Base):
    """Every weigh-in received, whatever became of it (credited, unassigned, rejected, held).

    ``effective_at`` is when it counts (:mod:`cloud.clock`); it selects the price.
    ``receipt_json`` is the receipt sent to the device, so a redelivery gets
    byte-identical receipts. The signing fields are the record as the station signed
    it (``provenance`` signed; ``record_hash`` is computed for every weigh-in, so a
    replay with other content under the same event id is recognised).
    ``verify_digest`` is the SHA-256 of ``verify_code``: the public page looks codes up
    by it.
    """

    __tablename__ = "weighins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    device_id: Mapped[str] = mapped_column(String(48))
    seq: Mapped[int] = mapped_column(BigInteger)
    boot_id: Mapped[str] = mapped_column(String(36))
    mono_ms: Mapped[int] = mapped_column(BigInteger)
    device_time: Mapped[datetime] = mapped_column(UtcDateTime)
    clock_synced: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    card_id: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(String(32))
    net_g: Mapped[int] = mapped_column(BigInteger)
    tare_g: Mapped[int] = mapped_column(BigInteger)
    division_g: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(32))
    frames: Mapped[list[Any]] = mapped_column(JSON)
    stable_ms: Mapped[int] = mapped_column(Integer)
    price_id: Mapped[int | None] = mapped_column(ForeignKey("prices.id"))
    price_rp_per_kg: Mapped[int | None] = mapped_column(BigInteger)
    amount_rp: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    entry_id: Mapped[int | None] = mapped_column(Integer)
    receipt_json: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    assigned_by: Mapped[str | None] = mapped_column(String(80))
    reversal_entry_id: Mapped[int | None] = mapped_column(Integer)
    #: signed (a verified station signature) | unsigned | collector (entered at the door)
    provenance: Mapped[str] = mapped_column(
        String(12), default="unsigned", server_default="unsigned"
    )
    public_key: Mapped[str | None] = mapped_column(String(64))
    chain_pos: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    record_hash: Mapped[str | None] = mapped_column(String(64))
    sw_hash: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(128))
    verify_code: Mapped[str | None] = mapped_column(String(12))
    verify_digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("amount_rp >= 0", name="amount_nonneg"),
        Index("ix_weighins_chain", "public_key", "chain_pos"),
        Index("uq_weighins_verify_digest", "verify_digest", unique=True),
        # the list's filters, each with the list's order (newest first, by id) behind it
        Index("ix_weighins_site_id_id", "site_id", "id"),
        Index("ix_weighins_device_id_id", "device_id", "id"),
        Index("ix_weighins_household_id_id", "household_id", "id"),
        Index("ix_weighins_status_id", "status", "id"),
    )


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete a row of an append-only ledger table."""


def _refuse_change(_mapper: object, _connection: object, target: object) -> None:
    raise AppendOnlyError(
        f"{type(target).__name__} rows are append-only: add a reversing entry or a new "
        "version instead of changing one"
    )


# The ledger's history is never rewritten through the ORM (append-only by construction).
for _cls in (Posting, JournalEntry, Price, ProcessedEvent):
    event.listen(_cls, "before_update", _refuse_change)
    event.listen(_cls, "before_delete", _refuse_change)
