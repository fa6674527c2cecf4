"""Group live codes: a customer joins through a code (its state is on the membership and counted
as a join of the code); at 480 members the group is swapped out with update_join_way, and a group
WeCom creates for the code (auto_create_room) is brought in; history records each period."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from tests.community.conftest import OWNER
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.join_ways import JoinWayService
from siyu.community.wecom import CommunityError
from siyu.context import AppContext
from siyu.store.models import Event, GroupMember


def create(ctx: AppContext, provider: str, chats: list[str], **kw: object) -> dict:
    with ctx.db.session() as s:
        svc = JoinWayService(s, ctx)
        row = svc.create(provider, "春季群活码", "spring-group", chats, room_base_name="春季福利群", **kw)
        return svc.describe(row)


def test_join_through_a_live_code_then_swap_at_480(
    ctx: AppContext, emu: WeComEmulator, groups: GroupWorld, provider: str, deliver: Callable[..., int]
) -> None:
    first, second = groups.create_group(OWNER, "春季福利群1"), groups.create_group(OWNER, "春季福利群2")
    deliver()
    code = create(ctx, provider, [first, second], room_base_id=2)
    assert code["qr_code"] and code["config_id"] in groups.join_ways
    joined = groups.scan(code["config_id"], "wmSPRING", unionid="unSPRING")
    assert joined == first
    deliver()
    with ctx.db.session() as s:
        m = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmSPRING"))
        assert m is not None and m.state == "spring-group" and m.contact_id is not None
        ev = s.scalar(select(Event).where(Event.event == "Group Joined", Event.contact_id == m.contact_id))
        assert ev is not None and ev.properties["state"] == "spring-group"
        assert JoinWayService(s, ctx).describe(JoinWayService(s, ctx).get("spring-group"))["joins"] == 1
    # 476 + 1 more join the first group: 479 members with the owner and our customer -> not yet full
    groups.fill(first, 476)
    groups.join(first, "wmLAST1")
    deliver()
    with ctx.db.session() as s:
        assert JoinWayService(s, ctx).swap_full() == []
    groups.join(first, "wmLAST2")  # 480
    deliver()
    updates = [r for r in emu.requests if r.path.endswith("/update_join_way")]
    with ctx.db.session() as s:
        changed = JoinWayService(s, ctx).swap_full()
    assert changed == [{"state": "spring-group", "removed": [first], "added": []}]
    assert len([r for r in emu.requests if r.path.endswith("/update_join_way")]) == len(updates) + 1
    assert groups.join_ways[code["config_id"]]["chat_id_list"] == [second]
    # the next scan lands in the second group; when it is full too, WeCom opens 春季福利群3
    assert groups.scan(code["config_id"], "wmNEXT") == second
    groups.fill(second, 498)  # 500: WeCom admits no one more
    third = groups.scan(code["config_id"], "wmAFTER")
    assert groups.groups[third].name == "春季福利群3"
    deliver()
    with ctx.db.session() as s:
        svc = JoinWayService(s, ctx)
        changed = svc.swap_full()
        assert changed == [{"state": "spring-group", "removed": [second], "added": [third]}]
        info = svc.describe(svc.get("spring-group"))
    assert info["chat_ids"] == [third]
    history = {(h["chat_id"], h["reason"]) for h in info["history"]}
    assert history == {(first, "full"), (second, "full"), (third, None)}
    assert info["joins"] == 3


@pytest.mark.parametrize(
    ("chats", "state", "message"),
    [
        ([], "ok", "chat_ids"),
        (["a", "b", "c", "d", "e", "f"], "ok", "chat_ids"),
        (["a"], "x" * 31, "state"),
    ],
)
def test_bad_live_codes_are_refused_before_wecom(
    ctx: AppContext, emu: WeComEmulator, provider: str, chats: list[str], state: str, message: str
) -> None:
    with ctx.db.session() as s, pytest.raises(CommunityError, match=message):
        JoinWayService(s, ctx).create(provider, "码", state, chats, room_base_name="群")
    assert not [r for r in emu.requests if "join_way" in r.path]
