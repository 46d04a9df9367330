"""Map: stations at coordinates (devices.lat/lon); category colours (waste_categories.colour)

Revision ID: 0003_map_coords_cat_colour
Revises: 0002
Create Date: 2026-12-01 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_map_coords_cat_colour"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
    with op.batch_alter_table("waste_categories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("colour", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("waste_categories", schema=None) as batch_op:
        batch_op.drop_column("colour")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
