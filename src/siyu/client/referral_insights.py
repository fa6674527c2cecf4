"""Python API for referral insights: ``s.referral_insights.stats("spring")``,
``.leaderboard(…)``, ``.tree(…)``, ``.rescore(…)`` and the review queue (``.review_list()``,
``.approve(id)``, ``.void(id, reason)``). Each call is one unit of work; times in answers are
ISO strings (UTC); a fraud reason carries its zh and en label next to its code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu.context import AppContext
from siyu.referrals import review
from siyu.referrals.fraud import label, rescore_campaign
from siyu.referrals.leaderboard import leaderboard
from siyu.referrals.metrics import campaign_stats, get_campaign
from siyu.referrals.tree import tree
from siyu.store.models import Referral, utcnow


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def referral_dict(ref: Referral, campaign_key: str | None = None) -> dict[str, Any]:
    """A referral as the review queue shows it (reasons with their labels in both languages)."""
    return {
        "id": ref.id,
        "campaign": campaign_key,
        "inviter_id": ref.inviter_id,
        "invitee_id": ref.invitee_id,
        "generation": ref.generation,
        "via": ref.via,
        "status": ref.status,
        "invited_at": _iso(ref.invited_at),
        "qualified_at": _iso(ref.qualified_at),
        "voided_at": _iso(ref.voided_at),
        "void_reason": ref.void_reason,
        "fraud_score": ref.fraud_score,
        "reasons": [
            {**r, "label_zh": label(str(r.get("code")), "zh"), "label_en": label(str(r.get("code")), "en")}
            for r in ref.fraud_reasons or []
        ],
        "reviewed_by": ref.reviewed_by,
    }


class ReferralInsightsClient:
    def __init__(self, context: AppContext) -> None:
        self.ctx = context

    def stats(self, campaign: str) -> dict[str, Any]:
        """Inviters, invites, qualified, K-factor, generations, cycle time, cost per qualified,
        referred vs other buyers (definitions: docs/referrals-insights.md)."""
        with self.ctx.db.session() as s:
            return campaign_stats(s, get_campaign(s, campaign))

    def leaderboard(self, campaign: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return leaderboard(s, get_campaign(s, campaign), limit=limit)

    def tree(self, campaign: str, max_nodes: int = 2000) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return tree(s, get_campaign(s, campaign), max_nodes=max_nodes)

    def rescore(self, campaign: str, now: datetime | None = None) -> dict[str, int]:
        """Re-score every referral of the campaign (strict mode flags those over the threshold)."""
        with self.ctx.db.session() as s:
            return rescore_campaign(s, get_campaign(s, campaign), now or utcnow())

    def review_list(self, campaign: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{"total", "referrals": [...]}``: flagged referrals, highest score first."""
        with self.ctx.db.session() as s:
            scope = get_campaign(s, campaign) if campaign else None
            total, page = review.flagged(s, scope, limit=limit, offset=offset)
            return {"total": total, "referrals": [referral_dict(r, key) for r, key in page]}

    def approve(self, referral_id: int, actor: str = "python", note: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return referral_dict(review.approve(s, referral_id, actor, utcnow(), note=note))

    def void(
        self, referral_id: int, reason: str = "fraud", actor: str = "python", note: str | None = None
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return referral_dict(review.void(s, referral_id, reason, actor, utcnow(), note=note))
