"""Household search at regency size: trigram indexes (pg_trgm) on the searched columns

Revision ID: 0017_household_search
Revises: 0016_api_sessions
Create Date: 2027-01-10 12:00:00

PostgreSQL answers ``ILIKE '%text%'`` and ``ILIKE 'te%'`` on member number, name and
phone from GIN trigram indexes (``pg_trgm`` ships with PostgreSQL's contrib and is
a trusted extension: the database owner may create it). SQLite gets plain indexes of the
same names (its LIKE scans; a site's households are few).
"""

from __future__ import annotations

from alembic import op

revision = "0017_household_search"
down_revision = "0016_api_sessions"
branch_labels = None
depends_on = None

COLUMNS = ("member_no", "name", "phone")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for col in COLUMNS:
        op.create_index(
            f"ix_households_{col}_trgm",
            "households",
            [col],
            postgresql_using="gin",
            postgresql_ops={col: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for col in COLUMNS:
        op.drop_index(f"ix_households_{col}_trgm", table_name="households")
    # (the pg_trgm extension stays: other databases' objects may use it)
