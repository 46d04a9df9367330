"""onboarding: self-registration requests, card enrolment, one-time device config links

Revision ID: 0012_onboarding
Revises: 0011_price_changes
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_onboarding"
down_revision = "0011_price_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("ref_hash", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_registration_requests_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_registration_requests_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_registration_requests_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_requests")),
        sa.UniqueConstraint("ref_hash", name=op.f("uq_registration_requests_ref_hash")),
    )
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_requests_client_key"), ["client_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_requests_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_requests_site_id"), ["site_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_requests_status"), ["status"], unique=False
        )
    op.create_table(
        "card_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("weighin_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'enrolled', 'cancelled', 'expired')",
            name=op.f("ck_card_enrolments_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_card_enrolments_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_card_enrolments_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_card_enrolments_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_enrolments")),
    )
    with op.batch_alter_table("card_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_enrolments_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_card_enrolments_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            "uq_card_enrolments_waiting_device",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("status = 'waiting'"),
            postgresql_where=sa.text("status = 'waiting'"),
        )
    op.create_table(
        "device_config_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_config_links_device_id_devices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_config_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_config_links_token_hash")),
    )
    with op.batch_alter_table("device_config_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_config_links_device_id"), ["device_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_config_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_config_links_device_id"))
    op.drop_table("device_config_links")
    with op.batch_alter_table("card_enrolments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_card_enrolments_waiting_device",
            sqlite_where=sa.text("status = 'waiting'"),
            postgresql_where=sa.text("status = 'waiting'"),
        )
        batch_op.drop_index(batch_op.f("ix_card_enrolments_household_id"))
        batch_op.drop_index(batch_op.f("ix_card_enrolments_device_id"))
    op.drop_table("card_enrolments")
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_requests_status"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_site_id"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_created_at"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_client_key"))
    op.drop_table("registration_requests")
