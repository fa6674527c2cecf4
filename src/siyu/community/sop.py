"""Group SOP (群SOP): timed group messages whose audience is customer groups.

Journeys enrol *contacts*; a group message goes to a *group* and is confirmed by its owner, so
a group SOP is its own small plan rather than a journey kind (see docs/community.md for the
decision). A plan has a trigger and steps:

* ``group_created``: step ``{day, at}`` is due ``day`` days after the group's creation at
  ``at``, both in the brand's time zone (only groups created after the plan, so enabling one
  does not message old groups);
* ``joined_code``: the same, counted from when the group was put on the live code ``state``
  (the code's history), so every group a code fills gets the same welcome series;
* ``schedule``: steps ``{every: "day" | "week", weekday: 1-7, at}`` are due at each occurrence
  (from the plan's creation on) for every open group, or the groups on live code ``state``.

``run_due`` enrols groups (one ``group_sop_runs`` row per group and step, unique, so a repeated
run enrols nothing twice) and sends what is due through :class:`GroupMessenger`: one task per
owner per step, skipping groups at this month's limit (status ``limited``). Group welcome
messages on join are WeCom's own (``group_welcome_template``, see messages.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.http import ProviderError
from siyu.channels.wecom_api import ContentError, message_body
from siyu.community.messages import GroupMessenger
from siyu.community.wecom import CommunityError, CommunityNotFound
from siyu.context import AppContext
from siyu.store.models import CustomerGroup, GroupJoinWay, GroupJoinWayChange, GroupSop, GroupSopRun, utcnow

TRIGGERS = ("group_created", "joined_code", "schedule")
MAX_STEPS = 30
CATCH_UP = timedelta(days=2)  # a schedule occurrence missed for longer than this is skipped


def _clock(value: Any, where: str) -> time:
    try:
        hh, mm = str(value).split(":")
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        raise CommunityError(f"{where}.at: a time HH:MM, got {value!r}") from None


def check_steps(trigger: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if trigger not in TRIGGERS:
        raise CommunityError(f"trigger: one of {', '.join(TRIGGERS)}")
    if not 1 <= len(steps) <= MAX_STEPS:
        raise CommunityError(f"steps: 1 to {MAX_STEPS} steps")
    out = []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict):
            raise CommunityError(f"{where}: an object with at, text and day (or every)")
        _clock(step.get("at"), where)
        try:
            message_body({"text": step.get("text") or "", "attachments": step.get("attachments") or []})
        except ContentError as exc:
            raise CommunityError(f"{where}.{exc}") from None
        if trigger == "schedule":
            if step.get("every") not in ("day", "week"):
                raise CommunityError(f"{where}.every: day or week")
            if step["every"] == "week" and step.get("weekday") not in range(1, 8):
                raise CommunityError(f"{where}.weekday: 1 (Monday) to 7 (Sunday)")
        elif not isinstance(step.get("day"), int) or not 0 <= step["day"] <= 365:
            raise CommunityError(f"{where}.day: 0 to 365 days after the trigger")
        out.append(
            {k: step[k] for k in ("day", "every", "weekday", "at", "text", "attachments") if k in step}
        )
    return out


def _due(start: datetime, day: int, at: str, zone: ZoneInfo) -> datetime:
    """Day ``day`` after ``start`` at ``at``, both read in the brand's zone (as journeys' steps)."""
    local = start.astimezone(zone).date() + timedelta(days=day)
    return datetime.combine(local, _clock(at, "step"), zone)


class GroupSopService:
    def __init__(self, session: Session, ctx: AppContext) -> None:
        self.session, self.ctx = session, ctx

    def create(
        self, key: str, name: str, provider_key: str, trigger: str, steps: list[dict[str, Any]],
        state: str | None = None, actor: str = "system",
    ) -> GroupSop:  # fmt: skip
        steps = check_steps(trigger, steps)
        if trigger == "joined_code" and not state:
            raise CommunityError("state: joined_code needs the live code's state")
        if state and self.session.scalar(select(GroupJoinWay.id).where(GroupJoinWay.state == state)) is None:
            raise CommunityNotFound(f"state: no group live code {state!r}")
        if self.session.scalar(select(GroupSop.id).where(GroupSop.key == key)):
            raise CommunityError(f"key: a group SOP {key!r} exists")
        row = GroupSop(
            key=key, name=name, provider_key=provider_key, trigger=trigger, state=state, steps=steps
        )
        self.session.add(row)
        self.session.flush()
        audit.record(
            self.session, actor, "group_sop.created", "group_sop", row.id, {"key": key, "trigger": trigger}
        )
        return row

    def set_enabled(self, key: str, enabled: bool, actor: str = "system") -> GroupSop:
        """Pause (nothing is enrolled or sent; steps that fell due meanwhile are sent on resume
        if still within reach) or resume a plan."""
        sop = self.session.scalar(select(GroupSop).where(GroupSop.key == key))
        if sop is None:
            raise CommunityNotFound(f"key: no group SOP {key!r}")
        sop.enabled = enabled
        verb = "resumed" if enabled else "paused"
        audit.record(self.session, actor, f"group_sop.{verb}", "group_sop", sop.id, {"key": key})
        return sop

    def list(self) -> list[dict[str, Any]]:
        out = []
        for sop in self.session.scalars(select(GroupSop).order_by(GroupSop.id)):
            runs = self.session.scalars(select(GroupSopRun.status).where(GroupSopRun.sop_id == sop.id)).all()
            counts = {s: runs.count(s) for s in ("due", "sent", "limited", "failed", "skipped")}
            out.append(
                {"key": sop.key, "name": sop.name, "trigger": sop.trigger, "state": sop.state,
                 "enabled": sop.enabled, "steps": sop.steps, "runs": counts}
            )  # fmt: skip
        return out

    # --- enrolment ---------------------------------------------------------------------------
    def _groups_with_start(self, sop: GroupSop) -> list[tuple[int, datetime]]:
        if sop.trigger == "group_created":
            rows = self.session.execute(
                select(CustomerGroup.id, CustomerGroup.created_at).where(
                    CustomerGroup.provider_key == sop.provider_key,
                    CustomerGroup.created_at >= sop.created_at,
                    CustomerGroup.dismissed_at.is_(None),
                )
            ).all()
            return [(gid, at) for gid, at in rows if at]
        way = self.session.scalar(select(GroupJoinWay).where(GroupJoinWay.state == sop.state))
        if way is None:
            return []
        chats = self.session.execute(
            select(GroupJoinWayChange.chat_id, GroupJoinWayChange.added_at)
            .where(GroupJoinWayChange.join_way_id == way.id)
            .order_by(GroupJoinWayChange.added_at)
        ).all()
        first: dict[str, datetime] = {}
        for chat, at in chats:
            first.setdefault(chat, at)
        ids = dict(
            self.session.execute(
                select(CustomerGroup.chat_id, CustomerGroup.id).where(
                    CustomerGroup.provider_key == sop.provider_key,
                    CustomerGroup.chat_id.in_(sorted(first)),
                    CustomerGroup.dismissed_at.is_(None),
                )
            ).all()
        )
        return [(ids[c], at) for c, at in first.items() if c in ids]

    def _zone(self) -> ZoneInfo:
        """The brand's time zone: step times are the operator's wall clock, as in journeys."""
        return ZoneInfo(self.ctx.timezone(self.session))

    def _scheduled(self, sop: GroupSop, now: datetime) -> list[tuple[int, int, datetime]]:
        """(group, YYYYMMDD × 100 + step index, due) of schedule occurrences in the last CATCH_UP."""
        if sop.state:
            way = self.session.scalar(select(GroupJoinWay).where(GroupJoinWay.state == sop.state))
            chats = list(way.chat_ids or []) if way else []
            stmt = select(CustomerGroup.id).where(CustomerGroup.chat_id.in_(chats))
        else:
            stmt = select(CustomerGroup.id).where(CustomerGroup.provider_key == sop.provider_key)
        groups = list(self.session.scalars(stmt.where(CustomerGroup.dismissed_at.is_(None))))
        out = []
        zone = self._zone()
        today = now.astimezone(zone).date()
        for index, step in enumerate(sop.steps):
            for back in range(CATCH_UP.days + 1):
                day: date = today - timedelta(days=back)
                if step["every"] == "week" and day.isoweekday() != step["weekday"]:
                    continue
                due = datetime.combine(day, _clock(step["at"], "step"), zone)
                if sop.created_at <= due <= now:
                    out += [(g, int(day.strftime("%Y%m%d")) * 100 + index, due) for g in groups]
        return out

    def enrol(self, sop: GroupSop, now: datetime) -> int:
        known = set(
            self.session.execute(
                select(GroupSopRun.group_id, GroupSopRun.step).where(GroupSopRun.sop_id == sop.id)
            ).all()
        )
        wanted: list[tuple[int, int, datetime]] = []
        if sop.trigger == "schedule":
            wanted = self._scheduled(sop, now)
        else:
            zone = self._zone()
            for gid, start in self._groups_with_start(sop):
                wanted += [(gid, i, _due(start, s["day"], s["at"], zone)) for i, s in enumerate(sop.steps)]
        new = [
            GroupSopRun(sop_id=sop.id, group_id=g, step=i, due_at=d)
            for g, i, d in wanted
            if (g, i) not in known
        ]
        self.session.add_all(new)
        self.session.flush()
        return len(new)

    # --- sending -----------------------------------------------------------------------------
    def run_due(self, now: datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        result = {"enrolled": 0, "sent": 0, "limited": 0, "failed": 0}
        for sop in self.session.scalars(select(GroupSop).where(GroupSop.enabled.is_(True))).all():
            result["enrolled"] += self.enrol(sop, now)
            due = self.session.scalars(
                select(GroupSopRun).where(
                    GroupSopRun.sop_id == sop.id, GroupSopRun.sent_at.is_(None), GroupSopRun.due_at <= now
                )
            ).all()
            by_step: dict[int, list[GroupSopRun]] = {}
            for run in due:
                by_step.setdefault(run.step, []).append(run)
            for step, runs in sorted(by_step.items()):
                content = self._content(sop, step)
                self._send(sop, runs, content, now, result)
        return result

    @staticmethod
    def _content(sop: GroupSop, step: int) -> dict[str, Any]:
        chosen = sop.steps[step % 100 if sop.trigger == "schedule" else step]
        return {"text": chosen.get("text") or "", "attachments": chosen.get("attachments") or []}

    def _send(
        self,
        sop: GroupSop,
        runs: list[GroupSopRun],
        content: dict[str, Any],
        now: datetime,
        result: dict[str, int],
    ) -> None:
        rows = self.session.execute(
            select(CustomerGroup.id, CustomerGroup.chat_id, CustomerGroup.owner_userid).where(
                CustomerGroup.id.in_([r.group_id for r in runs])
            )
        ).all()
        chats = {gid: chat for gid, chat, _ in rows}
        owners = {gid: owner for gid, _, owner in rows}
        try:
            sent = GroupMessenger(self.session, self.ctx, sop.provider_key).send(
                content, [chats[r.group_id] for r in runs], source=f"sop:{sop.key}", at=now
            )
        except (ProviderError, CommunityError) as exc:
            for r in runs:
                r.sent_at, r.status, r.error = now, "failed", str(exc)[:500]
            result["failed"] += len(runs)
            return
        limited = set(sent["limited"])
        msgids = {task["sender"]: task["msgid"] for task in sent["tasks"]}
        for r in runs:
            r.sent_at = now
            r.status = "limited" if chats[r.group_id] in limited else "sent"
            result[r.status] += 1
            r.msgid = msgids.get(owners[r.group_id]) if r.status == "sent" else None
