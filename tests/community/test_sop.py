"""Group SOP: steps due N Beijing days after a group is created or put on a live code, and
schedules; one task per owner per step; the monthly limit; nothing sent twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from tests.community.conftest import OWNER
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.join_ways import JoinWayService
from siyu.community.sop import GroupSopService
from siyu.community.wecom import CommunityError
from siyu.context import AppContext
from siyu.store.models import CustomerGroup, GroupJoinWayChange, GroupMessageSend, GroupSop, GroupSopRun

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing


def texts_sent(emu: WeComEmulator) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.text, tuple(t.targets)) for t in emu.tasks.values() if t.chat_type == "group"]


def run(ctx: AppContext, at: datetime) -> dict[str, int]:
    with ctx.db.session() as s:
        return GroupSopService(s, ctx).run_due(at)


def test_created_and_joined_code_triggers(
    ctx: AppContext, emu: WeComEmulator, groups: GroupWorld, provider: str, deliver: Callable[..., int]
) -> None:
    with ctx.db.session() as s:
        svc = GroupSopService(s, ctx)
        svc.create("new-group", "新群三天", provider, "group_created", [
            {"day": 0, "at": "20:00", "text": "欢迎来到新群"},
            {"day": 2, "at": "09:30", "text": "第三天：群规"},
        ])  # fmt: skip
        s.execute(update(GroupSop).values(created_at=T0 - timedelta(days=1)))
    a = groups.create_group(OWNER, "A")
    b = groups.create_group("lisi", "B")
    deliver()
    with ctx.db.session() as s:
        s.execute(update(CustomerGroup).values(created_at=T0))
    assert run(ctx, T0 + timedelta(hours=2)) == {"enrolled": 4, "sent": 0, "limited": 0, "failed": 0}
    assert run(ctx, T0 + timedelta(hours=11))["sent"] == 2  # 20:00 Beijing, day 0
    assert sorted(texts_sent(emu)) == [("欢迎来到新群", (a,)), ("欢迎来到新群", (b,))]  # one task per owner
    assert run(ctx, T0 + timedelta(hours=12))["sent"] == 0  # nothing twice
    assert run(ctx, T0 + timedelta(days=2, hours=1))["sent"] == 2
    # joined_code: a series for every group a live code fills, from when it was put on the code
    with ctx.db.session() as s:
        JoinWayService(s, ctx).create(provider, "码", "code-a", [a], room_base_name="A群")
        s.execute(update(GroupJoinWayChange).values(added_at=T0 + timedelta(days=3)))
        GroupSopService(s, ctx).create(
            "code-series",
            "活码群",
            provider,
            "joined_code",
            [{"day": 1, "at": "10:00", "text": "活码群第二天"}],
            "code-a",
        )
    assert run(ctx, T0 + timedelta(days=4, hours=2)) == {"enrolled": 1, "sent": 1, "limited": 0, "failed": 0}
    assert ("活码群第二天", (a,)) in texts_sent(emu)


def test_weekly_schedule_and_the_monthly_limit(
    ctx: AppContext, emu: WeComEmulator, groups: GroupWorld, provider: str, deliver: Callable[..., int]
) -> None:
    a = groups.create_group(OWNER, "A")
    deliver()
    with ctx.db.session() as s:
        GroupSopService(s, ctx).create(
            "monday",
            "周一活动",
            provider,
            "schedule",
            [{"every": "week", "weekday": 1, "at": "09:00", "text": "周一"}],
        )
        s.execute(update(GroupSop).values(created_at=T0 - timedelta(days=1)))
        gid = s.scalar(select(CustomerGroup.id))
        # A had all of March's 31 bulk messages already
        s.add_all(
            [GroupMessageSend(group_id=gid, msgid=f"m{i}", month="2026-03", sent_at=T0) for i in range(31)]
        )
    assert run(ctx, T0 + timedelta(minutes=5)) == {"enrolled": 1, "sent": 0, "limited": 1, "failed": 0}
    assert texts_sent(emu) == []
    assert run(ctx, T0 + timedelta(days=1))["enrolled"] == 0  # Tuesday: no occurrence
    assert run(ctx, T0 + timedelta(days=7, minutes=5))["limited"] == 1  # still March
    # Monday 6 April (a new month); the missed Monday 30 March lies beyond the catch-up window
    assert run(ctx, T0 + timedelta(days=35, minutes=5)) == {
        "enrolled": 1,
        "sent": 1,
        "limited": 0,
        "failed": 0,
    }
    with ctx.db.session() as s:
        statuses = sorted(s.scalars(select(GroupSopRun.status)))
    assert statuses == ["limited", "limited", "sent"]
    assert texts_sent(emu) == [("周一", (a,))]


@pytest.mark.parametrize(
    ("trigger", "steps", "message"),
    [
        ("later", [{"day": 0, "at": "09:00", "text": "x"}], "trigger"),
        ("group_created", [{"day": 0, "at": "9点", "text": "x"}], r"steps\[0\]\.at"),
        ("group_created", [{"day": 0, "at": "09:00", "text": ""}], r"steps\[0\]\.text"),
        ("schedule", [{"every": "month", "at": "09:00", "text": "x"}], r"steps\[0\]\.every"),
    ],
)
def test_bad_plans_are_refused(
    ctx: AppContext, provider: str, trigger: str, steps: list, message: str
) -> None:
    with ctx.db.session() as s, pytest.raises(CommunityError, match=message):
        GroupSopService(s, ctx).create("bad", "x", provider, trigger, steps)
