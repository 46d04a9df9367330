"""The operational lists page from the server: an index behind each list's order per filter

GET /weighins (newest first by id) filtered by site, station, household or status; a
site's bins and devices by id; a site's pickup board by status and due time. Each
composite index replaces the single-column one it starts with (same lookups, no extra
index to maintain on the weigh-in table's writes).

Revision ID: 0019_list_paging
Revises: 0018_site_area
Create Date: 2027-01-12 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0019_list_paging"
down_revision = "0018_site_area"
branch_labels = None
depends_on = None

#: (table, new index, its columns, the single-column index it replaces or None)
INDEXES = (
    ("weighins", "ix_weighins_site_id_id", ["site_id", "id"], "ix_weighins_site_id"),
    ("weighins", "ix_weighins_device_id_id", ["device_id", "id"], "ix_weighins_device_id"),
    (
        "weighins",
        "ix_weighins_household_id_id",
        ["household_id", "id"],
        "ix_weighins_household_id",
    ),
    ("weighins", "ix_weighins_status_id", ["status", "id"], "ix_weighins_status"),
    ("bins", "ix_bins_site_bin", ["site_id", "bin_id"], "ix_bins_site_id"),
    ("devices", "ix_devices_site_device", ["site_id", "device_id"], "ix_devices_site_id"),
    ("pickups", "ix_pickups_site_status_due", ["site_id", "status", "due_at"], None),
)


def upgrade() -> None:
    for table, name, columns, replaced in INDEXES:
        op.create_index(name, table, columns, unique=False)
        if replaced is not None:
            op.drop_index(replaced, table_name=table)


def downgrade() -> None:
    for table, name, columns, replaced in reversed(INDEXES):
        if replaced is not None:
            op.create_index(replaced, table, columns[:1], unique=False)
        op.drop_index(name, table_name=table)
