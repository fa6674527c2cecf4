"""Python API for customer groups and communities: ``s.community.groups()``, ``.group(chat_id)``,
``.sync()``, group live codes (``.join_ways()``, ``.create_join_way(...)``, ``.swap_full()``),
the pyramid (``.pyramid()``, ``.rank()``), health (``.ingest_stats()``, ``.check_health()``) and
group messages (``.send_group_message(...)``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu.client.layers import _Part
from siyu.community import health
from siyu.community.groups import GroupSync
from siyu.community.join_ways import JoinWayService
from siyu.community.messages import GroupMessenger
from siyu.community.pyramid import PyramidService
from siyu.community.service import GroupService
from siyu.community.sop import GroupSopService
from siyu.community.wecom import api_for, default_provider


class CommunityClient(_Part):
    # --- groups ---------------------------------------------------------------------------------
    def groups(self, include_dismissed: bool = False) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return GroupService(s).list(include_dismissed)

    def group(self, chat_id: str) -> dict[str, Any]:
        """The group with its members (contacts, roles; nicknames masked) and health."""
        with self.ctx.db.session() as s:
            return GroupService(s).show(chat_id)

    def sync(self, provider: str | None = None) -> dict[str, Any]:
        """Read every group and its members from WeCom (``groupchat/list`` + ``groupchat/get``)."""
        with self._work() as (s, _):
            key = provider or default_provider(s)
            return {"provider": key, **GroupSync(s, self.ctx, key).sync().as_dict()}

    def reconcile(self, chat_id: str, provider: str | None = None) -> dict[str, Any]:
        with self._work() as (s, _):
            r = GroupSync(s, self.ctx, provider or default_provider(s)).reconcile(chat_id)
            return {
                "chat_id": chat_id,
                "joined": len(r.joined),
                "left": len(r.left),
                "dismissed": r.dismissed,
            }

    # --- group live codes ---------------------------------------------------------------------
    def join_ways(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return JoinWayService(s, self.ctx).list()

    def join_way(self, state: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = JoinWayService(s, self.ctx)
            return svc.describe(svc.get(state))

    def create_join_way(
        self,
        name: str,
        state: str,
        chat_ids: list[str],
        provider: str | None = None,
        auto_create_room: bool = True,
        room_base_name: str | None = None,
        room_base_id: int | None = None,
        swap_threshold: int = 480,
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = JoinWayService(s, self.ctx)
            row = svc.create(
                provider or default_provider(s),
                name,
                state,
                chat_ids,
                auto_create_room,
                room_base_name,
                room_base_id,
                swap_threshold,
                actor,
            )
            return svc.describe(row)

    def update_join_way(self, state: str, chat_ids: list[str], actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = JoinWayService(s, self.ctx)
            return svc.describe(svc.update(state, chat_ids, actor))

    def delete_join_way(self, state: str, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            JoinWayService(s, self.ctx).delete(state, actor)

    def swap_full(self) -> list[dict[str, Any]]:
        """Swap groups at their code's threshold out of every live code (the background job)."""
        with self.ctx.db.session() as s:
            return JoinWayService(s, self.ctx).swap_full()

    # --- pyramid and health -------------------------------------------------------------------
    def rank(self, as_of: datetime | None = None) -> dict[str, Any]:
        """Recompute every pyramid and the role tags (the background round does it daily)."""
        with self._work() as (s, _):
            return PyramidService(s).run(as_of)

    def pyramid(self, chat_id: str | None = None) -> dict[str, Any]:
        """Each contact's role brand-wide and per group; with ``chat_id``, that group's ranking."""
        with self.ctx.db.session() as s:
            if chat_id:
                return {
                    "chat_id": chat_id,
                    "summary": GroupService(s).pyramid_summary(chat_id),
                    "members": PyramidService(s).roles(chat_id),
                }
            return PyramidService(s).everyone()

    def ingest_stats(self, days: int = 30, provider: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            key = provider or default_provider(s)
            return {"provider": key, "rows": health.ingest_stats(s, api_for(s, self.ctx, key), key, days)}

    def check_health(self) -> list[dict[str, Any]]:
        """Emit ``Group Declining`` for declining groups (once per group and week)."""
        with self._work() as (s, _):
            return health.check_declining(s)

    # --- group messages -----------------------------------------------------------------------
    def send_group_message(
        self,
        content: dict[str, Any],
        chat_ids: list[str] | None = None,
        provider: str | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        """A bulk message to groups (every open group when ``chat_ids`` is None), one WeCom task
        per owner and 2,000 groups, skipping groups at this month's limit."""
        with self.ctx.db.session() as s:
            key = provider or default_provider(s)
            return GroupMessenger(s, self.ctx, key).send(content, chat_ids, actor=actor)

    # --- group SOP ----------------------------------------------------------------------------
    def sops(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return GroupSopService(s, self.ctx).list()

    def create_sop(self, spec: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        """``{key, name, trigger, steps, state?, provider?}``; see docs/community.md."""
        from siyu.community.wecom import CommunityError

        missing = [k for k in ("key", "name", "trigger", "steps") if not spec.get(k)]
        if missing:
            raise CommunityError(f"{missing[0]}: required")
        with self.ctx.db.session() as s:
            svc = GroupSopService(s, self.ctx)
            svc.create(
                str(spec["key"]),
                str(spec["name"]),
                spec.get("provider") or default_provider(s),
                str(spec["trigger"]),
                list(spec["steps"]),
                spec.get("state"),
                actor,
            )
            return next(x for x in svc.list() if x["key"] == spec["key"])

    def run_sops(self, now: datetime | None = None) -> dict[str, int]:
        """Enrol groups and send the due group-SOP steps (siyu serve does it each round)."""
        with self.ctx.db.session() as s:
            return GroupSopService(s, self.ctx).run_due(now)

    def pause_sop(self, key: str, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            GroupSopService(s, self.ctx).set_enabled(key, False, actor)

    def resume_sop(self, key: str, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            GroupSopService(s, self.ctx).set_enabled(key, True, actor)
