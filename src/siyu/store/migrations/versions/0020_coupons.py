"""Coupon templates count what they gave: ``spent`` (the sum of the discounts of successful
redemptions) and ``issued`` (coupons handed out), each moved by one conditional UPDATE so a
budget or an issue limit holds when two workers race for the last of it.

Revision ID: 0020_coupons
Revises: 0019_loyalty_ledger
Create Date: 2026-12-07 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_coupons"
down_revision = "0019_loyalty_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coupon_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spent", sa.Numeric(18, 2), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("issued", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("coupon_templates", schema=None) as batch_op:
        batch_op.drop_column("issued")
        batch_op.drop_column("spent")
