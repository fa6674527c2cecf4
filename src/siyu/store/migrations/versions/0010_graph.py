"""Journey version history: each saved version's document, who saved it and when.

The current version of every existing journey is copied in, so history starts with what runs
today (its author is unknown then: ``migration``).

Revision ID: 0010_graph
Revises: 0009_content
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0010_graph"
down_revision = "0009_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_journey_versions_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_versions")),
    )
    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.create_index("uq_journey_versions_version", ["journey_id", "version"], unique=True)
    op.execute(
        "INSERT INTO journey_versions (journey_id, version, definition, actor, created_at) "
        "SELECT id, version, definition, 'migration', updated_at FROM journeys"
    )


def downgrade() -> None:
    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_journey_versions_version")
    op.drop_table("journey_versions")
