"""Referral edges name two contacts (``inviter_id``, ``invitee_id``) and participants are unique
per (campaign, contact), so the generic "move every ``contact_id`` row" of a merge and "delete
every ``contact_id`` row" of an erasure do not fit them. These two functions do, on the tables
alone (profiles and privacy sit below the referrals capability and never import it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, aliased

from siyu.store.dialect import chunked
from siyu.store.models import Referral, ReferralParticipant, ReferralReward


def merge_referrals(session: Session, absorbed_id: int, survivor_id: int) -> None:
    """Move the absorbed contact's participations and edges to the survivor. Where both took
    part in a campaign, the survivor's code stays and the absorbed one's invitees move to it;
    where both were invited in a campaign, the survivor's edge (the first code) stays. An edge
    between the two becomes a self-referral (voided)."""
    mine = aliased(ReferralParticipant)
    for p in list(
        session.scalars(select(ReferralParticipant).where(ReferralParticipant.contact_id == absorbed_id))
    ):
        kept = session.scalar(
            select(mine.id).where(mine.campaign_id == p.campaign_id, mine.contact_id == survivor_id)
        )
        if kept is None:
            p.contact_id = survivor_id
            continue
        session.execute(update(Referral).where(Referral.participant_id == p.id).values(participant_id=kept))
        session.delete(p)
    session.flush()
    session.execute(update(Referral).where(Referral.inviter_id == absorbed_id).values(inviter_id=survivor_id))
    clash = select(Referral.campaign_id).where(Referral.invitee_id == survivor_id)
    dropped = list(
        session.scalars(
            select(Referral.id).where(Referral.invitee_id == absorbed_id, Referral.campaign_id.in_(clash))
        )
    )
    _drop_edges(session, dropped)
    session.execute(update(Referral).where(Referral.invitee_id == absorbed_id).values(invitee_id=survivor_id))
    session.execute(
        update(Referral)
        .where(Referral.inviter_id == Referral.invitee_id, Referral.status != "voided")
        .values(status="voided", void_reason="self_referral")
    )


def _drop_edges(session: Session, ids: Sequence[int]) -> int:
    """Delete edges; the edges below them and rewards they triggered stay, unlinked."""
    n = 0
    for chunk in chunked(list(ids)):
        session.execute(update(Referral).where(Referral.parent_id.in_(chunk)).values(parent_id=None))
        session.execute(
            update(ReferralReward).where(ReferralReward.referral_id.in_(chunk)).values(referral_id=None)
        )
        n += session.execute(delete(Referral).where(Referral.id.in_(chunk))).rowcount
    return n


def erase_referrals(session: Session, ids: Sequence[int]) -> int:
    """Delete every edge naming these contacts (as inviter or invitee), before the generic
    erasure deletes their participations and rewards; returns edges deleted."""
    edges: list[int] = []
    for chunk in chunked(list(ids)):
        edges.extend(
            session.scalars(
                select(Referral.id).where(Referral.inviter_id.in_(chunk) | Referral.invitee_id.in_(chunk))
            )
        )
    return _drop_edges(session, sorted(set(edges)))
