"""Order problems: order events, import rows and renewals that could not be booked, kept for the
operators' "未入账的订单事件" page.

Revision ID: 0021_commerce
Revises: 0020_coupons
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.models.base

revision = "0021_commerce"
down_revision = "0020_coupons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_problems",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("order_no", sa.String(length=128), nullable=True),
        sa.Column("refund_no", sa.String(length=200), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_problems")),
    )
    op.create_index("ix_order_problems_at", "order_problems", ["at"], unique=False)
    op.create_index(op.f("ix_order_problems_message_id"), "order_problems", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_problems_message_id"), table_name="order_problems")
    op.drop_index("ix_order_problems_at", table_name="order_problems")
    op.drop_table("order_problems")
