"""Analytics: channel spend (the cost side of channel economics) and per-contact scores
(churn risk), which segments read through the warehouse mirror.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_spend",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel_id", _ID, nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=True),
        sa.Column("clicks", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_spend_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_spend")),
    )
    with op.batch_alter_table("channel_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_spend_channel_id"), ["channel_id"], unique=False)
    # A missing campaign is '' in the index: unique constraints treat NULLs as distinct, and a
    # re-import of a row without a campaign must update it, not add a second one.
    op.create_index(
        "uq_channel_spend_period",
        "channel_spend",
        ["channel", sa.text("coalesce(campaign, '')"), "period_start", "period_end"],
        unique=True,
    )
    op.create_table(
        "contact_scores",
        sa.Column("contact_id", _ID, nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("computed_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_scores_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_scores")),
        info={"merge": "keep_survivor"},
    )


def downgrade() -> None:
    op.drop_table("contact_scores")
    op.drop_index("uq_channel_spend_period", table_name="channel_spend")
    with op.batch_alter_table("channel_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_spend_channel_id"))
    op.drop_table("channel_spend")
