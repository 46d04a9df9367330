"""Sites carry their kecamatan (area): the operator overview aggregates per area

Revision ID: 0018_site_area
Revises: 0017_household_search
Create Date: 2027-01-10 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_site_area"
down_revision = "0017_household_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("area")
