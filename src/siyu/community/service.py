"""Reading customer groups for the interfaces (CLI, REST, console, Python API), and the
background round of the community (swap full groups out of live codes and send due group-SOP
steps each round; the pyramid and the health alert once a Beijing day)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.community import health
from siyu.community.join_ways import JoinWayService
from siyu.community.pyramid import BRAND, PyramidService
from siyu.community.sop import GroupSopService
from siyu.community.wecom import CommunityNotFound
from siyu.context import AppContext
from siyu.store.models import CommunityRole, CustomerGroup, GroupJoinWay, GroupMember, GroupSop

log = logging.getLogger("siyu.community")


def mask_name(name: str | None) -> str:
    """A member's nickname as shown to operators: the first character, the rest starred."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3)


class GroupService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _group(self, chat_id: str) -> CustomerGroup:
        group = self.session.scalar(
            select(CustomerGroup).where(CustomerGroup.chat_id == chat_id).order_by(CustomerGroup.id)
        )
        if group is None:
            raise CommunityNotFound(f"chat_id: no customer group {chat_id!r} (siyu groups sync reads them)")
        return group

    @staticmethod
    def _row(g: CustomerGroup) -> dict[str, Any]:
        return {
            "chat_id": g.chat_id,
            "name": g.name,
            "provider": g.provider_key,
            "owner": g.owner_userid,
            "members": g.member_count,
            "status": g.status,
            "created_at": g.created_at,
            "dismissed_at": g.dismissed_at,
            "synced_at": g.synced_at,
        }

    def list(self, include_dismissed: bool = False, as_of: datetime | None = None) -> list[dict[str, Any]]:
        stmt = select(CustomerGroup).order_by(CustomerGroup.member_count.desc(), CustomerGroup.id)
        if not include_dismissed:
            stmt = stmt.where(CustomerGroup.dismissed_at.is_(None))
        rows = []
        for g in self.session.scalars(stmt):
            row = self._row(g)
            row["health"] = (
                health.figures(self.session, g, as_of)["score"] if g.dismissed_at is None else None
            )
            rows.append(row)
        return rows

    def show(self, chat_id: str, as_of: datetime | None = None, series_days: int = 30) -> dict[str, Any]:
        """The group, its current members (external ones with their contact and pyramid role;
        nicknames masked) and its health figures and daily series."""
        g = self._group(chat_id)
        roles = dict(
            self.session.execute(
                select(CommunityRole.contact_id, CommunityRole.role).where(CommunityRole.group_id == g.id)
            ).all()
        )
        members = []
        for m in self.session.scalars(
            select(GroupMember)
            .where(GroupMember.group_id == g.id, GroupMember.left_at.is_(None))
            .order_by(GroupMember.joined_at, GroupMember.id)
        ):
            members.append(
                {
                    "member_id": m.member_id,
                    "type": "staff" if m.member_type == 1 else "external",
                    "contact_id": m.contact_id,
                    "name": mask_name(m.nickname),
                    "joined_at": m.joined_at,
                    "join_scene": m.join_scene,
                    "inviter": m.inviter_userid,
                    "state": m.state,
                    "role": roles.get(m.contact_id) if m.contact_id else None,
                }
            )
        left = self.session.scalar(
            select(func.count(GroupMember.id)).where(
                GroupMember.group_id == g.id, GroupMember.left_at.is_not(None)
            )
        )
        return self._row(g) | {
            "notice": g.notice,
            "member_list": members,
            "left_members": int(left or 0),
            "health": health.figures(self.session, g, as_of),
            "series": health.series(self.session, g, series_days, as_of),
        }

    def pyramid_summary(self, chat_id: str | None = None) -> dict[str, int]:
        gid = self._group(chat_id).id if chat_id else BRAND
        counts = dict(
            self.session.execute(
                select(CommunityRole.role, func.count())
                .where(CommunityRole.group_id == gid)
                .group_by(CommunityRole.role)
            ).all()
        )
        return {role: int(counts.get(role, 0)) for role in ("seed", "koc", "member")}


def community_round(ctx: AppContext, daily: bool) -> dict[str, Any]:
    """The community's share of ``siyu serve``'s background round; each part its own unit of
    work, a failing part logged and retried next round."""
    done: dict[str, Any] = {}
    with ctx.db.sessionmaker() as s:
        has_codes = s.scalar(select(GroupJoinWay.id).where(GroupJoinWay.deleted_at.is_(None)).limit(1))
        has_sops = s.scalar(select(GroupSop.id).where(GroupSop.enabled.is_(True)).limit(1))
    parts: list[tuple[str, Any]] = []
    if has_codes:
        parts.append(("swap", lambda s: JoinWayService(s, ctx).swap_full()))
    if has_sops:
        parts.append(("sop", lambda s: GroupSopService(s, ctx).run_due()))
    if daily:
        parts.append(("pyramid", lambda s: PyramidService(s).run()))
        parts.append(("declining", lambda s: health.check_declining(s)))
    for name, work in parts:
        try:
            with ctx.db.sessionmaker() as s:
                done[name] = work(s)
                s.commit()
        except Exception:  # logged; retried next round
            log.exception("community %s failed", name)
    return done
