"""Attribution: an invitee reaches a participant's code (a WeCom add through their contact way,
a group join through their live code, or a ``referral_code`` on an identify/track call) and
becomes a referral edge.

First code wins: the edge is inserted with ``ON CONFLICT DO NOTHING`` on (campaign, invitee), so
two workers attributing the same invitee at once on PostgreSQL leave one edge, and a later code
changes nothing. A self-referral (the invitee is the inviter, or merged into them, or arrives on
the inviter's own device) is kept as a voided edge, visible to review, paying nothing.

The WeCom handlers run after the customers / community handlers of the same callback (see
``siyu.wecom.callbacks.HANDLERS``), so the contact is already resolved."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.referrals import events as ev
from siyu.referrals.fraud import score_referrals
from siyu.referrals.service import ReferralService
from siyu.store.dialect import insert_ignore
from siyu.store.models import (
    ContactFollow,
    CustomerGroup,
    GroupMember,
    Referral,
    ReferralCampaign,
    ReferralParticipant,
    utcnow,
)

if TYPE_CHECKING:
    from siyu.context import AppContext

VIA_ADD, VIA_JOIN, VIA_CODE = "wecom_add", "group_join", "referral_code"


def _live(campaign: ReferralCampaign, at: datetime) -> bool:
    if campaign.status != "active":
        return False
    if campaign.starts_at is not None and at < campaign.starts_at:
        return False
    return campaign.ends_at is None or at < campaign.ends_at


def next_milestone(campaign: ReferralCampaign, invites: int) -> int | None:
    steps = sorted(int(r["invites"]) for r in campaign.rewards or [] if r.get("side") in ("inviter", "both"))
    return next((s for s in steps if s > invites), None)


def _is_self(
    session: Session, inviter_id: int, invitee_id: int, device: str | None, campaign_id: int
) -> bool:
    if inviter_id == invitee_id:
        return True
    if device:  # the invitee's device is the one the inviter themself arrived on
        own = session.scalar(
            select(Referral.device).where(
                Referral.campaign_id == campaign_id, Referral.invitee_id == inviter_id
            )
        )
        if own and own == device:
            return True
    return False


def attribute(
    session: Session,
    participant: ReferralParticipant,
    invitee_id: int,
    via: str,
    at: datetime,
    *,
    device: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Referral | None:
    """The edge participant → invitee, or None when the campaign is not running or the invitee
    already has an edge in it (first code wins). Task and group campaigns qualify on the add or
    join itself; ``first_order`` edges wait for the target event (the lifecycle job)."""
    now = now or utcnow()
    campaign = session.get(ReferralCampaign, participant.campaign_id)
    if campaign is None or not _live(campaign, at):
        return None
    inviter = participant.contact_id
    parent = session.scalar(
        select(Referral).where(Referral.campaign_id == campaign.id, Referral.invitee_id == inviter)
    )
    self_ref = _is_self(session, inviter, invitee_id, device, campaign.id)
    qualifies_now = (campaign.kind == "task" and via == VIA_ADD) or (
        campaign.kind == "group" and via == VIA_JOIN
    )
    row = {
        "campaign_id": campaign.id,
        "participant_id": participant.id,
        "inviter_id": inviter,
        "invitee_id": invitee_id,
        "parent_id": parent.id if parent else None,
        "generation": (parent.generation + 1) if parent else 1,
        "via": via,
        "status": "voided" if self_ref else ("qualified" if qualifies_now else "pending"),
        "invited_at": at,
        "qualified_at": at if qualifies_now and not self_ref else None,
        "voided_at": now if self_ref else None,
        "void_reason": "self_referral" if self_ref else None,
        "fraud_score": 0,
        "fraud_reasons": [],
        "device": (device or None) and str(device)[:128],
        "ip": (ip or None) and str(ip)[:64],
    }
    if not insert_ignore(session, Referral.__table__, [row], ("campaign_id", "invitee_id")):
        return None  # first code wins
    referral = session.scalars(
        select(Referral).where(Referral.campaign_id == campaign.id, Referral.invitee_id == invitee_id)
    ).one()
    score_referrals(session, campaign, [referral], now)
    invites = int(
        session.scalar(
            select(func.count()).where(
                Referral.campaign_id == campaign.id,
                Referral.inviter_id == inviter,
                Referral.status != "voided",
            )
        )
        or 0
    )
    nxt = next_milestone(campaign, invites)
    props: dict[str, Any] = {
        "campaign": campaign.key,
        "invitee_contact": invitee_id,
        "via": via,
        "invites": invites,
        "next_milestone": nxt,
        "remaining": None if nxt is None else nxt - invites,
    }
    ev.emit(session, ev.INVITED, str(referral.id), inviter, props, at)
    if referral.status == "voided":
        ev.emit(
            session,
            ev.VOIDED,
            str(referral.id),
            inviter,
            {"campaign": campaign.key, "reason": "self_referral"},
            at,
        )
    elif referral.status == "qualified":
        ev.emit(
            session,
            ev.QUALIFIED,
            str(referral.id),
            inviter,
            {"campaign": campaign.key, "invitee_contact": invitee_id},
            at,
        )
    return referral


def attribute_code(
    session: Session,
    code: str,
    invitee_id: int,
    at: datetime,
    *,
    device: str | None = None,
    ip: str | None = None,
) -> Referral | None:
    participant = ReferralService(session).by_code(code)
    if participant is None:
        return None
    return attribute(session, participant, invitee_id, VIA_CODE, at, device=device, ip=ip)


# --- WeCom callbacks -------------------------------------------------------------------------
def _event_at(event: dict[str, Any]) -> datetime:
    from siyu.wecom.customers import event_time

    return event_time(event)


def handle_add_external_contact(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """A customer added staff through a participant's contact way (State = their state)."""
    participant = ReferralService(session).by_state(str(event.get("State") or ""))
    if participant is None:
        return
    follow = session.scalar(
        select(ContactFollow).where(
            ContactFollow.provider_key == provider_key,
            ContactFollow.staff_userid == str(event.get("UserID") or ""),
            ContactFollow.external_userid == str(event.get("ExternalUserID") or ""),
        )
    )
    if follow is not None:
        attribute(session, participant, follow.contact_id, VIA_ADD, _event_at(event))


def handle_change_external_chat(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """Members joined a group through a participant's live code: the community handler has
    reconciled the group, and each member row carries the state they came through."""
    if event.get("UpdateDetail") != "add_member":
        return
    members = event.get("MemChangeList") or []
    ids = [str(m) for m in (members if isinstance(members, list) else [members])]
    if not ids:
        return
    rows = session.execute(
        select(GroupMember.contact_id, GroupMember.state)
        .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
        .where(
            CustomerGroup.provider_key == provider_key,
            CustomerGroup.chat_id == str(event.get("ChatId") or ""),
            GroupMember.member_id.in_(ids),
            GroupMember.state.is_not(None),
            GroupMember.contact_id.is_not(None),
        )
    ).all()
    service = ReferralService(session)
    at = _event_at(event)
    for contact_id, state in rows:
        participant = service.by_state(str(state))
        if participant is not None:
            attribute(session, participant, int(contact_id), VIA_JOIN, at)


def handle_del_follow_user(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """The customer deleted the staff member: a task referral of theirs younger than the
    campaign's ``void_on_delete_hours`` is voided (``deleted_staff``)."""
    from siyu.referrals.lifecycle import void

    follow = session.scalar(
        select(ContactFollow).where(
            ContactFollow.provider_key == provider_key,
            ContactFollow.staff_userid == str(event.get("UserID") or ""),
            ContactFollow.external_userid == str(event.get("ExternalUserID") or ""),
        )
    )
    if follow is None:
        return
    at = _event_at(event)
    rows = session.execute(
        select(Referral, ReferralCampaign)
        .join(ReferralCampaign, ReferralCampaign.id == Referral.campaign_id)
        .where(
            Referral.invitee_id == follow.contact_id,
            Referral.via == VIA_ADD,
            Referral.status != "voided",
        )
    ).all()
    for referral, campaign in rows:
        hours = int((campaign.settings or {}).get("void_on_delete_hours", 24))
        if at - referral.invited_at <= timedelta(hours=hours):
            void(session, campaign, referral, "deleted_staff", at)
