"""A heartbeat on WeCom sync runs, so a sync killed with its process is seen as interrupted and
does not block the next one.

Revision ID: 0017_sync_heartbeat
Revises: 0016_wecom_inbox
Create Date: 2026-12-07 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.models.base

revision = "0017_sync_heartbeat"
down_revision = "0016_wecom_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wecom_sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("beat_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("wecom_sync_runs", schema=None) as batch_op:
        batch_op.drop_column("beat_at")
