"""stock, sales, depot deliveries, fraud rules and cases, payout holds

Revision ID: 0009_stock_sales_fraud
Revises: 0008_doorstep_routes
Create Date: 2026-12-01 11:53:13.406183
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_stock_sales_fraud"
down_revision = "0008_doorstep_routes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fraud_rules",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("explanation_id", sa.Text(), nullable=False),
        sa.Column("explanation_en", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_fraud_rules")),
    )
    op.create_table(
        "category_stock_rules",
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("allowed_loss_bp", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint(
            "allowed_loss_bp BETWEEN 0 AND 10000", name=op.f("ck_category_stock_rules_bp_range")
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_category_stock_rules_category_code_waste_categories"),
        ),
        sa.PrimaryKeyConstraint("category_code", name=op.f("pk_category_stock_rules")),
    )
    op.create_table(
        "depot_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_depot_deliveries_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depot_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_depot_deliveries_event_id")),
    )
    with op.batch_alter_table("depot_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_depot_deliveries_collector_id"), ["collector_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_depot_deliveries_delivered_at"), ["delivered_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_depot_deliveries_site_id"), ["site_id"], unique=False)

    op.create_table(
        "site_opening_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_min", sa.Integer(), nullable=False),
        sa.Column("closes_min", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "0 <= opens_min AND opens_min < closes_min AND closes_min <= 1440",
            name=op.f("ck_site_opening_hours_minutes_range"),
        ),
        sa.CheckConstraint(
            "weekday BETWEEN 0 AND 6", name=op.f("ck_site_opening_hours_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_opening_hours_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_opening_hours")),
        sa.UniqueConstraint("site_id", "weekday", name="uq_site_opening_hours_site_day"),
    )
    op.create_table(
        "fraud_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_key", sa.String(length=80), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'confirmed')", name=op.f("ck_fraud_cases_status_known")
        ),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_fraud_cases_days_ordered")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_fraud_cases_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["rule_code"], ["fraud_rules.code"], name=op.f("fk_fraud_cases_rule_code_fraud_rules")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_fraud_cases_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_cases")),
        sa.UniqueConstraint(
            "rule_code",
            "subject_kind",
            "subject_key",
            "first_day",
            name="uq_fraud_cases_rule_subject_day",
        ),
    )
    with op.batch_alter_table("fraud_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fraud_cases_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fraud_cases_raised_at"), ["raised_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fraud_cases_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fraud_cases_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_fraud_cases_subject", ["rule_code", "subject_kind", "subject_key"], unique=False
        )

    op.create_table(
        "depot_delivery_weighins",
        sa.Column("weighin_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["depot_deliveries.id"],
            name=op.f("fk_depot_delivery_weighins_delivery_id_depot_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["weighin_id"],
            ["weighins.id"],
            name=op.f("fk_depot_delivery_weighins_weighin_id_weighins"),
        ),
        sa.PrimaryKeyConstraint("weighin_id", name=op.f("pk_depot_delivery_weighins")),
    )
    with op.batch_alter_table("depot_delivery_weighins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_depot_delivery_weighins_delivery_id"), ["delivery_id"], unique=False
        )

    op.create_table(
        "payout_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=80), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=80), nullable=True),
        sa.Column("release_note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["fraud_cases.id"], name=op.f("fk_payout_holds_case_id_fraud_cases")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_payout_holds_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_holds")),
        sa.UniqueConstraint("case_id", name=op.f("uq_payout_holds_case_id")),
    )
    with op.batch_alter_table("payout_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_holds_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("buyer", sa.String(length=200), nullable=False),
        sa.Column("qty_g", sa.BigInteger(), nullable=False),
        sa.Column("scale_device_id", sa.String(length=48), nullable=True),
        sa.Column("ticket_no", sa.String(length=60), nullable=True),
        sa.Column("rp_per_kg", sa.BigInteger(), nullable=False),
        sa.Column("amount_rp", sa.BigInteger(), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(scale_device_id IS NULL) <> (ticket_no IS NULL)", name=op.f("ck_sales_one_weighing")
        ),
        sa.CheckConstraint("qty_g > 0", name=op.f("ck_sales_qty_positive")),
        sa.CheckConstraint("rp_per_kg >= 0 AND amount_rp >= 0", name=op.f("ck_sales_money_nonneg")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_sales_category_code_waste_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_sales_entry_id_journal_entries")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_sales_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_sales_entry_id")),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sales_sold_at"), ["sold_at"], unique=False)

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("qty_g", sa.BigInteger(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("weighin_id", sa.Integer(), nullable=True),
        sa.Column("sale_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(kind IN ('weighin', 'doorstep', 'transfer_in') AND qty_g > 0)"
            " OR (kind IN ('weighin_reversal', 'transfer_out', 'sale', 'loss') AND qty_g < 0)"
            " OR (kind = 'count' AND qty_g <> 0)",
            name=op.f("ck_stock_movements_sign_of_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('weighin', 'doorstep', 'transfer_in', 'weighin_reversal', 'transfer_out',"
            " 'sale', 'loss', 'count')",
            name=op.f("ck_stock_movements_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["waste_categories.code"],
            name=op.f("fk_stock_movements_category_code_waste_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["depot_deliveries.id"],
            name=op.f("fk_stock_movements_delivery_id_depot_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["stock_movements.id"],
            name=op.f("fk_stock_movements_pair_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_stock_movements_sale_id_sales")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_movements_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["weighin_id"], ["weighins.id"], name=op.f("fk_stock_movements_weighin_id_weighins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("pair_id", name=op.f("uq_stock_movements_pair_id")),
        sa.UniqueConstraint("weighin_id", "kind", name="uq_stock_movements_weighin_kind"),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_movements_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_movements_sale_id"), ["sale_id"], unique=False)
        batch_op.create_index(
            "ix_stock_movements_site_cat_at",
            ["site_id", "category_code", "effective_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_site_cat_at")
        batch_op.drop_index(batch_op.f("ix_stock_movements_sale_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_delivery_id"))

    op.drop_table("stock_movements")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_sold_at"))
        batch_op.drop_index(batch_op.f("ix_sales_site_id"))

    op.drop_table("sales")
    with op.batch_alter_table("payout_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_holds_household_id"))

    op.drop_table("payout_holds")
    with op.batch_alter_table("depot_delivery_weighins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_depot_delivery_weighins_delivery_id"))

    op.drop_table("depot_delivery_weighins")
    with op.batch_alter_table("fraud_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_fraud_cases_subject")
        batch_op.drop_index(batch_op.f("ix_fraud_cases_status"))
        batch_op.drop_index(batch_op.f("ix_fraud_cases_site_id"))
        batch_op.drop_index(batch_op.f("ix_fraud_cases_raised_at"))
        batch_op.drop_index(batch_op.f("ix_fraud_cases_household_id"))

    op.drop_table("fraud_cases")
    op.drop_table("site_opening_hours")
    with op.batch_alter_table("depot_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_depot_deliveries_site_id"))
        batch_op.drop_index(batch_op.f("ix_depot_deliveries_delivered_at"))
        batch_op.drop_index(batch_op.f("ix_depot_deliveries_collector_id"))

    op.drop_table("depot_deliveries")
    op.drop_table("category_stock_rules")
    op.drop_table("fraud_rules")
