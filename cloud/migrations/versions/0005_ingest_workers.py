"""ingest workers' heartbeats (automatic takeover of a dead worker's session)

Revision ID: 0005_ingest_workers
Revises: 0004_device_capacity
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ingest_workers"
down_revision = "0004_device_capacity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_workers",
        sa.Column("client_id", sa.String(length=120), nullable=False),
        sa.Column("share_group", sa.String(length=120), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_over_by", sa.String(length=120), nullable=True),
        sa.Column("taken_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_ingest_workers")),
    )
    with op.batch_alter_table("ingest_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_workers_beat_at"), ["beat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_workers_beat_at"))
    op.drop_table("ingest_workers")
