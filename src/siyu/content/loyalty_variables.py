"""Template variables from the loyalty programme and coupons, loaded for a whole send batch (five
queries per chunk of contacts, never one per contact):

``points``              the active points balance (``siyu.loyalty.ledger.balances`` at send
                        time: what ``siyu loyalty balance`` shows); a contact who is neither a
                        member nor has ledger rows keeps the older trait ``points``
``tier``                the member's tier name (Chinese ``name``; templates carry no language,
                        so an English template uses ``tier_en``); None for non-members
``tier_en``             the tier's English name (else its Chinese name)
``member_no``           the member number (会员号)
``coupon``              in a journey, the coupon its ``issue_coupon`` step gave this enrolment;
                        otherwise the latest issued coupon that is still usable (issued, not
                        redeemed, not expired; the newest by issue time): ``coupon.code``,
                        ``coupon.expires_at`` (readable, in the brand's time zone:
                        ``2026-12-31 23:59``; "" when it never expires), ``coupon.expires_iso``
                        (for ``| date("%m月%d日")``), ``coupon.template``, ``coupon.name``;
                        None when the contact holds none
``points_expiring``     the points of the next expiry (active awards expiring on the earliest
                        upcoming date, summed over that brand-local day), else 0
``points_expiring_at``  that date, readable in the brand's zone (``2026-12-31``), else None

The expiry-reminder SOP ("您有 {{ points_expiring }} 积分将于 {{ points_expiring_at }} 过期")
reads the last two; the ``Points Expiring`` event's properties say the same for its award.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu.loyalty.ledger import balances
from siyu.store.dialect import chunked
from siyu.store.models import Coupon, CouponTemplate, LoyaltyMember, LoyaltyTier, PointsEntry, utcnow

READABLE = "%Y-%m-%d %H:%M"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def loyalty_variables(
    session: Session, contact_ids: list[int], zone: str, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """``{contact_id: {points?, tier, tier_en, member_no, coupon, points_expiring, …}}``;
    ``points`` is present only for contacts with ledger rows (the caller falls back)."""
    now = now or utcnow()
    tz = ZoneInfo(zone)
    ids = sorted(set(contact_ids))
    out: dict[int, dict[str, Any]] = {
        cid: {
            "tier": None,
            "tier_en": None,
            "member_no": None,
            "coupon": None,
            "points_expiring": 0,
            "points_expiring_at": None,
        }
        for cid in ids
    }
    for chunk in chunked(ids):
        for cid, no, name, name_en in session.execute(
            select(LoyaltyMember.contact_id, LoyaltyMember.member_no, LoyaltyTier.name, LoyaltyTier.name_en)
            .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyMember.tier_id)
            .where(LoyaltyMember.contact_id.in_(chunk))
        ):
            out[cid].update(member_no=no, tier=name, tier_en=name_en or name)
        members = {cid for cid in chunk if out[cid]["member_no"] is not None}
        for cid, b in balances(session, chunk, now).items():
            if cid in members or any((b.active, b.pending, b.spent, b.expired, b.negative, b.earned)):
                out[cid]["points"] = b.active  # the ledger's balance at ``now``
        _expiring(session, chunk, out, now, tz)
        _coupons(session, chunk, out, now, tz)
    return out


def _expiring(
    session: Session, chunk: list[int], out: dict[int, dict[str, Any]], now: datetime, tz: ZoneInfo
) -> None:
    rows = session.execute(
        select(PointsEntry.contact_id, PointsEntry.expires_at, PointsEntry.remaining)
        .where(
            PointsEntry.contact_id.in_(chunk),
            PointsEntry.kind == "award",
            PointsEntry.status == "active",
            PointsEntry.remaining > 0,
            PointsEntry.expires_at > now,
        )
        .order_by(PointsEntry.contact_id, PointsEntry.expires_at)
    )
    first: dict[int, date] = {}
    for cid, at, remaining in rows:
        day = _aware(at).astimezone(tz).date()
        if first.setdefault(cid, day) == day:
            out[cid]["points_expiring"] += int(remaining)
            out[cid]["points_expiring_at"] = day.isoformat()


def _coupons(
    session: Session, chunk: list[int], out: dict[int, dict[str, Any]], now: datetime, tz: ZoneInfo
) -> None:
    rows = session.execute(
        select(Coupon.contact_id, Coupon.code, Coupon.expires_at, CouponTemplate.key, CouponTemplate.name)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(
            Coupon.contact_id.in_(chunk),
            Coupon.status == "issued",
            or_(Coupon.expires_at.is_(None), Coupon.expires_at > now),
        )
        .order_by(Coupon.contact_id, Coupon.issued_at.desc(), Coupon.id.desc())
    )
    for cid, code, expires, key, name in rows:
        if out[cid]["coupon"] is None:  # the newest came first
            out[cid]["coupon"] = coupon_view(code, expires, tz, key, name)


def coupon_view(
    code: str, expires: datetime | None, tz: ZoneInfo, template: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """The ``coupon`` variable: its expiry readable in the brand's zone ``tz``."""
    local = _aware(expires).astimezone(tz) if expires is not None else None
    return {
        "code": code,
        "expires_at": local.strftime(READABLE) if local else "",
        "expires_iso": local.isoformat() if local else None,
        "template": template,
        "name": name,
    }
