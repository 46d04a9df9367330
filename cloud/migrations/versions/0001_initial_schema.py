"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 05:34:48.219733
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=256), nullable=False),
        sa.Column("client_hint", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_reason"), ["reason"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    op.create_table(
        "waste_categories",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_id", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_waste_categories")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=48), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_alerts_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_raised_at"), ["raised_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            "uq_alerts_active",
            ["kind", "subject"],
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )

    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sw_version", sa.String(length=40), nullable=True),
        sa.Column("boot_id", sa.String(length=36), nullable=True),
        sa.Column("uptime_s", sa.Integer(), nullable=True),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("outbox_capacity", sa.Integer(), nullable=True),
        sa.Column("health_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_devices_site_id_sites")),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_site_id"), ["site_id"], unique=False)

    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_no", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_households_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("member_no", name=op.f("uq_households_member_no")),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_households_site_id"), ["site_id"], unique=False)

    op.create_table(
        "prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("rp_per_kg", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint("rp_per_kg >= 0", name=op.f("ck_prices_rp_per_kg_nonneg")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_prices_category_code_waste_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
        sa.UniqueConstraint(
            "category_code", "effective_from", name=op.f("uq_prices_category_code")
        ),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_accounts_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_accounts_code")),
        sa.UniqueConstraint("household_id", name=op.f("uq_accounts_household_id")),
    )
    op.create_table(
        "bins",
        sa.Column("bin_id", sa.String(length=48), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=48), nullable=True),
        sa.Column("category_code", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("empty_depth_mm", sa.Integer(), nullable=True),
        sa.Column("threshold_pct", sa.Float(), nullable=False),
        sa.Column("hysteresis_pct", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fill_pct", sa.Float(), nullable=True),
        sa.Column("distance_mm", sa.Integer(), nullable=True),
        sa.Column("fault", sa.String(length=20), nullable=True),
        sa.Column("lid_open", sa.Boolean(), nullable=True),
        sa.Column("tilted", sa.Boolean(), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("forecast_full_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fill_rate_pct_per_h", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_bins_category_code_waste_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_bins_device_id_devices")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_bins_site_id_sites")),
        sa.PrimaryKeyConstraint("bin_id", name=op.f("pk_bins")),
    )
    with op.batch_alter_table("bins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bins_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bins_site_id"), ["site_id"], unique=False)

    op.create_table(
        "member_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=80), nullable=True),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlinked_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_member_cards_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_cards")),
    )
    with op.batch_alter_table("member_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_cards_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_member_cards_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            "uq_member_cards_active_card",
            ["card_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "weighins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("device_id", sa.String(length=48), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.String(length=36), nullable=False),
        sa.Column("mono_ms", sa.BigInteger(), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("net_g", sa.BigInteger(), nullable=False),
        sa.Column("tare_g", sa.BigInteger(), nullable=False),
        sa.Column("division_g", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("frames", sa.JSON(), nullable=False),
        sa.Column("stable_ms", sa.Integer(), nullable=False),
        sa.Column("price_id", sa.Integer(), nullable=True),
        sa.Column("price_rp_per_kg", sa.BigInteger(), nullable=True),
        sa.Column("amount_rp", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("receipt_json", sa.Text(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.String(length=80), nullable=True),
        sa.Column("reversal_entry_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_rp >= 0", name=op.f("ck_weighins_amount_nonneg")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_weighins_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["prices.id"], name=op.f("fk_weighins_price_id_prices")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_weighins_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weighins")),
        sa.UniqueConstraint("event_id", name=op.f("uq_weighins_event_id")),
    )
    with op.batch_alter_table("weighins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_weighins_device_id"), ["device_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_weighins_effective_at"), ["effective_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_weighins_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_weighins_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_weighins_status"), ["status"], unique=False)

    op.create_table(
        "bin_fill_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bin_id", sa.String(length=48), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fill_pct", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bin_id"], ["bins.bin_id"], name=op.f("fk_bin_fill_samples_bin_id_bins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin_fill_samples")),
    )
    with op.batch_alter_table("bin_fill_samples", schema=None) as batch_op:
        batch_op.create_index("ix_bin_fill_samples_bin_at", ["bin_id", "at"], unique=False)

    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("weighin_id", sa.Integer(), nullable=True),
        sa.Column("reverses_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_entries_reverses_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_journal_entries_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("reverses_entry_id", name=op.f("uq_journal_entries_reverses_entry_id")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_entries_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_journal_entries_weighin_id"), ["weighin_id"], unique=False
        )

    op.create_table(
        "pickups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("bin_id", sa.String(length=48), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("category_code", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fill_pct_at_open", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=True),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_g", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.bin_id"], name=op.f("fk_pickups_bin_id_bins")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_pickups_household_id_households")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_pickups_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickups")),
    )
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pickups_collector_id"), ["collector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pickups_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pickups_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pickups_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pickups_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_pickups_open_bin",
            ["bin_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
            postgresql_where=sa.text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
        )

    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_rp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_postings_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_postings_entry_id_journal_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postings_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_postings_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postings_entry_id"))
        batch_op.drop_index(batch_op.f("ix_postings_account_id"))

    op.drop_table("postings")
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_pickups_open_bin",
            sqlite_where=sa.text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
            postgresql_where=sa.text("status IN ('open', 'assigned') AND bin_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_pickups_status"))
        batch_op.drop_index(batch_op.f("ix_pickups_site_id"))
        batch_op.drop_index(batch_op.f("ix_pickups_household_id"))
        batch_op.drop_index(batch_op.f("ix_pickups_due_at"))
        batch_op.drop_index(batch_op.f("ix_pickups_collector_id"))

    op.drop_table("pickups")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_weighin_id"))
        batch_op.drop_index(batch_op.f("ix_journal_entries_created_at"))

    op.drop_table("journal_entries")
    with op.batch_alter_table("bin_fill_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_bin_fill_samples_bin_at")

    op.drop_table("bin_fill_samples")
    with op.batch_alter_table("weighins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weighins_status"))
        batch_op.drop_index(batch_op.f("ix_weighins_site_id"))
        batch_op.drop_index(batch_op.f("ix_weighins_household_id"))
        batch_op.drop_index(batch_op.f("ix_weighins_effective_at"))
        batch_op.drop_index(batch_op.f("ix_weighins_device_id"))

    op.drop_table("weighins")
    with op.batch_alter_table("member_cards", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_member_cards_active_card",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_member_cards_household_id"))
        batch_op.drop_index(batch_op.f("ix_member_cards_card_id"))

    op.drop_table("member_cards")
    with op.batch_alter_table("bins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bins_site_id"))
        batch_op.drop_index(batch_op.f("ix_bins_device_id"))

    op.drop_table("bins")
    op.drop_table("accounts")
    op.drop_table("prices")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_households_site_id"))

    op.drop_table("households")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_site_id"))

    op.drop_table("devices")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_active",
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_alerts_site_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_raised_at"))

    op.drop_table("alerts")
    op.drop_table("waste_categories")
    op.drop_table("sites")
    op.drop_table("processed_events")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letters_reason"))

    op.drop_table("dead_letters")
