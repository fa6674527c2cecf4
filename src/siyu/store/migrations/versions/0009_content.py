"""Uploaded material files (images and mini-program covers) for the content editor.

Revision ID: 0009_content
Revises: 0008_event_catalogue
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.models.base

revision = "0009_content"
down_revision = "0008_event_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "material_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", siyu.store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_files")),
    )


def downgrade() -> None:
    op.drop_table("material_files")
