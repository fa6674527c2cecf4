"""The event catalogue: display names, summaries and property labels per event name.

Revision ID: 0008_event_catalogue
Revises: 0007_retention
Create Date: 2026-12-07 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0008_event_catalogue"
down_revision = "0007_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_definitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("display_zh", sa.String(length=100), nullable=True),
        sa.Column("display_en", sa.String(length=100), nullable=True),
        sa.Column("summary_zh", sa.String(length=200), nullable=True),
        sa.Column("summary_en", sa.String(length=200), nullable=True),
        sa.Column("properties", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("event_definitions")
