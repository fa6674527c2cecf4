"""Retention and a tamper-evident audit log: the audit log's hash chain (seq, prev_hash, hash),
the log of removals the warehouse must follow, and when retention blanked an outbox body.

Existing audit entries are chained by the first transaction that records a new one (in id
order), so the migration needs no hashing code of its own.

Revision ID: 0007_retention
Revises: 0005
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0007_retention"
down_revision = "0006_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_audit_log_seq", ["seq"], unique=True)
        batch_op.create_index(
            "ix_audit_log_unchained",
            ["id"],
            unique=False,
            sqlite_where=sa.text("seq IS NULL"),
            postgresql_where=sa.text("seq IS NULL"),
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_removed_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "warehouse_removals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouse_removals")),
    )


def downgrade() -> None:
    op.drop_table("warehouse_removals")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("content_removed_at")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_unchained")
        batch_op.drop_index("uq_audit_log_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
