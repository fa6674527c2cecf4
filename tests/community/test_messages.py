"""Group bulk messages: batched per owner (≤ 2,000 chat ids a call), the per-group monthly limit
(days of the Beijing month) honoured before calling WeCom; group welcome templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tests.community.conftest import OWNER
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.messages import GroupMessenger, WelcomeTemplates, month_of
from siyu.community.wecom import CommunityError
from siyu.context import AppContext


def test_monthly_limit_per_group(
    ctx: AppContext, emu: WeComEmulator, groups: GroupWorld, provider: str, deliver: Callable[..., int]
) -> None:
    a = groups.create_group(OWNER, "A")
    b = groups.create_group("lisi", "B")
    deliver()
    feb = datetime(2026, 2, 10, 4, tzinfo=UTC)  # 28 days
    assert month_of(feb) == ("2026-02", 28)
    results = []
    for i in range(29):
        with ctx.db.session() as s:
            chats = [a, b] if i < 20 else [a]
            results.append(GroupMessenger(s, ctx, provider).send({"text": f"第{i}条"}, chats, at=feb))
    # one task per owner while both groups are sent to
    assert [len(r["tasks"]) for r in results[:20]] == [2] * 20
    assert all(r["groups"] == 1 and r["limited"] == [] for r in results[20:28])
    assert results[28] == results[28] | {"groups": 0, "limited": [a], "tasks": []}
    group_calls = [r for r in emu.requests if r.path.endswith("add_msg_template")]
    assert len(group_calls) == 20 * 2 + 8
    # March has 31 days: A can be sent to again
    with ctx.db.session() as s:
        march = GroupMessenger(s, ctx, provider).send(
            {"text": "三月"}, [a], at=datetime(2026, 3, 1, tzinfo=UTC)
        )
    assert march["groups"] == 1


def test_bad_input_is_refused_before_wecom(ctx: AppContext, emu: WeComEmulator, provider: str) -> None:
    with ctx.db.session() as s:
        with pytest.raises(CommunityError, match=r"content\.text"):
            GroupMessenger(s, ctx, provider).send({"text": ""})
        with pytest.raises(CommunityError, match="chat_ids"):
            GroupMessenger(s, ctx, provider).send({"text": "hi"}, [])
    assert not [r for r in emu.requests if r.path.endswith("add_msg_template")]


def test_welcome_templates(ctx: AppContext, groups: GroupWorld, provider: str) -> None:
    with ctx.db.session() as s:
        t = WelcomeTemplates(s, ctx, provider)
        tid = t.add("欢迎 %NICKNAME% 入群")
        t.edit(tid, "欢迎 %NICKNAME%！")
        assert t.get(tid)["text"]["content"] == "欢迎 %NICKNAME%！"
        with pytest.raises(CommunityError, match="bytes"):
            t.add("长" * 1001)
        t.delete(tid)
    assert groups.templates == {}
