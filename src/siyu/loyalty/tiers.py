"""Tiers (会员等级): their settings, what a member qualifies for, upgrades and period-end reviews.

A member qualifies for the highest tier whose threshold they reach over the programme's rolling
window: points *earned* (awards net of clawbacks, pending ones included: an order counts as soon
as it is booked) or ¥ spent net of refunds. Upgrades are immediate. Downgrades wait for the end of
the tier's period (``tier_review_at``) and follow the programme's policy: ``one_down`` drops one
tier if the member no longer qualifies for the one they hold; ``reevaluate`` sets the tier they
qualify for. A member who still qualifies keeps the tier for another period.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from siyu.audit import service as audit
from siyu.loyalty.programme import LoyaltyError, LoyaltyNotFound, get_programme, plain_decimal
from siyu.store.dialect import chunked
from siyu.store.models import LoyaltyMember, LoyaltyTier, Order, PointsDraw, PointsEntry, TierChange

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TIER_FIELDS = (
    "name",
    "name_en",
    "rank",
    "threshold",
    "multiplier",
    "upgrade_coupon",
    "birthday_coupon",
    "birthday_points",
)


def list_tiers(session: Session) -> list[LoyaltyTier]:
    return list(session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank)))


def _clean(session: Session, values: dict[str, Any], current: LoyaltyTier | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in TIER_FIELDS:
            raise LoyaltyError("unknown_field", f"{key}: not a tier field", field=key)
        if key in ("name", "name_en"):
            text = str(value or "").strip()
            if (key == "name" and not text) or len(text) > 64:
                raise LoyaltyError("invalid_tier", f"{key}: 1–64 characters", field=key)
            out[key] = text or None
        elif key in ("rank", "birthday_points"):
            try:
                n = int(str(value).strip())
            except ValueError:
                raise LoyaltyError(
                    "invalid_tier", f"{key}: {value!r} is not a whole number", field=key
                ) from None
            if not 0 <= n <= (1000 if key == "rank" else 100_000_000):
                raise LoyaltyError("invalid_tier", f"{key}: {n} is out of range", field=key)
            out[key] = n
        elif key in ("threshold", "multiplier"):
            try:
                d = Decimal(str(value).strip())
            except (InvalidOperation, ValueError):
                raise LoyaltyError("invalid_tier", f"{key}: {value!r} is not a number", field=key) from None
            hi = Decimal("1000000000000") if key == "threshold" else Decimal(100)
            if not d.is_finite() or not Decimal(0) <= d <= hi:
                raise LoyaltyError("invalid_tier", f"{key}: {value} is out of range 0–{hi}", field=key)
            out[key] = d
        else:
            text = str(value or "").strip()
            if len(text) > 64:
                raise LoyaltyError("invalid_tier", f"{key}: at most 64 characters", field=key)
            out[key] = text or None
    return out


def _check_ladder(session: Session, tiers: list[tuple[str, int, Decimal]]) -> None:
    """Ranks unique and thresholds strictly increasing with rank, so exactly one tier fits a figure."""
    ranked = sorted(tiers, key=lambda t: t[1])
    for (ka, ra, ta), (kb, rb, tb) in itertools.pairwise(ranked):
        if ra == rb:
            raise LoyaltyError("invalid_tier", f"rank: {ka} and {kb} both have rank {ra}", field="rank")
        if tb <= ta:
            raise LoyaltyError(
                "invalid_tier",
                f"threshold: {kb} (rank {rb}) needs a threshold above {ka}'s {ta}",
                field="threshold",
            )


def add_tier(session: Session, key: str, values: dict[str, Any], *, actor: str = "system") -> LoyaltyTier:
    key = (key or "").strip()
    if not _KEY.match(key):
        raise LoyaltyError("invalid_tier", "key: lower-case letters, digits, _ or -, up to 64", field="key")
    if session.scalar(select(LoyaltyTier.id).where(LoyaltyTier.key == key)):
        raise LoyaltyError("tier_exists", f"key: a tier {key!r} already exists", field="key")
    clean = _clean(session, values, None)
    if "name" not in clean:
        raise LoyaltyError("invalid_tier", "name: required", field="name")
    if "rank" not in clean:
        clean["rank"] = max((t.rank for t in list_tiers(session)), default=-1) + 1
    ladder = [(t.key, t.rank, t.threshold) for t in list_tiers(session)]
    _check_ladder(session, [*ladder, (key, clean["rank"], clean.get("threshold", Decimal(0)))])
    defaults: dict[str, Any] = {"threshold": Decimal(0), "multiplier": Decimal(1), "birthday_points": 0}
    tier = LoyaltyTier(key=key, benefits={}, **{**defaults, **clean})
    session.add(tier)
    session.flush()
    audit.record(session, actor, "loyalty_tier.added", "loyalty_tier", tier.id, {"key": key})
    return tier


def update_tier(session: Session, key: str, values: dict[str, Any], *, actor: str = "system") -> LoyaltyTier:
    tier = get_tier(session, key)
    clean = _clean(session, values, tier)
    ladder = [(t.key, t.rank, t.threshold) for t in list_tiers(session) if t.id != tier.id]
    _check_ladder(
        session, [*ladder, (key, clean.get("rank", tier.rank), clean.get("threshold", tier.threshold))]
    )
    for k, v in clean.items():
        setattr(tier, k, v)
    session.flush()
    audit.record(
        session,
        actor,
        "loyalty_tier.updated",
        "loyalty_tier",
        tier.id,
        {k: str(v) if isinstance(v, Decimal) else v for k, v in clean.items()},
    )
    return tier


def get_tier(session: Session, key: str) -> LoyaltyTier:
    tier = session.scalar(select(LoyaltyTier).where(LoyaltyTier.key == key))
    if tier is None:
        raise LoyaltyNotFound("tier_not_found", f"no tier {key!r}", field="key")
    return tier


def tier_dict(t: LoyaltyTier) -> dict[str, Any]:
    return {
        "key": t.key,
        "name": t.name,
        "name_en": t.name_en,
        "rank": t.rank,
        "threshold": plain_decimal(t.threshold),
        "multiplier": plain_decimal(t.multiplier),
        "upgrade_coupon": t.upgrade_coupon,
        "birthday_coupon": t.birthday_coupon,
        "birthday_points": t.birthday_points,
    }


def qualifying(session: Session, contact_ids: Sequence[int], now: datetime) -> dict[int, Decimal]:
    """Each contact's figure over the window: ¥ spent net of refunds, or points *earned*.

    Points count once they are released (past their refund window: points still refundable do
    not lift a tier), by when they became usable, net of clawbacks in the window; a clawback's
    part taken from an award that does not count (still pending, or voided) is not taken twice."""
    prog = get_programme(session)
    since = now - timedelta(days=prog.tier_window_days)
    out = {cid: Decimal(0) for cid in contact_ids}
    E, W = PointsEntry, aliased(PointsEntry)
    for chunk in chunked(sorted(set(contact_ids))):
        if prog.tier_basis == "spend":
            queries = [
                select(Order.contact_id, func.sum(Order.total - Order.refunded))
                .where(Order.contact_id.in_(chunk), Order.ordered_at >= since, Order.ordered_at <= now)
                .group_by(Order.contact_id)
            ]
        else:
            window = [E.contact_id.in_(chunk), E.created_at >= since, E.created_at <= now]
            queries = [
                select(E.contact_id, func.sum(E.points))
                .where(
                    E.contact_id.in_(chunk),
                    E.kind == "award",
                    E.status != "voided",
                    E.available_at >= since,
                    E.available_at <= now,
                )
                .group_by(E.contact_id),
                select(E.contact_id, func.sum(E.points))
                .where(*window, E.kind == "clawback")
                .group_by(E.contact_id),
                select(E.contact_id, func.sum(PointsDraw.points))
                .join(PointsDraw, PointsDraw.entry_id == E.id)
                .join(W, W.id == PointsDraw.award_id)
                .where(*window, E.kind == "clawback", (W.status == "voided") | (W.available_at > now))
                .group_by(E.contact_id),
            ]
        for q in queries:
            for cid, value in session.execute(q):
                out[cid] += Decimal(value or 0)
    return out


def qualified_tier(tiers: list[LoyaltyTier], value: Decimal) -> LoyaltyTier | None:
    best = None
    for t in tiers:  # by rank, thresholds increasing
        if value >= t.threshold:
            best = t
    return best


def record_change(
    session: Session,
    member: LoyaltyMember,
    to: LoyaltyTier | None,
    kind: str,
    reason: str,
    now: datetime,
    period_days: int,
) -> TierChange:
    change = TierChange(
        contact_id=member.contact_id,
        from_tier_id=member.tier_id,
        to_tier_id=to.id if to else None,
        kind=kind,
        reason=reason,
        at=now,
    )
    session.add(change)
    member.tier_id = to.id if to else None
    member.tier_since = now
    member.tier_review_at = now + timedelta(days=period_days) if to else None
    member.updated_at = now
    return change
