"""The live leaderboard of a campaign: inviters ranked by qualified friends, then invites, then
who got there first. Names are masked (first character + ``**``: 张**) and phones never shown,
as the board is put in front of customers (posters, groups)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.store.models import ContactAttribute, Referral, ReferralCampaign

NAME_TRAITS = ("name", "nickname", "wecom_name")
_DIGITS = re.compile(r"\d")


def mask_name(name: str | None) -> str | None:
    """张三丰 → 张**; a name made of digits (a phone typed as a name) or an email → None."""
    text = (name or "").strip()
    if not text or "@" in text or len(_DIGITS.findall(text)) >= 4:
        return None
    return text[0] + "**"


def names(session: Session, contact_ids: list[int]) -> dict[int, str]:
    """The contacts' display names (name, nickname or WeCom name, in that order), unmasked."""
    found: dict[int, dict[str, Any]] = {}
    for i in range(0, len(contact_ids), 900):
        rows = session.execute(
            select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                ContactAttribute.contact_id.in_(contact_ids[i : i + 900]),
                ContactAttribute.name.in_(NAME_TRAITS),
            )
        )
        for cid, key, value in rows:
            found.setdefault(cid, {})[key] = value
    out = {}
    for cid, traits in found.items():
        for key in NAME_TRAITS:
            if isinstance(traits.get(key), str) and traits[key].strip():
                out[cid] = traits[key]
                break
    return out


def leaderboard(session: Session, campaign: ReferralCampaign, limit: int = 20) -> list[dict[str, Any]]:
    """Rows ``{"rank", "contact_id", "name" (masked or None), "invites", "qualified"}``; voided
    referrals do not count, flagged ones count as invites but not as qualified."""
    qualified = func.sum(case((Referral.status.in_(("qualified", "approved")), 1), else_=0))
    stmt = (
        select(Referral.inviter_id, func.count(), qualified, func.min(Referral.invited_at))
        .where(Referral.campaign_id == campaign.id, Referral.status != "voided")
        .group_by(Referral.inviter_id)
        .order_by(qualified.desc(), func.count().desc(), func.min(Referral.invited_at), Referral.inviter_id)
        .limit(max(1, min(limit, 500)))
    )
    rows = session.execute(stmt).all()
    shown = names(session, [r[0] for r in rows])
    return [
        {
            "rank": i + 1,
            "contact_id": cid,
            "name": mask_name(shown.get(cid)),
            "invites": int(invites),
            "qualified": int(q or 0),
        }
        for i, (cid, invites, q, _first) in enumerate(rows)
    ]
