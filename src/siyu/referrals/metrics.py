"""Campaign metrics: the viral numbers (inviters, invites, qualified, K-factor, generations,
cycle time), cost per qualified invitee, and referred vs non-referred customers' value.

Definitions (also in docs/referrals-insights.md):
- an *invite* is a referral edge that is not ``voided`` (voided ones were refunds, deleted
  staff, self-referrals or fraud: no one was brought in); ``flagged`` ones count as invites
  until the review voids them;
- *inviters*: everyone who holds a code in the campaign (seeds and the friends who joined in
  turn), whether or not they invited anyone: the K-factor's "per inviter" is per person who
  could invite, so that generation n is seeds × Kⁿ (the reference's viral-growth law);
  ``active_inviters`` counts those with at least one invite;
- *qualified*: invites whose status is ``qualified`` or ``approved`` (the target done, not held
  for review);
- K-factor = (invites ÷ inviters) × (qualified ÷ invites), i.e. qualified friends per inviter
  (a campaign of 1,000 seeds where 100 invite 5 friends each, all qualifying, has K = 0.5);
- ``generations[n-1]``: invites of generation n (1 = friends of seeds);
- cycle time: mean hours from an invited inviter's own arrival (the invite that brought them)
  to each of their invites, over generations 2 and on: the viral cycle, which a seed's
  joining (often long before the campaign's first share) would blur; ``cycle_by_generation``
  also gives generation 1, measured from the seed's joining the campaign;
- cost per qualified: rewards paid (status ``paid``, their ``value``) ÷ qualified."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.store.models import Order, Referral, ReferralCampaign, ReferralParticipant, ReferralReward

QUALIFIED = ("qualified", "approved")


class CampaignNotFound(LookupError):
    """No referral campaign has this key."""


def get_campaign(session: Session, key: str) -> ReferralCampaign:
    campaign = session.scalar(select(ReferralCampaign).where(ReferralCampaign.key == key))
    if campaign is None:
        raise CampaignNotFound(f"campaign: no referral campaign {key!r}")
    return campaign


STATUSES = ("pending", "qualified", "approved", "flagged", "voided")


def campaign_stats(session: Session, campaign: ReferralCampaign) -> dict[str, Any]:
    """The numbers above, plus ``statuses`` (count per status), ``conversion``,
    ``cycle_by_generation`` (hours), ``participants``, ``rewards_paid`` and ``value``."""
    statuses = dict.fromkeys(STATUSES, 0)
    gens: dict[int, int] = defaultdict(int)
    arrivals: dict[int, datetime] = {}
    rows = session.execute(
        select(
            Referral.inviter_id,
            Referral.invitee_id,
            Referral.generation,
            Referral.status,
            Referral.invited_at,
        )
        .where(Referral.campaign_id == campaign.id)
        .order_by(Referral.generation)
    ).all()
    for _inviter, invitee, _gen, status, at in rows:
        statuses[status] = statuses.get(status, 0) + 1
        arrivals[invitee] = at
    joined = dict(
        session.execute(
            select(ReferralParticipant.contact_id, ReferralParticipant.joined_at).where(
                ReferralParticipant.campaign_id == campaign.id
            )
        ).all()
    )
    inviters: set[int] = set()
    cycle_sum: dict[int, float] = defaultdict(float)
    cycle_n: dict[int, int] = defaultdict(int)
    for inviter, _invitee, gen, status, at in rows:
        if status == "voided":
            continue
        inviters.add(inviter)
        gens[gen] += 1
        start = arrivals.get(inviter) or joined.get(inviter)
        if start is not None and at >= start:
            cycle_sum[gen] += (at - start).total_seconds() / 3600
            cycle_n[gen] += 1
    invites = sum(gens.values())
    qualified = sum(statuses[s] for s in QUALIFIED)
    holders = set(joined) | inviters
    per_inviter = invites / len(holders) if holders else 0.0
    conversion = qualified / invites if invites else 0.0
    paid = session.execute(
        select(func.count(), func.coalesce(func.sum(ReferralReward.value), 0)).where(
            ReferralReward.campaign_id == campaign.id, ReferralReward.status == "paid"
        )
    ).one()
    paid_value = Decimal(paid[1] or 0)
    depth = max(gens) if gens else 0
    return {
        "campaign": campaign.key,
        "participants": len(joined),
        "inviters": len(holders),
        "active_inviters": len(inviters),
        "invites": invites,
        "qualified": qualified,
        "statuses": statuses,
        "invites_per_inviter": round(per_inviter, 4),
        "conversion": round(conversion, 4),
        "k_factor": round(per_inviter * conversion, 4),
        "generations": [gens.get(g, 0) for g in range(1, depth + 1)],
        "cycle_time_hours": _mean(
            sum(v for g, v in cycle_sum.items() if g > 1), sum(n for g, n in cycle_n.items() if g > 1)
        ),
        "cycle_by_generation": [_mean(cycle_sum[g], cycle_n[g]) for g in range(1, depth + 1)],
        "rewards_paid": int(paid[0]),
        "reward_value": str(paid_value.quantize(Decimal("0.01"))),
        "cost_per_qualified": str((paid_value / qualified).quantize(Decimal("0.01"))) if qualified else None,
        "value": referred_value(session, campaign),
    }


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 2) if n else None


def referred_value(session: Session, campaign: ReferralCampaign) -> dict[str, dict[str, Any]]:
    """Referred (the campaign's qualified invitees) vs non-referred buyers (never invited in
    any campaign): buyers, LTV (net of refunds, per buyer) and repurchase rate (share of buyers
    with two or more orders). Per *buyer*, on both sides, so the comparison is like for like."""
    referred = select(Referral.invitee_id).where(
        Referral.campaign_id == campaign.id, Referral.status.in_(QUALIFIED)
    )
    anyone = select(Referral.invitee_id)
    per_buyer = (
        select(
            Order.contact_id.label("cid"),
            func.count().label("orders"),
            func.sum(Order.total - Order.refunded).label("net"),
        )
        .where(Order.status != "refunded")
        .group_by(Order.contact_id)
    )
    out: dict[str, dict[str, Any]] = {}
    for name, cond in (
        ("referred", per_buyer.where(Order.contact_id.in_(referred))),
        ("others", per_buyer.where(Order.contact_id.not_in(anyone))),
    ):
        sub = cond.subquery()
        buyers, net, repeat = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(sub.c.net), 0),
                func.coalesce(func.sum(case((sub.c.orders >= 2, 1), else_=0)), 0),
            )
        ).one()
        out[name] = {
            "buyers": int(buyers),
            "ltv": str((Decimal(net) / buyers).quantize(Decimal("0.01"))) if buyers else None,
            "repurchase_rate": round(int(repeat) / buyers, 4) if buyers else None,
        }
    return out
