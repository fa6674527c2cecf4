"""Anti-fraud for referrals: a score (0–100) and its reasons for every referral.

The contract the referral lifecycle calls; the signals live in this package."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.store.models import Referral, ReferralCampaign


def score_referrals(
    session: Session, campaign: ReferralCampaign, referrals: list[Referral], now: datetime
) -> None:
    """Set ``fraud_score`` and ``fraud_reasons`` on ``referrals`` (new or re-scored), and in
    strict mode move a pending or qualified referral over ``campaign.fraud_threshold`` to
    ``flagged``. Must not commit. Signals are added by the fraud package."""
    for referral in referrals:
        referral.fraud_score = 0
        referral.fraud_reasons = []
