"""Referral (裂变): campaigns, the participants who invite (each with a personal code), every
inviter → invitee edge with its status and fraud score, and the rewards paid on approval.

The edges form the referral tree: ``parent_id`` is the edge that brought the inviter into the
same campaign, so generations are read without a recursive query (``generation`` is stored)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

Money = Numeric(18, 2)


class ReferralCampaign(Base):
    """A referral campaign. ``kind``: ``task`` (任务宝: the invitee adds staff through the
    inviter's contact way), ``group`` (群裂变: joins a group through the inviter's join way),
    ``first_order`` (老带新: the invitee does a qualifying event, by default the first order).
    ``target``: what qualifies (``{"event": "Order Completed"}``, the staff user ids or the
    group chat ids the codes point at). ``rewards``: milestones ``[{"invites": 3, "side":
    "inviter"|"invitee"|"both", "coupon": key | "points": n | "gift": text}]``. ``caps``:
    ``{"per_inviter_month": n, "per_inviter_total": n}``. ``budget`` caps the reward value paid
    (``spent`` is kept by conditional UPDATE). ``hold_days`` holds a qualified referral over the
    refund window before approval; ``fraud_mode`` ``loose`` marks, ``strict`` holds for review
    above ``fraud_threshold`` (0–100). ``settings``: the rest (void-on-delete days, poster)."""

    __tablename__ = "referral_campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | active | paused | ended
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    target: Mapped[dict] = mapped_column(Json, default=dict)
    rewards: Mapped[list] = mapped_column(Json, default=list)
    caps: Mapped[dict] = mapped_column(Json, default=dict)
    budget: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    spent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    hold_days: Mapped[int] = mapped_column(Integer, default=7)
    fraud_mode: Mapped[str] = mapped_column(String(16), default="loose")
    fraud_threshold: Mapped[int] = mapped_column(Integer, default=60)
    settings: Mapped[dict] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralParticipant(Base):
    """A contact taking part as an inviter: their short ``code`` (the ``?ref=`` value and the
    ``referral_code`` property), and the WeCom ``state`` (≤ 30 chars) of their own contact way
    or join way (``config_id``), which comes back on the add / join callback."""

    __tablename__ = "referral_participants"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("referral_campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str | None] = mapped_column(String(30), unique=True, nullable=True)
    config_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    qr_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    """One inviter → invitee edge. ``status``: ``pending`` → ``qualified`` (target done within
    the window) → ``approved`` (after the hold), or ``flagged`` (fraud score over the threshold
    in strict mode; the review queue) or ``voided`` (``void_reason``: refund, deleted_staff,
    self_referral, fraud, …). ``via``: ``wecom_add``, ``group_join``, ``referral_code``,
    ``link``. ``generation`` is 1 for an invitee of a seed (a participant nobody invited in
    this campaign), 2 for theirs, and so on; ``parent_id`` is the inviter's own edge.
    ``fraud_score`` 0–100 and ``fraud_reasons`` ``[{"code": …, "detail": …}]`` are kept for
    every referral, also when they stay under the threshold. ``device`` / ``ip`` are the
    invitee's, as seen at attribution (for reuse signals)."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("campaign_id", "invitee_id"),
        Index("ix_referrals_inviter", "campaign_id", "inviter_id", "status"),
        Index("ix_referrals_status", "status", "qualified_at"),
        # the fraud pass's reuse lookups at attribution (0023_referral_fraud_indexes)
        Index("ix_referrals_device", "campaign_id", "device"),
        Index("ix_referrals_ip", "campaign_id", "ip"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("referral_campaigns.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("referral_participants.id"))
    inviter_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    invitee_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    via: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    void_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fraud_score: Mapped[int] = mapped_column(Integer, default=0)
    fraud_reasons: Mapped[list] = mapped_column(Json, default=list)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


class ReferralReward(Base):
    """A reward paid (or withheld) for a referral campaign. ``external_id`` makes it idempotent
    (``referral:<campaign>:<contact>:<milestone>:<side>``) and is the same id the coupon or the
    points award carries. ``status``: ``paid``, ``withheld`` (``reason``: cap_month,
    cap_total, budget), ``reversed`` (the referral was voided after payment)."""

    __tablename__ = "referral_rewards"
    __table_args__ = (Index("ix_referral_rewards_contact", "campaign_id", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("referral_campaigns.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), nullable=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    milestone: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(16))  # inviter | invitee
    kind: Mapped[str] = mapped_column(String(16))  # coupon | points | gift
    detail: Mapped[dict] = mapped_column(Json, default=dict)
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="paid")
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
