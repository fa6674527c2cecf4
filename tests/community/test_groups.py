"""Group sync and change_external_chat reconciliation against the emulator: lost, reordered and
repeated callbacks still end in WeCom's state, with one Group Joined / Group Left per real change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from tests.community.conftest import OWNER
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld

from siyu.community.groups import GroupSync
from siyu.context import AppContext
from siyu.store.models import CustomerGroup, Event, GroupMember, Identity, WeComStaff


def open_members(ctx: AppContext, chat_id: str) -> set[str]:
    with ctx.db.session() as s:
        return set(
            s.scalars(
                select(GroupMember.member_id)
                .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
                .where(
                    CustomerGroup.chat_id == chat_id,
                    GroupMember.left_at.is_(None),
                    GroupMember.member_type == 2,
                )
            )
        )


def events(ctx: AppContext, name: str) -> list[tuple[int, dict]]:
    with ctx.db.session() as s:
        return [
            (e.contact_id, e.properties or {}) for e in s.scalars(select(Event).where(Event.event == name))
        ]


def test_sync_reads_groups_members_and_resolves_contacts(
    ctx: AppContext, groups: GroupWorld, provider: str
) -> None:
    chat = groups.create_group(OWNER, "春季会员群", push=False)
    groups.join(chat, "wmA", unionid="unA", join_scene=3, state="spring", push=False)
    groups.join(chat, "wmB", join_scene=1, inviter=OWNER, push=False)
    with ctx.db.session() as s:
        result = GroupSync(s, ctx, provider).sync()
    assert (result.groups, result.joined, result.by_owner) == (1, 2, False)
    assert open_members(ctx, chat) == {"wmA", "wmB"}
    with ctx.db.session() as s:
        group = s.scalar(select(CustomerGroup))
        assert group is not None and (group.name, group.owner_userid, group.member_count) == (
            "春季会员群",
            OWNER,
            3,
        )
        a = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmA"))
        assert a is not None and (a.join_scene, a.state, a.unionid) == (3, "spring", "unA")
        b = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmB"))
        assert b is not None and b.inviter_userid == OWNER
        # both identifiers of A name one contact
        owners = s.scalars(select(Identity.contact_id).where(Identity.lookup.is_not(None))).all()
        assert a.contact_id in owners
    joined = events(ctx, "Group Joined")
    assert sorted(p["state"] or "" for _, p in joined) == ["", "spring"]
    # a second sync changes nothing and emits nothing
    with ctx.db.session() as s:
        again = GroupSync(s, ctx, provider).sync()
    assert (again.joined, again.left) == (0, 0)
    assert len(events(ctx, "Group Joined")) == 2


def test_sync_marks_groups_gone_from_wecom_dismissed(
    ctx: AppContext, groups: GroupWorld, provider: str
) -> None:
    keep, gone = groups.create_group(OWNER, push=False), groups.create_group(OWNER, push=False)
    groups.join(gone, "wmA", push=False)
    with ctx.db.session() as s:
        GroupSync(s, ctx, provider).sync()
    groups.dismiss(gone, push=False)  # the dismiss event is lost
    with ctx.db.session() as s:
        result = GroupSync(s, ctx, provider).sync()
    assert (result.groups, result.dismissed, result.left) == (1, 1, 1)
    assert open_members(ctx, gone) == set() and keep


def test_sync_pages_by_owner_after_81017(ctx: AppContext, groups: GroupWorld, provider: str) -> None:
    groups.owner_limit = 1
    chats = [groups.create_group(owner, push=False) for owner in ("u1", "u2", "u3")]
    with ctx.db.session() as s:
        for owner in ("u1", "u2", "u3"):
            s.add(WeComStaff(provider_key=provider, userid=owner))
    with ctx.db.session() as s:
        result = GroupSync(s, ctx, provider).sync()
    assert result.by_owner and result.groups == 3
    with ctx.db.session() as s:
        assert set(s.scalars(select(CustomerGroup.chat_id))) == set(chats)
    # a group of an owner the staff table does not know is not taken for dismissed
    unknown_owner = groups.create_group("u9", push=False)
    with ctx.db.session() as s:
        GroupSync(s, ctx, provider).reconcile(unknown_owner)
    with ctx.db.session() as s:
        assert GroupSync(s, ctx, provider).sync().dismissed == 0
        assert (
            s.scalar(select(CustomerGroup.dismissed_at).where(CustomerGroup.chat_id == unknown_owner)) is None
        )


def test_callbacks_lost_reordered_and_repeated_end_in_wecom_state(
    ctx: AppContext, groups: GroupWorld, deliver: Callable[..., int]
) -> None:
    chat = groups.create_group(OWNER)
    groups.join(chat, "wmA")
    groups.join(chat, "wmB")
    groups.leave(chat, "wmA", quit_scene=1)
    groups.join(chat, "wmC")
    pushed = groups.take_pushed()
    create, join_a, _join_b, leave_a, join_c = pushed
    # the join of B is lost, A's leave arrives before A's join, C's join arrives twice
    deliver([create, leave_a, join_a, join_c, join_c])
    assert open_members(ctx, chat) == {"wmB", "wmC"}
    joined = events(ctx, "Group Joined")
    assert sorted(p["chat_id"] for _, p in joined) == [chat, chat]  # B and C; A was never seen in
    assert events(ctx, "Group Left") == []
    # A comes back, then leaves again, and B leaves: each is one event
    groups.join(chat, "wmA")
    groups.leave(chat, "wmB", quit_scene=1)
    deliver()
    deliver([*pushed, *pushed])  # a late storm of stale events changes nothing
    assert open_members(ctx, chat) == {"wmA", "wmC"}
    assert len(events(ctx, "Group Left")) == 1
    with ctx.db.session() as s:
        b = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmB"))
        assert b is not None and b.left_at is not None and b.quit_scene == 1  # from the del_member event
    assert len(events(ctx, "Group Joined")) == 3


def test_dismiss_closes_every_membership(
    ctx: AppContext, groups: GroupWorld, deliver: Callable[..., int]
) -> None:
    chat = groups.create_group(OWNER)
    groups.join(chat, "wmA")
    groups.join(chat, "wmB")
    deliver()
    groups.dismiss(chat)
    deliver()
    assert open_members(ctx, chat) == set()
    assert len(events(ctx, "Group Left")) == 2
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).where(CustomerGroup.dismissed_at.is_not(None))) == 1


@pytest.mark.parametrize("event", [{}, {"ChatId": " "}])
def test_event_without_chat_id_is_a_clear_error(
    ctx: AppContext, provider: str, event: dict, emu: WeComEmulator
) -> None:
    from siyu.community.callbacks import handle_change_external_chat

    with ctx.db.session() as s, pytest.raises(ValueError, match="ChatId"):
        handle_change_external_chat(s, ctx, provider, {"Event": "change_external_chat", **event})
