"""Integrity: signed weigh-ins (keys, approvals, holds, boot clocks, configuration log),
verification codes, the journal's hash chain and append-only ledger triggers

Revision ID: 0007_integrity
Revises: 0014_disbursements
Create Date: 2026-12-10 09:00:00

The journal entries written before this revision are chained here, in id order, before
the triggers that make ``journal_entries`` and ``postings`` append-only are installed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0007_integrity"
down_revision = "0014_disbursements"
branch_labels = None
depends_on = None

APPEND_ONLY = ("journal_entries", "postings")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION salinmas_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused (post a reversing entry)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$$
"""


def _install_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION salinmas_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION salinmas_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: {action} on {table} "
                "refused (post a reversing entry)'); END"
            )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS salinmas_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _chain_existing_entries() -> None:
    """Chain the entries written before this revision (id order) and store the head."""
    from cloud.ledger_chain import GENESIS_HASH, entry_hash

    bind = op.get_bind()
    postings: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry_id, account_id, amount in bind.execute(
        sa.text("SELECT entry_id, account_id, amount_rp FROM postings")
    ):
        postings[entry_id].append((account_id, amount))
    pos, prev = 0, GENESIS_HASH
    rows = bind.execute(
        sa.text(
            "SELECT id, kind, created_at, effective_at, description, created_by, weighin_id, "
            "reverses_entry_id FROM journal_entries ORDER BY id"
        )
    ).mappings()
    for r in list(rows):
        pos += 1
        row = dict(r)
        for name in ("created_at", "effective_at"):  # SQLite gives naive UTC
            if row[name].tzinfo is None:
                row[name] = row[name].replace(tzinfo=UTC)
        row.update(chain_pos=pos, prev_hash=prev)
        prev = entry_hash(row, postings[row["id"]])
        bind.execute(
            sa.text(
                "UPDATE journal_entries SET chain_pos = :pos, prev_hash = :prev, "
                "entry_hash = :hash WHERE id = :id"
            ),
            {"pos": pos, "prev": row["prev_hash"], "hash": prev, "id": row["id"]},
        )
    bind.execute(
        sa.text("INSERT INTO ledger_chain (id, position, digest) VALUES (1, :pos, :digest)"),
        {"pos": pos, "digest": prev},
    )


def upgrade() -> None:
    op.create_table(
        "device_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_device_keys_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_device_keys_public_key")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_device_id"), ["device_id"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_approvals_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("device_id", "kind", "digest", name=op.f("uq_approvals_device_id")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_device_id"), ["device_id"], unique=False)

    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weighin_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolution", sa.String(length=10), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_holds_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("weighin_id", name=op.f("uq_holds_weighin_id")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_device_id"), ["device_id"], unique=False)
        batch_op.create_index("ix_holds_open", ["kind", "resolved_at"], unique=False)

    op.create_table(
        "device_boots",
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("boot_id", sa.String(length=36), nullable=False),
        sa.Column("synced_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_mono_ms", sa.BigInteger(), nullable=True),
        sa.Column("prompt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prompt_mono_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "boot_id", name=op.f("pk_device_boots")),
    )

    op.create_table(
        "device_config_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("log_pos", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.String(length=200), nullable=False),
        sa.Column("sw_version", sa.String(length=40), nullable=False),
        sa.Column("sw_hash", sa.String(length=64), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("protocol", sa.String(length=32), nullable=True),
        sa.Column("division_g", sa.Integer(), nullable=True),
        sa.Column("capacity_g", sa.Integer(), nullable=True),
        sa.Column("min_divisions", sa.Integer(), nullable=True),
        sa.Column("stable_window_ms", sa.Integer(), nullable=True),
        sa.Column("min_stable_samples", sa.Integer(), nullable=True),
        sa.Column("calibration", sa.String(length=120), nullable=True),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_config_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_device_config_log_event_id")),
    )
    with op.batch_alter_table("device_config_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_config_log_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "ledger_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_chain")),
    )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sw_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("config_hash", sa.String(length=64), nullable=True))

    with op.batch_alter_table("weighins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provenance", sa.String(length=12), server_default="unsigned", nullable=False)
        )
        batch_op.add_column(sa.Column("public_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_pos", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("record_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sw_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("config_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("verify_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("verify_digest", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_weighins_verify_digest", ["verify_digest"], unique=True)
        batch_op.create_index("ix_weighins_chain", ["public_key", "chain_pos"], unique=False)

    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_pos", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_journal_entries_chain_pos", ["chain_pos"], unique=True)

    _chain_existing_entries()
    _install_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("uq_journal_entries_chain_pos")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_pos")
    with op.batch_alter_table("weighins", schema=None) as batch_op:
        batch_op.drop_index("ix_weighins_chain")
        batch_op.drop_index("uq_weighins_verify_digest")
        for name in (
            "verify_digest",
            "verify_code",
            "signature",
            "config_hash",
            "sw_hash",
            "record_hash",
            "prev_hash",
            "chain_pos",
            "public_key",
            "provenance",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("config_hash")
        batch_op.drop_column("sw_hash")
    op.drop_table("ledger_chain")
    with op.batch_alter_table("device_config_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_config_log_device_id"))
    op.drop_table("device_config_log")
    op.drop_table("device_boots")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_open")
        batch_op.drop_index(batch_op.f("ix_holds_device_id"))
    op.drop_table("holds")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_device_id"))
    op.drop_table("approvals")
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_device_id"))
    op.drop_table("device_keys")
