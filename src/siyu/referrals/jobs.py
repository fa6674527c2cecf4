"""The referral lifecycle job: for every running or paused campaign (and ended ones still
holding qualified referrals), qualify, void what must be voided, then approve and pay.

Voids run before approvals, so a refund or a deleted staff member inside the hold is never paid.
One transaction per batch; a crash loses at most the batch, and the next run finds its
referrals where they were (every move is a conditional UPDATE, every payment an external id)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from siyu.referrals.lifecycle import BATCH, Step, approve_batch, deletes_batch, qualify_batch, refunds_batch
from siyu.store.models import ReferralCampaign, utcnow

log = logging.getLogger(__name__)

# qualify first, then the voids, then approvals: a referral qualified in this run whose order
# was already refunded (a job that had not run for a week meets both at once) is voided before
# the approval step could pay it
JOBS: dict[str, Callable[..., Step]] = {
    "qualify": qualify_batch,
    "refunds": refunds_batch,
    "deletes": deletes_batch,
    "approve": approve_batch,
}


def run_jobs(
    db: Any, now: datetime | None = None, *, campaign: str | None = None, batch: int = BATCH
) -> dict[str, int]:
    """Run every step to the end for every campaign with work; returns referrals moved per step."""
    now = now or utcnow()
    with db.session() as s:
        q = (
            select(ReferralCampaign.id)
            .where(ReferralCampaign.status != "draft")
            .order_by(ReferralCampaign.id)
        )
        if campaign:
            q = q.where(ReferralCampaign.key == campaign)
        ids = list(s.scalars(q))
    done = {name: 0 for name in JOBS}
    for cid in ids:
        for name, job in JOBS.items():
            after: int | None = 0
            while after is not None:
                with db.session() as s:
                    row = s.get(ReferralCampaign, cid)
                    assert row is not None
                    moved, after = job(s, row, now, after, batch)
                done[name] += moved
    return done
