"""Devices: the capacity of a station's scale (``capacity_g``, default 300 kg)

Revision ID: 0004_device_capacity
Revises: 0003_map_coords_cat_colour
Create Date: 2026-12-01 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_device_capacity"
down_revision = "0003_map_coords_cat_colour"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("capacity_g", sa.Integer(), server_default="300000", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("capacity_g")
