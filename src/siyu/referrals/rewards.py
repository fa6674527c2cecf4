"""Rewards paid on approval, and reversed when an approved referral is voided.

Exactly once: each reward is first *claimed* by inserting its row with a unique external id
(``referral:<campaign id>:<contact>:<milestone>:<side>``) — a retry or a second worker finds
the row and pays nothing — and the coupon or points award carries the same external id, which
the coupons issuer and the points ledger treat as idempotent. The inviter's participant row is
locked first on PostgreSQL, so two approvals of the same inviter count milestones and caps one
after the other. The budget is spent by a conditional UPDATE (``spent + value <= budget``).

A reward that cannot be paid is kept as ``withheld`` with its reason (cap_month, cap_total,
budget, holdout, not_member, coupon_*), so the operator sees why nothing was paid."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService
from siyu.loyalty.ledger import Ledger, brand_tz
from siyu.referrals import events as ev
from siyu.store.dialect import insert_ignore
from siyu.store.models import (
    Coupon,
    LoyaltyMember,
    Referral,
    ReferralCampaign,
    ReferralParticipant,
    ReferralReward,
)


def external_id(campaign: ReferralCampaign, contact_id: int, milestone: int, side: str) -> str:
    return f"referral:{campaign.id}:{contact_id}:{milestone}:{side}"


def _kind(reward: dict[str, Any]) -> str:
    return next(k for k in ("coupon", "points", "gift") if reward.get(k) not in (None, ""))


def lock_participant(session: Session, participant_id: int) -> None:
    """Serialise one inviter's approvals (milestones, caps) on PostgreSQL; a no-op on SQLite,
    which has one writer."""
    session.execute(
        select(ReferralParticipant.id).where(ReferralParticipant.id == participant_id).with_for_update()
    ).all()


def pay_for(
    session: Session, campaign: ReferralCampaign, referral: Referral, now: datetime
) -> list[ReferralReward]:
    """The rewards an approval earns: the inviter's milestones reached by their count of
    approved referrals, and the invitee's own reward in a double-sided campaign."""
    lock_participant(session, referral.participant_id)
    approved = int(
        session.scalar(
            select(func.count()).where(
                Referral.campaign_id == campaign.id,
                Referral.inviter_id == referral.inviter_id,
                Referral.status == "approved",
            )
        )
        or 0
    )
    paid: list[ReferralReward] = []
    for reward in sorted(campaign.rewards or [], key=lambda r: int(r["invites"])):
        side, milestone = str(reward.get("side") or "inviter"), int(reward["invites"])
        if side in ("inviter", "both") and milestone <= approved:
            got = _pay(session, campaign, referral, reward, referral.inviter_id, "inviter", now)
            paid += [got] if got else []
        if side in ("invitee", "both"):
            got = _pay(session, campaign, referral, reward, referral.invitee_id, "invitee", now)
            paid += [got] if got else []
    return paid


def _month_start(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _cap_reason(
    session: Session, campaign: ReferralCampaign, row: ReferralReward, now: datetime
) -> str | None:
    """Whether the inviter's paid rewards (without ``row``, just claimed) reach a cap."""
    caps = campaign.caps or {}
    contact_id = row.contact_id
    base = select(func.count()).where(
        ReferralReward.id != row.id,
        ReferralReward.campaign_id == campaign.id,
        ReferralReward.contact_id == contact_id,
        ReferralReward.side == "inviter",
        ReferralReward.status == "paid",
    )
    total = caps.get("per_inviter_total")
    if total is not None and int(session.scalar(base) or 0) >= int(total):
        return "cap_total"
    if caps.get("per_inviter_month") is not None:
        since = _month_start(now, brand_tz(session))
        if int(session.scalar(base.where(ReferralReward.at >= since)) or 0) >= int(caps["per_inviter_month"]):
            return "cap_month"
    return None


def _spend(session: Session, campaign: ReferralCampaign, value: Decimal) -> bool:
    if value <= 0:
        return True
    cond = ReferralCampaign.id == campaign.id
    if campaign.budget is not None:
        cond = cond & (ReferralCampaign.spent + value <= ReferralCampaign.budget)
    done = session.execute(
        update(ReferralCampaign)
        .where(cond)
        .values(spent=ReferralCampaign.spent + value)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(campaign, ["spent"])
    return bool(done)


def _unspend(session: Session, campaign: ReferralCampaign, value: Decimal) -> None:
    if value > 0:
        session.execute(
            update(ReferralCampaign)
            .where(ReferralCampaign.id == campaign.id)
            .values(spent=ReferralCampaign.spent - value)
            .execution_options(synchronize_session=False)
        )
        session.refresh(campaign, ["spent"])


def _pay(
    session: Session,
    campaign: ReferralCampaign,
    referral: Referral,
    reward: dict[str, Any],
    contact_id: int,
    side: str,
    now: datetime,
) -> ReferralReward | None:
    milestone, kind = int(reward["invites"]), _kind(reward)
    ext = external_id(campaign, contact_id, milestone, side)
    value = Decimal(str(reward.get("value") or 0))
    detail = {kind: reward[kind]}
    claimed = insert_ignore(
        session,
        ReferralReward.__table__,
        [
            {
                "campaign_id": campaign.id,
                "referral_id": referral.id,
                "contact_id": contact_id,
                "milestone": milestone,
                "side": side,
                "kind": kind,
                "detail": detail,
                "value": value,
                "external_id": ext,
                "status": "paid",
                "reason": None,
                "at": now,
            }
        ],
        ("external_id",),
    )
    if not claimed:
        return None  # paid (or withheld) before: a retry, or the other worker
    row = session.scalars(select(ReferralReward).where(ReferralReward.external_id == ext)).one()
    reason = _cap_reason(session, campaign, row, now) if side == "inviter" else None
    if reason is None and not _spend(session, campaign, value):
        reason = "budget"
    if reason is None:
        reason = _deliver(session, campaign, row, reward, now)
        if reason is not None:
            _unspend(session, campaign, value)
    if reason is not None:
        row.status, row.reason = "withheld", reason
        session.flush()
        return row
    props = {"campaign": campaign.key, "milestone": milestone, "side": side, "kind": kind, "reward": detail}
    ev.emit(session, ev.REWARD_PAID, str(row.id), contact_id, props, now)
    return row


def _deliver(
    session: Session, campaign: ReferralCampaign, row: ReferralReward, reward: dict[str, Any], now: datetime
) -> str | None:
    """Hand the reward over; the reason it could not be, or None."""
    if row.kind == "gift":
        return None  # shipped by the operator from the rewards list
    if row.kind == "points":
        member = session.scalar(
            select(LoyaltyMember.contact_id).where(
                LoyaltyMember.contact_id == row.contact_id, LoyaltyMember.status == "active"
            )
        )
        if member is None:  # enrolling here would record a consent never given (as journeys do)
            return "not_member"
        Ledger(session, now=now).award(
            row.contact_id,
            int(reward["points"]),
            source="referral",
            reason=f"推荐奖励：{campaign.name}",
            external_id=row.external_id,
            actor=f"referral:{campaign.key}",
        )
        return None
    try:
        with session.begin_nested():
            coupon = CouponService(session, now=now).issue(
                str(reward["coupon"]),
                row.contact_id,
                issued_by=f"referral:{campaign.key}",
                external_id=row.external_id,
            )
    except CouponError as exc:
        return f"coupon_{exc.code}"[:32]
    if coupon is None:
        return "holdout"
    row.detail = {**row.detail, "code": coupon.code}
    return None


def reverse_for(session: Session, campaign: ReferralCampaign, referral: Referral, at: datetime) -> int:
    """Reverse what this referral's approval paid: points clawed back, an unused coupon voided,
    the budget given back. A coupon already redeemed stays redeemed (the reward row says
    ``reversed`` with reason ``coupon_used``)."""
    rows = list(
        session.scalars(
            select(ReferralReward).where(
                ReferralReward.referral_id == referral.id, ReferralReward.status == "paid"
            )
        )
    )
    for row in rows:
        if not session.execute(
            update(ReferralReward)
            .where(ReferralReward.id == row.id, ReferralReward.status == "paid")
            .values(status="reversed")
            .execution_options(synchronize_session=False)
        ).rowcount:
            continue
        session.refresh(row)
        if row.kind == "points":
            points = int((row.detail or {}).get("points") or 0)
            Ledger(session, now=at).clawback(
                row.contact_id,
                points,
                reason=f"推荐奖励撤回：{campaign.name}",
                external_id=f"{row.external_id}:reversed",
            )
        elif row.kind == "coupon":
            voided = session.execute(
                update(Coupon)
                .where(Coupon.external_id == row.external_id, Coupon.status == "issued")
                .values(status="voided")
                .execution_options(synchronize_session=False)
            ).rowcount
            if not voided:
                row.reason = "coupon_used"
        _unspend(session, campaign, Decimal(row.value or 0))
    session.flush()
    return len(rows)
