"""Segment conditions over customer groups and the pyramid, through the warehouse mirror, on
SQLite and PostgreSQL: "in group X", "joined any group within N days", ``community_role``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from tests.community.conftest import OWNER
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.pyramid import PyramidService
from siyu.context import AppContext
from siyu.segments.schemas import SegmentDefinitionError
from siyu.segments.service import SegmentService
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import CustomerGroup, GroupMember, utcnow
from siyu.warehouse.store import Warehouse


@pytest.fixture
def wh(ctx: AppContext) -> Iterator[Warehouse]:
    warehouse = Warehouse(ctx.settings.resolved_warehouse_path)
    yield warehouse
    warehouse.close()


def members(ctx: AppContext, wh: Warehouse, definition: dict) -> set[int]:
    wh.feed(ctx.db)
    with ctx.db.session() as s:
        p = SegmentService(s, wh).preview(definition, sample=1_000_000)
    assert p.count == len(p.sample)
    return set(p.sample)


def contacts_of(ctx: AppContext, chat_id: str, open_only: bool = True) -> set[int]:
    with ctx.db.session() as s:
        stmt = (
            select(GroupMember.contact_id)
            .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
            .where(CustomerGroup.chat_id == chat_id, GroupMember.contact_id.is_not(None))
        )
        if open_only:
            stmt = stmt.where(GroupMember.left_at.is_(None))
        return set(s.scalars(stmt))


def test_group_and_role_conditions(
    ctx: AppContext, wh: Warehouse, groups: GroupWorld, deliver: Callable[..., int]
) -> None:
    a, b = groups.create_group(OWNER, "A"), groups.create_group(OWNER, "B")
    for i in range(30):
        groups.join(a, f"wm{i:03d}", push=False)
    for i in range(20, 45):
        groups.join(b, f"wm{i:03d}", push=False)
    deliver()
    in_a, in_b = contacts_of(ctx, a), contacts_of(ctx, b)
    assert len(in_a) == 30 and len(in_a & in_b) == 10
    assert members(ctx, wh, {"type": "group", "groups": [a]}) == in_a
    assert members(ctx, wh, {"type": "group"}) == in_a | in_b
    assert members(ctx, wh, {"type": "not", "condition": {"type": "group", "groups": [b]}}) == in_a - in_b
    # ten of A's members joined 10 days ago: "joined any group within 7 days" leaves out those
    # who are in A only
    old = sorted(in_a)[:10]
    with ctx.db.session() as s:
        gid = s.scalar(select(CustomerGroup.id).where(CustomerGroup.chat_id == a))
        s.execute(
            update(GroupMember)
            .where(GroupMember.group_id == gid, GroupMember.contact_id.in_(old))
            .values(joined_at=utcnow() - timedelta(days=10))
        )
        note_changed(s, old)
    recent = members(ctx, wh, {"type": "group", "joined_within_days": 7})
    assert recent == (in_a | in_b) - (set(old) - in_b)
    # someone leaves A: no longer "in group A", and still "joined within 7 days" of A's history
    leaver = sorted(in_a - set(old) - in_b)[0]
    member_id = f"wm{sorted(in_a).index(leaver):03d}"
    groups.leave(a, member_id)
    deliver()
    assert leaver not in members(ctx, wh, {"type": "group", "groups": [a]})
    assert leaver in members(ctx, wh, {"type": "group", "groups": [a], "joined_within_days": 7})
    # the pyramid: five of A's members talk
    talkers = sorted(in_a - {leaver})[:5]
    with ctx.db.session() as s:
        emit_events(
            s,
            "Group Message",
            [(f"gm:{c}:{n}", c, {"chat_id": a}) for i, c in enumerate(talkers) for n in range(10 - i)],
        )
    with ctx.db.session() as s:
        PyramidService(s).run()
    with ctx.db.session() as s:
        pyramid = PyramidService(s)
        brand = {r["contact_id"]: r["role"] for r in pyramid.roles()}
        per_a = {r["contact_id"]: r["role"] for r in pyramid.roles(a)}
    seeds = {c for c, r in brand.items() if r == "seed"}
    assert seeds == {talkers[0]}
    assert members(ctx, wh, {"type": "community_role", "roles": ["seed"]}) == seeds
    assert members(ctx, wh, {"type": "community_role", "roles": ["seed", "koc"], "group": a}) == {
        c for c, r in per_a.items() if r in ("seed", "koc")
    }
    # in B everyone's activity is the one join (same time): ties go to the lower contact id, so
    # the top 10% (3 of 25) are the three lowest ids
    assert members(ctx, wh, {"type": "community_role", "roles": ["member"], "group": b}) == set(
        sorted(in_b)[3:]
    )


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"type": "group", "groups": ["nope"]}, "definition.groups"),
        ({"type": "community_role", "roles": ["seed"], "group": "nope"}, "definition.group"),
    ],
)
def test_unknown_groups_are_errors_naming_the_node(
    ctx: AppContext, wh: Warehouse, definition: dict, path: str
) -> None:
    with ctx.db.session() as s, pytest.raises(SegmentDefinitionError) as err:
        SegmentService(s, wh).preview(definition)
    assert path in str(err.value) and "nope" in str(err.value)


def test_bad_role_is_refused(ctx: AppContext, wh: Warehouse) -> None:
    with ctx.db.session() as s, pytest.raises(SegmentDefinitionError, match="roles"):
        SegmentService(s, wh).preview({"type": "community_role", "roles": ["king"]})
