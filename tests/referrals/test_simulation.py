"""Issue 18's must-show simulation: a 任务宝 campaign through the WeCom emulator's callbacks.

1,000 seeds each get their own contact way; every participant invites a number of friends drawn
from a known distribution (seeded RNG) after a drawn delay; each friend's ``add_external_contact``
comes back with the inviter's state, and friends of the first two generations take part in turn,
so the tree has three generations of invitees. Some friends delete the staff member within
hours (``del_follow_user``): those referrals are voided. After the hold every honest referral is
approved and each inviter is rewarded exactly once at each milestone they reached.

The K-factor, generation sizes and cycle time are computed here from the *plan* alone and
compared with simple queries on the referrals table. (Stats belong to the insights helper; the
lead switches this comparison to ``campaign_stats`` at merge.)"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from tests.referrals.conftest import WeCom, in_parallel

from siyu.referrals.service import ReferralService
from siyu.store.models import ContactFollow, Referral, ReferralCampaign, ReferralParticipant, ReferralReward
from siyu.store.models.contacts import Contact

SEEDS = 1_000
GENERATIONS = 3
#: Friends a participant brings (the known invite distribution): mean 0.57, with a tail of
#: enthusiasts who reach both milestones (3 and 10).
INVITES = {0: 0.80, 1: 0.10, 2: 0.04, 3: 0.03, 10: 0.03}
#: Share of friends who delete the staff member within hours of adding.
DELETE_SHARE = 0.08
START = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


@dataclass
class Invite:
    inviter: str  # the inviter's name in the plan ("seed-12", or the friend's external userid)
    friend: str  # the friend's external userid
    generation: int
    at: int  # CreateTime (seconds)
    deletes: bool


def plan(rng: random.Random) -> tuple[list[Invite], dict[str, int]]:
    """Every invite of the campaign, generation by generation; and when each seed joined."""
    sizes, weights = list(INVITES), list(INVITES.values())
    joined = {f"seed-{i}": int(START.timestamp()) + i for i in range(SEEDS)}
    invites: list[Invite] = []
    current = dict(joined)  # participant → when they entered (joined, or were invited)
    for generation in range(1, GENERATIONS + 1):
        nxt: dict[str, int] = {}
        for who, since in current.items():
            for _ in range(rng.choices(sizes, weights)[0]):
                friend = f"wm{generation}x{len(invites):05d}"
                at = since + rng.randint(3_600, 72 * 3_600)  # the friend adds 1–72 h later
                deletes = rng.random() < DELETE_SHARE
                invites.append(Invite(who, friend, generation, at, deletes))
                if not deletes:
                    nxt[friend] = at
        current = nxt
    return invites, joined


def test_simulated_task_campaign(wecom: WeCom, campaign: Callable[..., str]) -> None:
    s, emu, ctx = wecom.client, wecom.emu, wecom.client.ctx
    invites, joined = plan(random.Random(18))
    key = campaign(
        "fission",
        kind="task",
        starts_at=None,
        hold_days=7,
        rewards=[{"invites": 3, "coupon": "ref-a", "value": "20"}, {"invites": 10, "gift": "保温杯"}],
    )

    # seeds: contacts taking part, each with their own contact way at the emulator
    with ctx.db.session() as session:
        seeds = [Contact() for _ in joined]
        session.add_all(seeds)
        session.flush()
        seed_ids = dict(zip(joined, (c.id for c in seeds), strict=True))

    def join(name_contact: tuple[str, int]) -> tuple[str, str]:
        with ctx.db.session() as session:
            svc = ReferralService(session, ctx)
            return name_contact[0], svc.join(svc.get(key), name_contact[1]).state or ""

    states = dict(in_parallel(join, list(seed_ids.items()), wecom.workers))
    assert len(set(states.values())) == SEEDS

    for generation in range(1, GENERATIONS + 1):
        wave = [i for i in invites if i.generation == generation]
        friends = sorted({i.inviter for i in wave} - set(states))  # friends who now invite in turn
        with ctx.db.session() as session:
            ids = dict(
                session.execute(
                    select(ContactFollow.external_userid, ContactFollow.contact_id).where(
                        ContactFollow.external_userid.in_(friends)
                    )
                ).all()
            )
        states.update(in_parallel(join, [(f, ids[f]) for f in friends], wecom.workers))
        events = []
        for i in sorted(wave, key=lambda x: x.at):
            e = emu.customer_adds("zhangsan", i.friend, state=states[i.inviter], welcome=False, push=False)
            events.append(e | {"CreateTime": i.at})
        assert wecom.deliver(events) == {"done": len(events)}
        deletes = []
        for i in (i for i in wave if i.deletes):
            e = emu.customer_deletes_staff("zhangsan", i.friend, push=False)
            deletes.append(e | {"CreateTime": i.at + 2 * 3_600})
        assert wecom.deliver(deletes) == ({"done": len(deletes)} if deletes else {})

    # --- the independent computation, from the plan only -----------------------------------
    inviters = len(states)  # every participant (seeds and the friends who joined in turn)
    brought = [i for i in invites if not i.deletes]  # a friend who deleted the staff is voided
    qualified = len(brought)
    k_plan = round(qualified / inviters, 4)  # invites per inviter × conversion
    gens_plan = [sum(i.generation == g for i in brought) for g in range(1, GENERATIONS + 1)]
    entered = {i.friend: i.at for i in invites}
    delays = [i.at - entered[i.inviter] for i in brought if i.generation > 1]
    cycle_plan = round(sum(delays) / len(delays) / 3600, 2)

    # --- siyu's figures (what `siyu referrals stats CAMPAIGN --json` prints) ----------------
    stats = s.referral_insights.stats(key)
    with ctx.db.session() as session:
        cid = session.scalar(select(ReferralCampaign.id).where(ReferralCampaign.key == key))
        voided = Counter(
            session.scalars(
                select(Referral.void_reason).where(Referral.campaign_id == cid, Referral.status == "voided")
            )
        )
    assert stats["inviters"] == inviters and stats["invites"] == qualified == stats["qualified"]
    assert stats["k_factor"] == k_plan, (stats, k_plan)
    assert stats["generations"] == gens_plan and all(gens_plan)
    assert stats["cycle_time_hours"] == cycle_plan, (stats["cycle_time_hours"], cycle_plan)
    assert voided == Counter({"deleted_staff": sum(i.deletes for i in invites)})

    # --- after the hold: honest referrals approved, rewarded once at each milestone ---------
    last = max(i.at for i in invites)
    after_hold = datetime.fromtimestamp(last, UTC) + timedelta(days=8)
    assert s.referrals.run(now=after_hold)["approve"] == qualified
    s.referrals.run(now=after_hold + timedelta(days=1))  # a second run pays nothing again
    approved = Counter(i.inviter for i in invites if not i.deletes)
    expected = sorted((states[name], m) for name, n in approved.items() for m in (3, 10) if n >= m)
    with ctx.db.session() as session:
        by_state = dict(
            session.execute(select(ReferralParticipant.contact_id, ReferralParticipant.state)).all()
        )
        rows = session.execute(
            select(ReferralReward.contact_id, ReferralReward.milestone, ReferralReward.status)
        ).all()
        flagged = session.scalar(select(func.count()).where(Referral.status == "flagged"))
    assert sorted((by_state[c], m) for c, m, _ in rows) == expected and len(expected) > 20
    assert {st for _, _, st in rows} == {"paid"} and flagged == 0
