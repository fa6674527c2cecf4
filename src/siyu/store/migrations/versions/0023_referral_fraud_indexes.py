"""Referral fraud: indexes on the invitee's device and IP within a campaign

The attribution-time fraud pass looks up the edges sharing a new referral's device or IP
(reuse signals); without these it reads the whole referrals table on every attribution.

Revision ID: 0023_referral_fraud_indexes
Revises: 0022_referrals
Create Date: 2026-12-07 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0023_referral_fraud_indexes"
down_revision = "0022_referrals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("ix_referrals_device", ["campaign_id", "device"], unique=False)
        batch_op.create_index("ix_referrals_ip", ["campaign_id", "ip"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_ip")
        batch_op.drop_index("ix_referrals_device")
