"""The referral lifecycle: pending → qualified (the target done within the window) → approved
(after ``hold_days``, over the refund window) or flagged (strict fraud mode) or voided (a full
refund of the qualifying order, the invitee deleting the staff within ``void_on_delete_hours``,
a self-referral).

Every transition is one conditional UPDATE on the current status, so two workers running the
job at once move each referral once; the rewards an approval pays are then exactly once by
their external ids (``siyu.referrals.rewards``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from siyu.referrals import events as ev
from siyu.referrals.fraud import score_referrals
from siyu.referrals.rewards import lock_participant, pay_for, reverse_for
from siyu.store.models import (
    ContactFollow,
    CustomerGroup,
    Event,
    GroupMember,
    Order,
    Referral,
    ReferralCampaign,
)

BATCH = 500
#: A batch's answer: (referrals moved, the last id seen when the batch was full, else None).
Step = tuple[int, int | None]


def _page(session: Session, q: object, after: int, limit: int) -> tuple[list[Referral], int | None]:
    """One page by id after ``after``: rows that stay where they are (a pending referral whose
    invitee has not ordered yet) must not hide the ones behind them from the next batch."""
    rows = list(session.scalars(q.where(Referral.id > after).order_by(Referral.id).limit(limit)))  # type: ignore[attr-defined]
    return rows, (rows[-1].id if len(rows) == limit else None)


def _move(session: Session, referral: Referral, frm: tuple[str, ...], **values: object) -> bool:
    done = session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.status.in_(frm))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        session.refresh(referral)
    return bool(done)


def void(session: Session, campaign: ReferralCampaign, referral: Referral, reason: str, at: datetime) -> bool:
    """Void the referral (any status but voided) and reverse what its approval paid."""
    if not _move(
        session,
        referral,
        ("pending", "qualified", "approved", "flagged"),
        status="voided",
        voided_at=at,
        void_reason=reason[:32],
    ):
        return False
    reverse_for(session, campaign, referral, at)
    props = {"campaign": campaign.key, "invitee_contact": referral.invitee_id, "reason": reason}
    ev.emit(session, ev.VOIDED, str(referral.id), referral.inviter_id, props, at)
    return True


def _window_end(campaign: ReferralCampaign, referral: Referral) -> datetime | None:
    days = (campaign.settings or {}).get("window_days")
    return referral.invited_at + timedelta(days=int(days)) if days else None


def _target_done(
    session: Session, campaign: ReferralCampaign, r: Referral, end: datetime | None
) -> datetime | None:
    """When the invitee did the campaign's target after the invite (None: not yet). A task or
    group referral that came by code (not by the add or join itself) qualifies once the friend
    follows one of the campaign's staff or is in one of its groups."""
    target = campaign.target or {}
    if campaign.kind == "task":
        q = select(ContactFollow.added_at).where(
            ContactFollow.contact_id == r.invitee_id,
            ContactFollow.staff_userid.in_(list(target.get("staff") or [])),
            ContactFollow.deleted_at.is_(None),
        )
        col = ContactFollow.added_at
    elif campaign.kind == "group":
        q = (
            select(GroupMember.joined_at)
            .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
            .where(
                GroupMember.contact_id == r.invitee_id,
                CustomerGroup.chat_id.in_(list(target.get("chat_ids") or [])),
                GroupMember.left_at.is_(None),
            )
        )
        col = GroupMember.joined_at
    else:
        q = select(Event.timestamp).where(
            Event.contact_id == r.invitee_id, Event.event == str(target.get("event") or "Order Completed")
        )
        col = Event.timestamp
    q = q.where(col >= r.invited_at)
    if end is not None:
        q = q.where(col <= end)
    return session.scalar(q.order_by(col).limit(1))


def qualify_batch(
    session: Session, campaign: ReferralCampaign, now: datetime, after: int = 0, limit: int = BATCH
) -> Step:
    """Pending referrals whose invitee did the target after the invite (within ``window_days``:
    the first order of 老带新, or the add / join for a friend who came by code); pending
    referrals past the window are voided (``expired``)."""
    q = select(Referral).where(Referral.campaign_id == campaign.id, Referral.status == "pending")
    pending, last = _page(session, q, after, limit)
    moved = 0
    for r in pending:
        end = _window_end(campaign, r)
        done_at = _target_done(session, campaign, r, end)
        if done_at is None:
            if end is not None and now > end:
                moved += void(session, campaign, r, "expired", now)
            continue
        if _move(session, r, ("pending",), status="qualified", qualified_at=max(done_at, r.invited_at)):
            moved += 1
            score_referrals(session, campaign, [r], now)
            props = {"campaign": campaign.key, "invitee_contact": r.invitee_id}
            ev.emit(session, ev.QUALIFIED, str(r.id), r.inviter_id, props, now)
    return moved, last


def refunds_batch(
    session: Session, campaign: ReferralCampaign, now: datetime, after: int = 0, limit: int = BATCH
) -> Step:
    """Void ``first_order`` referrals whose qualifying order (the invitee's first order after
    the invite) was refunded in full — also after approval: the reward is then reversed."""
    if campaign.kind != "first_order":
        return 0, None
    first_order = (
        select(Order.status)
        .where(Order.contact_id == Referral.invitee_id, Order.ordered_at >= Referral.invited_at)
        .order_by(Order.ordered_at, Order.id)
        .limit(1)
        .correlate(Referral)
        .scalar_subquery()
    )
    q = select(Referral).where(
        Referral.campaign_id == campaign.id,
        Referral.status.in_(("qualified", "approved", "flagged")),
        first_order == "refunded",
    )
    rows, last = _page(session, q, after, limit)
    return sum(void(session, campaign, r, "refund", now) for r in rows), last


def deletes_batch(
    session: Session, campaign: ReferralCampaign, now: datetime, after: int = 0, limit: int = BATCH
) -> Step:
    """Task referrals whose invitee deleted the staff within ``void_on_delete_hours`` (the
    callback handler does this at once; this catches a callback WeCom lost)."""
    if campaign.kind != "task":
        return 0, None
    hours = timedelta(hours=int((campaign.settings or {}).get("void_on_delete_hours", 24)))
    staff = list((campaign.target or {}).get("staff") or [])
    gone = (
        select(ContactFollow.deleted_at)
        .where(
            ContactFollow.contact_id == Referral.invitee_id,
            ContactFollow.staff_userid.in_(staff),
            ContactFollow.deleted_by == "customer",
            ContactFollow.deleted_at >= Referral.invited_at,
        )
        .correlate(Referral)
    )
    q = select(Referral).where(
        Referral.campaign_id == campaign.id,
        Referral.via == "wecom_add",
        Referral.status != "voided",
        Referral.invited_at >= now - hours - timedelta(days=campaign.hold_days + 1),
        exists(gone),
    )
    rows, last = _page(session, q, after, limit)
    voided = 0
    for r in rows:
        at = session.scalar(
            gone.where(ContactFollow.contact_id == r.invitee_id).order_by(ContactFollow.deleted_at).limit(1)
        )
        if at is not None and at - r.invited_at <= hours:
            voided += void(session, campaign, r, "deleted_staff", at)
    return voided, last


def approve_batch(
    session: Session, campaign: ReferralCampaign, now: datetime, after: int = 0, limit: int = BATCH
) -> Step:
    """Qualified referrals past the hold become approved and pay their rewards."""
    cutoff = now - timedelta(days=campaign.hold_days)
    q = select(Referral).where(
        Referral.campaign_id == campaign.id, Referral.status == "qualified", Referral.qualified_at <= cutoff
    )
    rows, last = _page(session, q, after, limit)
    approved = 0
    # the inviter's participant row is locked before the referral (ascending, so two workers
    # never hold one each and wait for the other's); it serialises milestones and caps
    for r in sorted(rows, key=lambda x: (x.participant_id, x.id)):
        lock_participant(session, r.participant_id)
        if not _move(session, r, ("qualified",), status="approved", approved_at=now):
            continue  # another worker took it
        approved += 1
        props = {"campaign": campaign.key, "invitee_contact": r.invitee_id}
        ev.emit(session, ev.APPROVED, str(r.id), r.inviter_id, props, now)
        pay_for(session, campaign, r, now)
    return approved, last
