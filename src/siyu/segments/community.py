"""Segment leaves over customer groups (``group``) and the community pyramid
(``community_role``), compiled like the other profile leaves: one filtered aggregate per leaf
over one scan of the warehouse's mirror of ``group_members`` / ``community_roles``.

Chat ids are resolved to group ids from the system of record first (an unknown chat id is an
error naming the node). ``joined_within_days`` moves with the calendar for everyone, so a
segment using it is recomputed in full."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from siyu.segments import schemas as s
from siyu.warehouse.query import COMMUNITY_ROLES, GROUP_MEMBERS

BRAND = 0  # community_roles.group_id of the brand-wide pyramid


def group_leaf(c: Any, node: s.GroupCondition, path: str) -> ColumnElement[bool]:
    m = GROUP_MEMBERS
    conds: list[ColumnElement[bool]] = []
    ids: list[int] | None = None
    if node.groups is not None:
        ids = c._ids(c.catalog.groups, node.groups, f"{path}.groups", "customer group")
        conds.append(m.c.group_id.in_(ids))
    if node.joined_within_days is not None:
        c.full_only.append(f"{path}: joined_within_days moves with the calendar")
        since = c.now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=node.joined_within_days)
        conds.append(m.c.joined_at >= since)
    else:
        conds.append(m.c.left_at.is_(None))
    return c._held("grp", repr((ids, node.joined_within_days)), and_(*conds))  # type: ignore[no-any-return]


def community_role_leaf(c: Any, node: s.CommunityRoleCondition, path: str) -> ColumnElement[bool]:
    gid = BRAND
    if node.group is not None:
        gid = c._ids(c.catalog.groups, [node.group], f"{path}.group", "customer group")[0]
    roles = sorted(set(node.roles))
    r = COMMUNITY_ROLES
    cond = and_(r.c.group_id == gid, r.c.role.in_(roles))
    return c._held("role", repr((gid, roles)), cond)  # type: ignore[no-any-return]
