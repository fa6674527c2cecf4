"""Points ledger: a clawback records the points it could not take back (``shortfall``) when the
programme forbids a negative balance, so a refund that outran the balance is reported, not lost.

Revision ID: 0019_loyalty_ledger
Revises: 0018_loyalty
Create Date: 2026-12-07 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_loyalty_ledger"
down_revision = "0018_loyalty"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("points_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shortfall", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("points_entries", schema=None) as batch_op:
        batch_op.drop_column("shortfall")
