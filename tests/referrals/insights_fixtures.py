"""Small builders for the referral-insights tests: campaigns, contacts and referral edges written
straight through the models (the attribution path is helper A's and tested there), and a seeded
honest population to measure false positives against."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from siyu.store.models import Contact, Event, Identity, Referral, ReferralCampaign, ReferralParticipant

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@dataclass
class Builder:
    session: Session
    campaign: ReferralCampaign
    participants: dict[int, ReferralParticipant] = field(default_factory=dict)
    parents: dict[int, Referral] = field(default_factory=dict)  # invitee id → their edge

    def contact(self, created: datetime | None = None, device: str | None = None) -> int:
        c = Contact(created_at=created or T0 - timedelta(days=200))
        self.session.add(c)
        self.session.flush()
        if device:
            self.session.add(Identity(contact_id=c.id, type="app_device_id", lookup=device, value=device))
        return c.id

    def join(self, contact: int, at: datetime) -> ReferralParticipant:
        part = ReferralParticipant(
            campaign_id=self.campaign.id,
            contact_id=contact,
            code=f"c{self.campaign.id}x{contact}",
            joined_at=at,
        )
        self.session.add(part)
        self.session.flush()
        self.participants[contact] = part
        return part

    def invite(
        self,
        inviter: int,
        invitee: int,
        at: datetime,
        device: str | None = None,
        ip: str | None = None,
        status: str = "pending",
        qualified_at: datetime | None = None,
    ) -> Referral:
        part = self.participants.get(inviter)
        if part is None:
            part = ReferralParticipant(
                campaign_id=self.campaign.id,
                contact_id=inviter,
                code=f"c{self.campaign.id}x{inviter}",
                joined_at=at,
            )
            self.session.add(part)
            self.session.flush()
            self.participants[inviter] = part
        parent = self.parents.get(inviter)
        ref = Referral(
            campaign_id=self.campaign.id,
            participant_id=part.id,
            inviter_id=inviter,
            invitee_id=invitee,
            parent_id=parent.id if parent else None,
            generation=(parent.generation + 1) if parent else 1,
            via="wecom_add",
            status=status,
            invited_at=at,
            qualified_at=qualified_at,
            device=device,
            ip=ip,
            fraud_reasons=[],
        )
        self.session.add(ref)
        self.session.flush()
        self.parents[invitee] = ref
        return ref


def make_campaign(
    session: Session, key: str = "spring", mode: str = "strict", **kw: object
) -> ReferralCampaign:
    values: dict[str, object] = dict(
        key=key,
        name="春季老带新",
        kind="first_order",
        status="active",
        fraud_mode=mode,
        fraud_threshold=60,
        target={"event": "Order Completed"},
        rewards=[{"invites": 3, "side": "inviter", "points": 100}],
        caps={},
        settings={"void_on_delete_hours": 24},
        spent=Decimal(0),
        starts_at=T0 - timedelta(days=1),
    )
    values.update(kw)
    campaign = ReferralCampaign(**values)
    session.add(campaign)
    session.flush()
    return campaign


def honest_population(b: Builder, seeds: int = 300, seed: int = 18) -> list[Referral]:
    """Seeds invite friends over days, three generations, each invitee on their own device and
    IP, invites at least an hour apart, most invitees qualified and active afterwards."""
    rng = random.Random(seed)
    made: list[Referral] = []
    frontier = [b.contact(device=f"seed-dev-{i}") for i in range(seeds)]
    serial = 0
    for gen in range(3):
        nxt = []
        for inviter in frontier:
            at = T0 + timedelta(days=gen * 5, hours=rng.randint(0, 48))
            for _ in range(rng.choice((0, 1, 1, 2, 3, 4))):
                serial += 1
                at += timedelta(minutes=rng.randint(61, 600))
                invitee = b.contact(created=at - timedelta(days=rng.randint(0, 400)))
                ref = b.invite(
                    inviter,
                    invitee,
                    at,
                    device=f"hd-{serial}",
                    ip=f"10.{serial // 65536}.{serial // 256 % 256}.{serial % 256}",
                    status="qualified",
                    qualified_at=at + timedelta(hours=3),
                )
                made.append(ref)
                b.session.add(
                    Event(
                        message_id=f"act-{b.campaign.id}-{serial}",
                        contact_id=invitee,
                        type="track",
                        event="Product Viewed",
                        timestamp=at + timedelta(days=1),
                    )
                )
                nxt.append(invitee)
        frontier = nxt
    return made


@dataclass
class SmallTree:
    """The hand-computed tree of tests/referrals/test_metrics.py (see its docstring)."""

    campaign_id: int
    ids: dict[str, int]
    refs: dict[str, int]


def small_tree(session: Session, key: str = "small") -> SmallTree:
    """Seeds A and B join at T0. A → C (+2 h, approved), D (+4 h, qualified), E (+6 h,
    pending); B → F (+10 h, voided); C → G (+8 h, qualified), H (+14 h, flagged);
    G → I (+20 h, approved). Names: A 张三丰, C 李四, G a phone typed as a name."""
    from siyu.store.models import ContactAttribute

    b = Builder(session, make_campaign(session, key=key))
    ids = {n: b.contact() for n in "ABCDEFGHI"}
    b.join(ids["A"], T0)
    b.join(ids["B"], T0)
    refs = {}
    plan = [
        ("A", "C", 2, "approved"),
        ("A", "D", 4, "qualified"),
        ("A", "E", 6, "pending"),
        ("B", "F", 10, "voided"),
        ("C", "G", 8, "qualified"),
        ("C", "H", 14, "flagged"),
        ("G", "I", 20, "approved"),
    ]
    for inviter, invitee, hours, status in plan:
        at = T0 + timedelta(hours=hours)
        done = at + timedelta(hours=1) if status in ("approved", "qualified") else None
        ref = b.invite(ids[inviter], ids[invitee], at, status=status, qualified_at=done)
        refs[invitee] = ref.id
    for letter, name in (("A", "张三丰"), ("C", "李四"), ("G", "13800138000")):
        session.add(ContactAttribute(contact_id=ids[letter], name="name", value=name))
    session.flush()
    return SmallTree(b.campaign.id, ids, refs)
