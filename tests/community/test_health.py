"""Group health: WeCom's daily statistics in ≤ 30-day calls, per-group figures and score, and
the Group Declining alert (once per group and week)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.community.conftest import OWNER
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.health import SHANGHAI, check_declining, figures, ingest_stats, series
from siyu.community.wecom import CommunityError, api_for
from siyu.context import AppContext
from siyu.store.changes import emit_events
from siyu.store.models import CustomerGroup, Event, GroupDailyStat, GroupMember, utcnow


def test_daily_statistics_are_fetched_in_30_day_spans(
    ctx: AppContext, emu: WeComEmulator, groups: GroupWorld, provider: str, deliver: Callable[..., int]
) -> None:
    groups.create_group(OWNER)
    deliver()
    today = datetime.fromtimestamp(emu.now, SHANGHAI).date()
    for i in range(1, 61):
        groups.set_day_stat(
            OWNER, datetime.combine(today - timedelta(days=i), datetime.min.time()), msg_total=i
        )
    with ctx.db.session() as s:
        written = ingest_stats(s, api_for(s, ctx, provider), provider, days=60, today=today)
    assert written == 120  # 60 days, corp-wide and for the one owner
    calls = [r for r in emu.requests if r.path.endswith("statistic_group_by_day")]
    assert len(calls) == 4  # two owners' scopes × two 30-day spans
    with ctx.db.session() as s:
        assert s.scalar(
            select(func.sum(GroupDailyStat.msg_total)).where(GroupDailyStat.owner_userid == OWNER)
        ) == sum(range(1, 61))
    with ctx.db.session() as s, pytest.raises(CommunityError, match="days"):
        ingest_stats(s, api_for(s, ctx, provider), provider, days=181)


def test_score_and_declining_alert(ctx: AppContext, groups: GroupWorld, deliver: Callable[..., int]) -> None:
    chat = groups.create_group(OWNER, "活跃群")
    for i in range(20):
        groups.join(chat, f"wm{i:02d}", push=False)
    deliver()
    now = utcnow()
    with ctx.db.session() as s:
        group = s.scalar(select(CustomerGroup))
        assert group is not None
        # everyone joined 20 days ago; 6 of 20 spoke every day for the last 14 days
        for m in s.scalars(select(GroupMember).where(GroupMember.member_type == 2)):
            m.joined_at = now - timedelta(days=20)
        contacts = sorted(c for c in s.scalars(select(GroupMember.contact_id)) if c)
        for d in range(14):
            at = now - timedelta(days=d, minutes=5)
            rows = [(f"m:{d}:{c}", c, {"chat_id": chat}) for c in contacts[:6]]
            emit_events(s, "Group Message", rows, at)
    with ctx.db.session() as s:
        group = s.scalar(select(CustomerGroup))
        assert group is not None
        healthy = figures(s, group, now)
        assert (healthy["members"], healthy["speakers_7d"], healthy["silent_days_14d"]) == (20, 6, 0)
        assert healthy["score"] == 100
        assert check_declining(s, now) == []
        assert len(series(s, group, 30, now)) == 30
    # a week later: 4 left, nobody spoke
    later = now + timedelta(days=7)
    with ctx.db.session() as s:
        for m in s.scalars(select(GroupMember).where(GroupMember.member_type == 2).limit(4)):
            m.left_at = now + timedelta(days=1)
    with ctx.db.session() as s:
        group = s.scalar(select(CustomerGroup))
        assert group is not None
        sick = figures(s, group, later)
        # A = 0, R = 0 (4 left, none joined), L = 1 - 7/14 → 15
        assert (sick["members"], sick["leaves_7d"], sick["score"]) == (16, 4, 15)
        alerts = check_declining(s, later)
        assert [(a["chat_id"], a["score"], a["was"]) for a in alerts] == [(chat, 15, 100)]
    with ctx.db.session() as s:
        check_declining(s, later)  # the same week: no second alert
        assert s.scalar(select(func.count()).where(Event.event == "Group Declining")) == 16
