"""Plain-data views of the programme for the interfaces (CLI, REST, Python, console): a member's
card (tier, number, balances, next expiry, progress to the next tier), their ledger, the member
list. Times are aware UTC datetimes here; each interface formats them (the console in the brand's
time zone)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.loyalty.ledger import E, balances
from siyu.loyalty.programme import get_programme
from siyu.loyalty.tiers import list_tiers, qualifying
from siyu.store.models import LoyaltyMember, LoyaltyTier


def _tier(t: LoyaltyTier | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "key": t.key,
        "name": t.name,
        "name_en": t.name_en,
        "rank": t.rank,
        "multiplier": str(t.multiplier),
    }


def balance_dict(session: Session, contact_id: int, now: datetime) -> dict[str, Any]:
    """The contract's balance: ``active``, ``pending``, ``spent``, ``expired``, ``negative``,
    ``tier`` (its key, None for a non-member or a member without a tier) and more."""
    bal = balances(session, [contact_id], now)[contact_id]
    member = session.get(LoyaltyMember, contact_id)
    tier = session.get(LoyaltyTier, member.tier_id) if member and member.tier_id else None
    return {
        **bal.as_dict(),
        "tier": tier.key if tier else None,
        "member_no": member.member_no if member else None,
    }


def card(session: Session, contact_id: int, now: datetime) -> dict[str, Any]:
    """The member card on the profile: None-valued ``member`` for a contact who has not enrolled
    (their points, if any, still show)."""
    member = session.get(LoyaltyMember, contact_id)
    bal = balances(session, [contact_id], now)[contact_id]
    out: dict[str, Any] = {
        "contact_id": contact_id,
        "member": None,
        "balance": bal.as_dict(),
        "progress": None,
    }
    if member is None:
        return out
    tiers = list_tiers(session)
    current = next((t for t in tiers if t.id == member.tier_id), None)
    out["member"] = {
        "member_no": member.member_no,
        "status": member.status,
        "source": member.source,
        "enrolled_at": member.enrolled_at,
        "tier": _tier(current),
        "tier_since": member.tier_since,
        "tier_review_at": member.tier_review_at,
    }
    prog = get_programme(session)
    figure = qualifying(session, [contact_id], now)[contact_id]
    higher = [t for t in tiers if current is None or t.rank > current.rank]
    nxt = higher[0] if higher else None
    out["progress"] = {
        "basis": prog.tier_basis,
        "window_days": prog.tier_window_days,
        "figure": str(figure),
        "next_tier": _tier(nxt),
        "needed": str(max(Decimal(0), nxt.threshold - figure)) if nxt else None,
    }
    return out


def entry_dict(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "points": e.points,
        "remaining": e.remaining,
        "status": e.status,
        "source": e.source,
        "reason": e.reason,
        "external_id": e.external_id,
        "order_id": e.order_id,
        "created_at": e.created_at,
        "available_at": e.available_at,
        "expires_at": e.expires_at,
        "shortfall": e.shortfall,
        "actor": e.actor,
    }


def ledger_rows(
    session: Session, contact_id: int, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Newest first; each award shows its expiry and what is left of it."""
    rows = session.scalars(
        select(E)
        .where(E.contact_id == contact_id)
        .order_by(E.created_at.desc(), E.id.desc())
        .limit(max(1, min(limit, 1000)))
        .offset(max(0, offset))
    )
    return [entry_dict(e) for e in rows]


def members(
    session: Session, now: datetime, *, tier: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of members, newest first, with their tier and balances."""
    tiers = {t.id: t for t in list_tiers(session)}
    q = select(LoyaltyMember)
    if tier:
        wanted = next((t.id for t in tiers.values() if t.key == tier), -1)
        q = q.where(LoyaltyMember.tier_id == wanted)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = list(
        session.scalars(
            q.order_by(LoyaltyMember.enrolled_at.desc(), LoyaltyMember.contact_id.desc())
            .limit(max(1, min(limit, 500)))
            .offset(max(0, offset))
        )
    )
    bals = balances(session, [m.contact_id for m in page], now)
    return {
        "total": int(total),
        "members": [
            {
                "contact_id": m.contact_id,
                "member_no": m.member_no,
                "status": m.status,
                "tier": _tier(tiers.get(m.tier_id)) if m.tier_id else None,
                "enrolled_at": m.enrolled_at,
                "tier_review_at": m.tier_review_at,
                **{
                    k: v
                    for k, v in bals[m.contact_id].as_dict().items()
                    if k in ("active", "pending", "negative")
                },
            }
            for m in page
        ],
    }
