"""PIPL rights: deletion receipts, the hashed do-not-contact list, warehouse erasures to apply.

Revision ID: 0006_privacy
Revises: 0005
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0006_privacy"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "privacy_deletions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("deletion_id", sa.String(length=40), nullable=False),
        sa.Column("at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_deletions")),
        sa.UniqueConstraint("deletion_id", name=op.f("uq_privacy_deletions_deletion_id")),
    )
    op.create_table(
        "do_not_contact",
        sa.Column("id", _ID, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("deletion_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_contact")),
    )
    with op.batch_alter_table("do_not_contact", schema=None) as batch_op:
        batch_op.create_index("uq_do_not_contact_entry", ["type", "lookup", "channel"], unique=True)
    op.create_table(
        "warehouse_erasures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("deletion_id", sa.String(length=40), nullable=False),
        sa.Column("erased_ids", _JSON, nullable=False),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouse_erasures")),
    )


def downgrade() -> None:
    op.drop_table("warehouse_erasures")
    with op.batch_alter_table("do_not_contact", schema=None) as batch_op:
        batch_op.drop_index("uq_do_not_contact_entry")
    op.drop_table("do_not_contact")
    op.drop_table("privacy_deletions")
