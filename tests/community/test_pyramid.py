"""The 1% / 9% / 90% pyramid after 30 simulated days of group messages matches a ranking the
test computes on its own from the messages it generated (activity, then earlier last activity,
then contact id), per group and brand-wide, and the brand-wide role tags follow it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from tests.community.conftest import OWNER
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.pyramid import ROLE_TAGS, PyramidService, rank
from siyu.context import AppContext
from siyu.store.changes import emit_events
from siyu.store.models import ContactTag, CustomerGroup, GroupMember, Tag, utcnow


def expected_roles(scores: dict[int, tuple[int, datetime]]) -> dict[int, str]:
    order = sorted(scores, key=lambda c: (-scores[c][0], scores[c][1], c))
    n = len(order)
    seeds, top = math.ceil(n / 100), math.ceil(n / 10)
    return {c: "seed" if i < seeds else "koc" if i < top else "member" for i, c in enumerate(order)}


def test_pyramid_matches_an_independent_ranking(
    ctx: AppContext, groups: GroupWorld, deliver: Callable[..., int]
) -> None:
    rng = random.Random(16)
    a, b = groups.create_group(OWNER, "A群"), groups.create_group(OWNER, "B群")
    members = {a: [f"wm{i:04d}" for i in range(150)], b: [f"wm{i:04d}" for i in range(120, 190)]}
    for chat, ids in members.items():
        for uid in ids:
            groups.join(chat, uid, push=False)
    deliver()  # the two create events reconcile the groups with every member
    with ctx.db.session() as s:
        contact_of = {
            (chat, mid): cid
            for chat, mid, cid in s.execute(
                select(CustomerGroup.chat_id, GroupMember.member_id, GroupMember.contact_id).join(
                    CustomerGroup, CustomerGroup.id == GroupMember.group_id
                )
            )
            if cid is not None
        }
    start = utcnow()
    as_of = start + timedelta(days=30) - timedelta(hours=1)
    # 30 days of messages: a few heavy talkers, a long tail, everyone at least once
    msgs: dict[tuple[str, int], list[datetime]] = {}
    for chat, ids in members.items():
        for uid in ids:
            cid = contact_of[(chat, uid)]
            n = 1 + (rng.randint(40, 90) if rng.random() < 0.03 else int(rng.paretovariate(1.5)))
            msgs[(chat, cid)] = sorted(
                start + timedelta(days=rng.randrange(30), seconds=rng.randrange(1, 80_000)) for _ in range(n)
            )
    # a deliberate tie on activity: the contact whose last message is earlier ranks first
    tie = [contact_of[(a, "wm0001")], contact_of[(a, "wm0002")]]
    msgs[(a, tie[0])] = [start + timedelta(days=3, seconds=s) for s in range(200, 300)]
    msgs[(a, tie[1])] = [start + timedelta(days=2, seconds=s) for s in range(200, 300)]
    by_day: dict[int, list[tuple[str, int, dict]]] = {}
    for (chat, cid), times in msgs.items():
        for i, at in enumerate(times):
            day = int((at - start).total_seconds())
            by_day.setdefault(day, []).append((f"gm:{chat}:{cid}:{i}", cid, {"chat_id": chat, "text": "hi"}))
    with ctx.db.session() as s:
        for offset, rows in by_day.items():
            emit_events(s, "Group Message", rows, start + timedelta(seconds=offset))
    with ctx.db.session() as s:
        result = PyramidService(s).run(as_of)
    assert result["groups"] == 2
    # independent expectation: messages + 1 for each join (the join events lie in the window)
    per_group: dict[str, dict[int, tuple[int, datetime]]] = {a: {}, b: {}}
    brand: dict[int, tuple[int, datetime]] = {}
    for (chat, cid), times in msgs.items():
        per_group[chat][cid] = (len(times) + 1, times[-1].replace(tzinfo=None))
        total, last = brand.get(cid, (0, datetime.min))
        brand[cid] = (total + len(times) + 1, max(last, times[-1].replace(tzinfo=None)))
    with ctx.db.session() as s:
        svc = PyramidService(s)
        for chat in (a, b):
            got = {r["contact_id"]: r["role"] for r in svc.roles(chat)}
            assert got == expected_roles(per_group[chat]), chat
        got_brand = {r["contact_id"]: r["role"] for r in svc.roles()}
        ranked_a = [r["contact_id"] for r in svc.roles(a)]
        held = {
            key: set(
                s.scalars(
                    select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(Tag.key == key)
                )
            )
            for key in ROLE_TAGS.values()
        }
        everyone = svc.everyone()
    assert got_brand == expected_roles(brand)
    assert ranked_a.index(tie[1]) < ranked_a.index(tie[0])
    assert sum(1 for r in got_brand.values() if r == "seed") == math.ceil(len(brand) / 100) == 2
    for role, key in ROLE_TAGS.items():
        assert held[key] == {c for c, r in got_brand.items() if r == role}
    assert everyone["summary"]["seed"] == 2 and len(everyone["contacts"]) == len(brand)
    # a later run where nothing changed moves no tags
    with ctx.db.session() as s:
        assert PyramidService(s).run(as_of)["tags"] == {"changed": 0}


def test_quiet_members_are_never_seeds() -> None:
    ranked = rank({1: (0, None), 2: (0, None), 3: (5, datetime(2026, 1, 1))})
    assert [(r.contact_id, r.role) for r in ranked] == [(3, "seed"), (1, "member"), (2, "member")]
