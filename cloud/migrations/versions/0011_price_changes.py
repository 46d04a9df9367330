"""price changes awaiting a second person's approval

Revision ID: 0011_price_changes
Revises: 0010_audit_log
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_price_changes"
down_revision = "0010_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("rp_per_kg", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("price_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled')",
            name=op.f("ck_price_changes_status_known"),
        ),
        sa.CheckConstraint("rp_per_kg >= 0", name=op.f("ck_price_changes_rp_per_kg_nonneg")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_price_changes_category_code_waste_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["prices.id"], name=op.f("fk_price_changes_price_id_prices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_changes")),
    )
    with op.batch_alter_table("price_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_changes_category_code"), ["category_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_price_changes_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("price_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_changes_status"))
        batch_op.drop_index(batch_op.f("ix_price_changes_category_code"))
    op.drop_table("price_changes")
