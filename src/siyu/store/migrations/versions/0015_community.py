"""The community pyramid: each contact's role (seed / koc / member) per group and brand-wide;
group bulk messages per group (the monthly limit).

Revision ID: 0015_community
Revises: 0014_wecom_ways
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.store.models.base

revision = "0015_community"
down_revision = "0014_wecom_ways"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "community_roles",
        sa.Column("id", BIG, nullable=False),
        sa.Column("group_id", BIG, nullable=False),
        sa.Column("contact_id", BIG, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("last_active_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("computed_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_community_roles_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_roles")),
    )
    with op.batch_alter_table("community_roles", schema=None) as batch_op:
        batch_op.create_index("ix_community_roles_scope", ["group_id", "role"], unique=False)
        batch_op.create_index(batch_op.f("ix_community_roles_contact_id"), ["contact_id"], unique=False)
    op.create_table(
        "group_message_sends",
        sa.Column("id", BIG, nullable=False),
        sa.Column("group_id", BIG, nullable=False),
        sa.Column("msgid", sa.String(length=128), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("sent_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["customer_groups.id"], name=op.f("fk_group_message_sends_group_id_customer_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_message_sends")),
        sa.UniqueConstraint("group_id", "msgid", name=op.f("uq_group_message_sends_group_id")),
    )
    with op.batch_alter_table("group_message_sends", schema=None) as batch_op:
        batch_op.create_index("ix_group_message_sends_month", ["group_id", "month"], unique=False)
    op.create_table(
        "group_sops",
        sa.Column("id", BIG, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_key", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=True),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_sops")),
        sa.UniqueConstraint("key", name=op.f("uq_group_sops_key")),
    )
    op.create_table(
        "group_sop_runs",
        sa.Column("id", BIG, nullable=False),
        sa.Column("sop_id", BIG, nullable=False),
        sa.Column("group_id", BIG, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("msgid", sa.String(length=128), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["customer_groups.id"], name=op.f("fk_group_sop_runs_group_id_customer_groups")
        ),
        sa.ForeignKeyConstraint(
            ["sop_id"], ["group_sops.id"], name=op.f("fk_group_sop_runs_sop_id_group_sops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_sop_runs")),
        sa.UniqueConstraint("sop_id", "group_id", "step", name=op.f("uq_group_sop_runs_sop_id")),
    )
    with op.batch_alter_table("group_sop_runs", schema=None) as batch_op:
        batch_op.create_index("ix_group_sop_runs_due", ["sent_at", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("group_sop_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_group_sop_runs_due")
    op.drop_table("group_sop_runs")
    op.drop_table("group_sops")
    with op.batch_alter_table("group_message_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_group_message_sends_month")
    op.drop_table("group_message_sends")
    with op.batch_alter_table("community_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_roles_contact_id"))
        batch_op.drop_index("ix_community_roles_scope")
    op.drop_table("community_roles")
