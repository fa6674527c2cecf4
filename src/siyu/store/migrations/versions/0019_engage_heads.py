"""Join the two issue-17 heads (coupons, loyalty ledger) on the engage branch, so its tests can
migrate. No schema change: the lead drops this file when chaining the helpers' migrations.

Revision ID: 0019_engage_heads
Revises: 0019_coupons, 0019_loyalty_ledger
"""

from __future__ import annotations

revision = "0019_engage_heads"
down_revision = ("0019_coupons", "0019_loyalty_ledger")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change."""


def downgrade() -> None:
    """Nothing to change."""
