"""Entry codes that are real WeCom contact ways and acquisition links: their kind, provider,
staff, skip_verify, welcome template, tags, the provider's config_id / link_id and QR / URL.

Revision ID: 0012_entry_code_wecom
Revises: 0011_seglists
Create Date: 2026-12-07 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0012_entry_code_wecom"
down_revision = "0011_seglists"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("entry_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), server_default="url", nullable=False))
        batch_op.add_column(sa.Column("provider_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("staff", JSON, server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("skip_verify", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("welcome_template", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tags", JSON, server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("config_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("qr_code", sa.String(length=1000), nullable=True))
        batch_op.add_column(
            sa.Column("deleted_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_entry_codes_config_id", ["config_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("entry_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_entry_codes_config_id")
        for column in (
            "deleted_at",
            "qr_code",
            "config_id",
            "tags",
            "welcome_template",
            "skip_verify",
            "staff",
            "provider_key",
            "kind",
        ):
            batch_op.drop_column(column)
