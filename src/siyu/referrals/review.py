"""The fraud review queue: flagged referrals with their reasons, and an operator's decision.

Approving returns the referral to the path it left: ``qualified`` when its target was done
(the hold job approves it and pays after the hold, so a reviewed referral is paid exactly like
any other), else ``pending``. Voiding ends it with a reason. Both are conditional UPDATEs on
``status = 'flagged'``, so two operators deciding the same referral at once cannot both win,
and both are audited like other operator actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.audit.service import record
from siyu.store.changes import emit_events
from siyu.store.models import Referral, ReferralCampaign

#: Reasons an operator may give for voiding (stored in ``void_reason``; labels in the console).
VOID_REASONS = ("fraud", "self_referral", "deleted_staff", "duplicate", "other")


class ReviewError(ValueError):
    """A refused decision; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ReviewNotFound(LookupError):
    pass


def flagged(
    session: Session, campaign: ReferralCampaign | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[tuple[Referral, str]]]:
    """(total, page) of flagged referrals, highest score first; each with its campaign key."""
    cond = [Referral.status == "flagged"]
    if campaign is not None:
        cond.append(Referral.campaign_id == campaign.id)
    total = session.scalar(select(func.count()).select_from(Referral).where(*cond)) or 0
    rows = session.execute(
        select(Referral, ReferralCampaign.key)
        .join(ReferralCampaign, ReferralCampaign.id == Referral.campaign_id)
        .where(*cond)
        .order_by(Referral.fraud_score.desc(), Referral.id)
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    ).all()
    return int(total), [(r, key) for r, key in rows]


def _get(session: Session, referral_id: int) -> Referral:
    ref = session.get(Referral, referral_id)
    if ref is None:
        raise ReviewNotFound(f"referral {referral_id} not found")
    return ref


def _decide(session: Session, ref: Referral, values: dict[str, Any]) -> None:
    done = session.execute(
        update(Referral)
        .where(Referral.id == ref.id, Referral.status == "flagged")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(ref)
        raise ReviewError("status", f"referral {ref.id} is {ref.status}, not flagged (already reviewed?)")
    session.refresh(ref)


def approve(
    session: Session, referral_id: int, actor: str, now: datetime, note: str | None = None
) -> Referral:
    """Clear a flagged referral: back to ``qualified`` (target done) or ``pending``."""
    ref = _get(session, referral_id)
    back = "qualified" if ref.qualified_at is not None else "pending"
    _decide(session, ref, {"status": back, "reviewed_by": actor[:120]})
    record(
        session,
        actor,
        "referral.approved",
        "referral",
        ref.id,
        {
            "status": back,
            "score": ref.fraud_score,
            "reasons": [r.get("code") for r in ref.fraud_reasons],
            "note": note,
        },
    )
    return ref


def void(
    session: Session, referral_id: int, reason: str, actor: str, now: datetime, note: str | None = None
) -> Referral:
    """Void a flagged referral with one of ``VOID_REASONS``; emits ``Referral Voided`` on the
    inviter (journeys may tell them why their friend did not count)."""
    if reason not in VOID_REASONS:
        raise ReviewError("reason", f"must be one of {', '.join(VOID_REASONS)}, got {reason!r}")
    ref = _get(session, referral_id)
    _decide(
        session,
        ref,
        {"status": "voided", "void_reason": reason, "voided_at": now, "reviewed_by": actor[:120]},
    )
    record(
        session,
        actor,
        "referral.voided",
        "referral",
        ref.id,
        {"reason": reason, "score": ref.fraud_score, "note": note},
    )
    campaign = session.get(ReferralCampaign, ref.campaign_id)
    emit_events(
        session,
        "Referral Voided",
        [
            (
                f"referral-voided:{ref.id}:{ref.inviter_id:012d}",
                ref.inviter_id,
                {
                    "campaign": campaign.key if campaign else None,
                    "invitee_contact": ref.invitee_id,
                    "reason": reason,
                    "referral": ref.id,
                },
            )
        ],
        at=now,
    )
    return ref
