"""Segments you can live with, and lists staff can search: segment versions (an edit keeps
the key and adds a version), and a blind index of a phone's last four digits.

The last-4 index needs the PII key, which a migration does not have: non-phone identities get
"" here, and phones keep NULL until ``siyu.profiles.keys.backfill_last4`` fills them (the first
last-4 search and ``siyu serve``'s background round do; it is cheap and idempotent).

Revision ID: 0011_seglists
Revises: 0010_graph
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0011_seglists"
down_revision = "0010_graph"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last4", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_identities_last4", ["last4"], unique=False)
    op.execute("UPDATE identities SET last4 = '' WHERE type <> 'phone'")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("updated_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "segment_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tag_key", sa.String(length=201), nullable=True),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("members", sa.Integer(), nullable=True),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_segment_versions_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_versions")),
        sa.UniqueConstraint("segment_id", "version", name="uq_segment_versions"),
    )
    # Every existing segment starts its history at version 1 (what it is now).
    op.execute(
        "INSERT INTO segment_versions (segment_id, version, name, tag_key, definition, actor, members, "
        "created_at) SELECT id, 1, name, tag_key, definition, 'migration', member_count, created_at "
        "FROM segments"
    )


def downgrade() -> None:
    op.drop_table("segment_versions")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index("ix_identities_last4")
        batch_op.drop_column("last4")
