"""The demo brand's referral campaign (issue 18): a 老带新 campaign running for the last 60 days,
so the console's campaign, tree, leaderboard and stats pages have something to show.

About one contact in fifty who was already a customer joins as a seed; customers who arrived
during the campaign were invited by a participant who had joined before them (one in four), and
some of those invite in turn, so the tree has several generations. The edges are written
pending, as attribution leaves them; then the lifecycle job runs once at the demo's end and
decides from the demo's own orders: qualified on the friend's first order within the window,
approved after the 7-day hold, voided on a refund or when the window passed with no order, and
the campaign's gift (a 定制保温杯) paid at each inviter's third approved friend.

Participants and edges get their ids here. Deterministic: one seed, rows in a fixed order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from siyu.referrals.codes import ALPHABET, CODE_LENGTH, state_for
from siyu.referrals.jobs import run_jobs
from siyu.store.bulk import max_id, sync_sequence
from siyu.store.models import Contact, Referral, ReferralCampaign, ReferralParticipant, ReferralReward

KEY = "lao-dai-xin"
DAYS = 60
HOLD_DAYS = 7
MILESTONE = 3


def load(ctx: Any, end: datetime, seed: int) -> dict[str, int]:
    """Write the campaign, its participants, referral edges and rewards; returns counts."""
    rng = np.random.default_rng(seed + 1818)
    start = end - timedelta(days=DAYS)
    with ctx.db.session() as s:
        people = s.execute(
            select(Contact.id, Contact.created_at)
            .where(Contact.merged_into_id.is_(None))
            .order_by(Contact.id)
        ).all()
        campaign = ReferralCampaign(
            key=KEY,
            name="老带新：邀请好友首单",
            kind="first_order",
            status="active",
            starts_at=start,
            target={"event": "Order Completed"},
            rewards=[{"invites": MILESTONE, "side": "inviter", "gift": "定制保温杯"}],
            caps={"per_inviter_total": 5},
            hold_days=HOLD_DAYS,
            settings={"window_days": 14, "void_on_delete_hours": 24, "double_sided": False},
            created_at=start,
            updated_at=start,
        )
        s.add(campaign)
        s.flush()
        cid = campaign.id
        s.commit()
    before = [(int(c), t) for c, t in people if t < start]
    during = sorted(((int(c), t) for c, t in people if start <= t < end), key=lambda x: (x[1], x[0]))
    seeds = [c for i, (c, _) in enumerate(before) if rng.random() < 0.02 or i == 0]
    pid0 = max_id(ctx.db.engine, "referral_participants") + 1
    rid0 = max_id(ctx.db.engine, "referrals") + 1
    participants: list[dict[str, Any]] = []
    joined: list[tuple[int, datetime, int, int]] = []  # (contact, joined_at, participant id, edge id or 0)

    def join(contact: int, at: datetime, edge: int) -> None:
        code = "".join(ALPHABET[int(k)] for k in rng.integers(0, len(ALPHABET), CODE_LENGTH))
        pid = pid0 + len(participants)
        participants.append(
            {"id": pid, "campaign_id": cid, "contact_id": contact, "code": code,
             "state": state_for(cid, code), "joined_at": at}
        )  # fmt: skip
        joined.append((contact, at, pid, edge))

    for c in seeds:
        join(c, start + timedelta(hours=float(rng.uniform(0, 72))), 0)
    edges: list[dict[str, Any]] = []
    generation: dict[int, int] = {}
    for contact, at in during:
        if rng.random() >= 0.25:
            continue
        open_ = [j for j in joined if j[1] < at]
        if not open_:
            continue
        inviter, _, pid, parent = open_[int(rng.integers(0, len(open_)))]
        rid = rid0 + len(edges)
        gen = generation.get(parent, 0) + 1
        generation[rid] = gen
        edges.append(_edge(rid, cid, pid, inviter, contact, parent, gen, at))
        if rng.random() < 0.4:
            join(contact, at, rid)
    with ctx.db.session() as s:
        for model, rows in ((ReferralParticipant, participants), (Referral, edges)):
            for i in range(0, len(rows), 5_000):
                s.execute(insert(model), rows[i : i + 5_000])
        s.commit()
    for table in ("referral_participants", "referrals"):
        sync_sequence(ctx.db.engine, table)
    # the lifecycle job decides, from the demo's own orders and refunds, what it would have:
    # qualified on the first order in the window, approved after the hold, voided on a refund
    # or a window gone by, and the gift paid at each inviter's third approved friend
    moved = run_jobs(ctx.db, now=end, campaign=KEY)
    with ctx.db.session() as s:
        rewards = int(s.scalar(select(func.count()).select_from(ReferralReward)) or 0)
    return {"participants": len(participants), "referrals": len(edges), "rewards": rewards, **moved}


def _edge(
    rid: int, cid: int, pid: int, inviter: int, invitee: int, parent: int, gen: int, at: datetime
) -> dict[str, Any]:
    return {
        "id": rid, "campaign_id": cid, "participant_id": pid, "inviter_id": inviter,
        "invitee_id": invitee, "parent_id": parent or None, "generation": gen, "via": "referral_code",
        "status": "pending", "invited_at": at, "fraud_score": 0, "fraud_reasons": [],
    }  # fmt: skip
