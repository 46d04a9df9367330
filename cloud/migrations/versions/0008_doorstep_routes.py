"""JEKNYONG: sites and households at coordinates, household pickups with a window,
categories and a place on a route; collectors' settings and phones; doorstep
completions and weigh-ins (provenance, photos); route plans

Revision ID: 0008_doorstep_routes
Revises: 0007_integrity
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_doorstep_routes"
down_revision = "0007_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("sites", "households"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("categories", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("estimated_g", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("eta_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("route_seq", sa.Integer(), nullable=True))

    op.create_table(
        "collector_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("capacity_g", sa.BigInteger(), nullable=False),
        sa.Column("capacity_ml", sa.BigInteger(), nullable=True),
        sa.Column("shift_start", sa.String(length=5), nullable=False),
        sa.Column("shift_hours", sa.Float(), nullable=False),
        sa.Column("empties_bins", sa.Boolean(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("unloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint("capacity_g > 0", name=op.f("ck_collector_profiles_capacity_positive")),
        sa.CheckConstraint(
            "shift_hours > 0 AND shift_hours <= 24",
            name=op.f("ck_collector_profiles_shift_hours_range"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_collector_profiles_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_collector_profiles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_collector_profiles")),
    )
    op.create_index(
        op.f("ix_collector_profiles_site_id"), "collector_profiles", ["site_id"], unique=False
    )

    op.create_table(
        "collector_phones",
        sa.Column("phone_id", sa.String(length=48), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["users.id"], name=op.f("fk_collector_phones_collector_id_users")
        ),
        sa.PrimaryKeyConstraint("phone_id", name=op.f("pk_collector_phones")),
    )
    op.create_index(
        op.f("ix_collector_phones_collector_id"),
        "collector_phones",
        ["collector_id"],
        unique=False,
    )

    op.create_table(
        "doorstep_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("pickup_id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("phone_id", sa.String(length=48), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment", sa.String(length=10), nullable=False),
        sa.Column("total_g", sa.BigInteger(), nullable=False),
        sa.Column("total_rp", sa.BigInteger(), nullable=False),
        sa.Column("cash_rp", sa.BigInteger(), nullable=False),
        sa.Column("cash_entry_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint(
            "payment IN ('savings', 'cash')", name=op.f("ck_doorstep_completions_payment_known")
        ),
        sa.CheckConstraint(
            "cash_rp >= 0 AND cash_rp <= total_rp",
            name=op.f("ck_doorstep_completions_cash_within_credit"),
        ),
        sa.ForeignKeyConstraint(
            ["cash_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_doorstep_completions_cash_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["users.id"],
            name=op.f("fk_doorstep_completions_collector_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["pickup_id"], ["pickups.id"], name=op.f("fk_doorstep_completions_pickup_id_pickups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doorstep_completions")),
        sa.UniqueConstraint("event_id", name=op.f("uq_doorstep_completions_event_id")),
        sa.UniqueConstraint("pickup_id", name=op.f("uq_doorstep_completions_pickup_id")),
    )
    op.create_index(
        op.f("ix_doorstep_completions_collector_id"),
        "doorstep_completions",
        ["collector_id"],
        unique=False,
    )

    op.create_table(
        "doorstep_weighins",
        sa.Column("weighin_id", sa.Integer(), nullable=False),
        sa.Column("completion_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("phone_id", sa.String(length=48), nullable=False),
        sa.Column("entry", sa.String(length=10), nullable=False),
        sa.Column("scale", sa.String(length=60), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "entry IN ('typed', 'scale')", name=op.f("ck_doorstep_weighins_entry_known")
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["users.id"], name=op.f("fk_doorstep_weighins_collector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["completion_id"],
            ["doorstep_completions.id"],
            name=op.f("fk_doorstep_weighins_completion_id_doorstep_completions"),
        ),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_doorstep_weighins_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("weighin_id", name=op.f("pk_doorstep_weighins")),
    )
    op.create_index(
        op.f("ix_doorstep_weighins_completion_id"),
        "doorstep_weighins",
        ["completion_id"],
        unique=False,
    )

    op.create_table(
        "doorstep_photos",
        sa.Column("weighin_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_doorstep_photos_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("weighin_id", name=op.f("pk_doorstep_photos")),
    )

    op.create_table(
        "route_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("matrix_source", sa.String(length=200), nullable=False),
        sa.Column("solve_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_route_plans_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_plans")),
    )
    op.create_index(op.f("ix_route_plans_site_id"), "route_plans", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_route_plans_site_id"), table_name="route_plans")
    op.drop_table("route_plans")
    op.drop_table("doorstep_photos")
    op.drop_index(op.f("ix_doorstep_weighins_completion_id"), table_name="doorstep_weighins")
    op.drop_table("doorstep_weighins")
    op.drop_index(op.f("ix_doorstep_completions_collector_id"), table_name="doorstep_completions")
    op.drop_table("doorstep_completions")
    op.drop_index(op.f("ix_collector_phones_collector_id"), table_name="collector_phones")
    op.drop_table("collector_phones")
    op.drop_index(op.f("ix_collector_profiles_site_id"), table_name="collector_profiles")
    op.drop_table("collector_profiles")
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        for column in (
            "route_seq",
            "eta_at",
            "address",
            "lon",
            "lat",
            "estimated_g",
            "categories",
            "window_end",
            "window_start",
        ):
            batch_op.drop_column(column)
    for table in ("households", "sites"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("lon")
            batch_op.drop_column("lat")
