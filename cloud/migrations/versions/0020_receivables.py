"""Receivables: what a household owes after a reversal of money it had already spent

Revision ID: 0020_receivables
Revises: 0019_list_paging
Create Date: 2026-12-02 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_receivables"
down_revision = "0019_list_paging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receivables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_receivables_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_receivables_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivables")),
        sa.UniqueConstraint("household_id", name=op.f("uq_receivables_household_id")),
        sa.UniqueConstraint("account_id", name=op.f("uq_receivables_account_id")),
    )


def downgrade() -> None:
    op.drop_table("receivables")
