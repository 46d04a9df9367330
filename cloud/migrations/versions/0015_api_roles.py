"""API roles: cashier and auditor join admin, operator and collector

Revision ID: 0015_api_roles
Revises: 0009_stock_sales_fraud
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0015_api_roles"
down_revision = "0009_stock_sales_fraud"
branch_labels = None
depends_on = None

NEW = "role IN ('admin', 'operator', 'cashier', 'collector', 'auditor')"
OLD = "role IN ('admin', 'operator', 'collector')"


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_role_known"), NEW)


def downgrade() -> None:
    op.execute("UPDATE users SET active = false WHERE role IN ('cashier', 'auditor')")
    op.execute("UPDATE users SET role = 'operator' WHERE role IN ('cashier', 'auditor')")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_role_known"), OLD)
