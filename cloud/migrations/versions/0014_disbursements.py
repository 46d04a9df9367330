"""payouts by bank transfer file or payment provider (e-wallets, bills)

Revision ID: 0014_disbursements
Revises: 0013_cashbox
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_disbursements"
down_revision = "0013_cashbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disbursement_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_format", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("settled_by", sa.String(length=80), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('generated', 'settled')", name=op.f("ck_disbursement_batches_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursement_batches")),
    )
    op.create_table(
        "disbursements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payout_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("provider_ref", sa.String(length=120), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=80), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "method IN ('bank', 'ewallet', 'bill')", name=op.f("ck_disbursements_method_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'succeeded', 'failed')",
            name=op.f("ck_disbursements_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["disbursement_batches.id"],
            name=op.f("fk_disbursements_batch_id_disbursement_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_disbursements_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_disbursements_idempotency_key")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_disbursements_payout_id")),
    )
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disbursements_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disbursements_status"))
    op.drop_table("disbursements")
    op.drop_table("disbursement_batches")
