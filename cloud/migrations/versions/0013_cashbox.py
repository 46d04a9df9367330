"""each site's cash box per day (float, movements, count, difference)

Revision ID: 0013_cashbox
Revises: 0012_onboarding
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_cashbox"
down_revision = "0012_onboarding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cash_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opening_float_rp", sa.BigInteger(), nullable=False),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_rp", sa.BigInteger(), nullable=True),
        sa.Column("counted_rp", sa.BigInteger(), nullable=True),
        sa.Column("difference_rp", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_cash_days_status_known")),
        sa.CheckConstraint("opening_float_rp >= 0", name=op.f("ck_cash_days_float_nonneg")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_cash_days_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_days")),
        sa.UniqueConstraint("site_id", "day", name=op.f("uq_cash_days_site_id")),
    )
    op.create_table(
        "cash_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_rp", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sale', 'top_up', 'bank_deposit', 'other')",
            name=op.f("ck_cash_movements_kind_known"),
        ),
        sa.CheckConstraint("amount_rp <> 0", name=op.f("ck_cash_movements_amount_nonzero")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_cash_movements_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_movements")),
    )
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_movements_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_cash_movements_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_movements_site_id"))
        batch_op.drop_index(batch_op.f("ix_cash_movements_day"))
    op.drop_table("cash_movements")
    op.drop_table("cash_days")
