"""Tasks and badges (任务与勋章): a task is a condition on a member's events or profile, with a
reward (points, a coupon) and a badge, completed once per member.

Conditions (``loyalty_tasks.condition``):

* ``{"event": "Order Completed", "count": 1, "where": {"channel": "miniprogram"}}``: the member
  has at least ``count`` (default 1) events of that name whose properties equal ``where``;
* ``{"profile": ["name", "birthday", "city"]}``: every trait listed is set (complete the
  profile), checked when an ``identify`` call arrives for the member.

The follower reads the events table by id from a cursor kept in ``settings``
(``loyalty.tasks_cursor``), like the tagging rules: on PostgreSQL ids can commit out of order,
so it stops at events received less than :data:`SETTLE_SECONDS` ago. Completion is guarded by
the ``task_completions`` key (contact, task) under the member's lock, and the rewards by the
external ids ``task:<key>:<contact>``, so running it twice completes nothing twice. Only
members complete tasks; a contact's earlier events count once they enrol and act again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService
from siyu.loyalty.ledger import Ledger, brand_tz, lock_members
from siyu.loyalty.programme import MAX_POINTS, LoyaltyError, LoyaltyNotFound
from siyu.store.changes import emit_events, note_changed
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, Event, LoyaltyMember, LoyaltyTask, TaskCompletion, utcnow
from siyu.store.settings import get_setting, put_setting

log = logging.getLogger(__name__)
CURSOR = "loyalty.tasks_cursor"
SETTLE_SECONDS = 5
_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def check_condition(value: object) -> dict[str, Any]:
    """A task condition, checked (errors name the field)."""
    if not isinstance(value, dict) or ("event" in value) == ("profile" in value):
        raise LoyaltyError("invalid_condition", "condition: give event or profile", field="condition")
    if "profile" in value:
        traits = value["profile"]
        extra = sorted(set(value) - {"profile"})
        if extra:
            raise LoyaltyError(
                "invalid_condition", f"condition.{extra[0]}: unknown", field=f"condition.{extra[0]}"
            )
        if not isinstance(traits, list) or not traits or len(traits) > 50:
            raise LoyaltyError(
                "invalid_condition", "condition.profile: 1–50 trait names", field="condition.profile"
            )
        for i, t in enumerate(traits):
            if not isinstance(t, str) or not 0 < len(t.strip()) <= 128:
                raise LoyaltyError(
                    "invalid_condition",
                    f"condition.profile[{i}]: a trait name",
                    field=f"condition.profile[{i}]",
                )
        return {"profile": [t.strip() for t in traits]}
    extra = sorted(set(value) - {"event", "count", "where"})
    if extra:
        raise LoyaltyError(
            "invalid_condition", f"condition.{extra[0]}: unknown", field=f"condition.{extra[0]}"
        )
    event = value["event"]
    if not isinstance(event, str) or not 0 < len(event.strip()) <= 200:
        raise LoyaltyError("invalid_condition", "condition.event: an event name", field="condition.event")
    count = value.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise LoyaltyError("invalid_condition", "condition.count: 1–10000", field="condition.count")
    where = value.get("where") or {}
    if not isinstance(where, dict) or len(where) > 20:
        raise LoyaltyError("invalid_condition", "condition.where: {property: value}", field="condition.where")
    for k, v in where.items():
        if isinstance(v, dict | list):
            raise LoyaltyError(
                "invalid_condition", f"condition.where.{k}: one value", field=f"condition.where.{k}"
            )
    return {"event": event.strip(), "count": count, "where": where}


def task_dict(t: LoyaltyTask) -> dict[str, Any]:
    return {
        "key": t.key,
        "name": t.name,
        "condition": t.condition,
        "reward_points": t.reward_points,
        "reward_coupon": t.reward_coupon,
        "badge": t.badge,
        "active": t.active,
    }


def _fields(values: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = {"name", "condition", "reward_points", "reward_coupon", "badge", "active"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LoyaltyError("invalid_task", f"{unknown[0]}: unknown field", field=unknown[0])
    if "name" in values or not partial:
        name = str(values.get("name") or "").strip()
        if not 0 < len(name) <= 200:
            raise LoyaltyError("invalid_name", "name: 1–200 characters", field="name")
        out["name"] = name
    if "condition" in values or not partial:
        out["condition"] = check_condition(values.get("condition"))
    if "reward_points" in values:
        p = values["reward_points"]
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= MAX_POINTS:
            raise LoyaltyError("invalid_points", f"reward_points: 0–{MAX_POINTS}", field="reward_points")
        out["reward_points"] = p
    for name in ("reward_coupon", "badge"):
        if name in values:
            v = values[name]
            if v is not None and (not isinstance(v, str) or not 0 < len(v.strip()) <= 64):
                raise LoyaltyError(f"invalid_{name}", f"{name}: 1–64 characters or empty", field=name)
            out[name] = v.strip() if isinstance(v, str) else None
    if "active" in values:
        if not isinstance(values["active"], bool):
            raise LoyaltyError("invalid_active", "active: true or false", field="active")
        out["active"] = values["active"]
    return out


@dataclass
class TaskRun:
    events: int = 0
    completed: dict[str, int] = field(default_factory=dict)
    coupon_errors: int = 0
    cursor: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "completed": dict(self.completed),
            "coupon_errors": self.coupon_errors,
            "cursor": self.cursor,
        }


class TaskService:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self._tz = tz

    # --- definitions -------------------------------------------------------------------------
    def list(self) -> list[LoyaltyTask]:
        return list(self.session.scalars(select(LoyaltyTask).order_by(LoyaltyTask.id)))

    def get(self, key: str) -> LoyaltyTask:
        t = self.session.scalar(select(LoyaltyTask).where(LoyaltyTask.key == key))
        if t is None:
            raise LoyaltyNotFound("task_not_found", f"no task {key!r}", field="key")
        return t

    def create(self, key: str, values: dict[str, Any], *, actor: str = "system") -> LoyaltyTask:
        if not _KEY.match(key or ""):
            raise LoyaltyError("invalid_key", "key: a-z, 0-9, _ and -, up to 64 characters", field="key")
        if self.session.scalar(select(LoyaltyTask.id).where(LoyaltyTask.key == key)) is not None:
            raise LoyaltyError("task_exists", f"task {key!r} exists", field="key")
        t = LoyaltyTask(
            key=key, created_at=self.now, **{"reward_points": 0, "active": True, **_fields(values, False)}
        )
        self._check_coupon(t.reward_coupon)
        self.session.add(t)
        self.session.flush()
        audit.record(self.session, actor, "loyalty_task.created", "loyalty_task", t.id, task_dict(t))
        return t

    def update(self, key: str, values: dict[str, Any], *, actor: str = "system") -> LoyaltyTask:
        t = self.get(key)
        changes = _fields(values, True)
        if "reward_coupon" in changes:
            self._check_coupon(changes["reward_coupon"])
        for k, v in changes.items():
            setattr(t, k, v)
        self.session.flush()
        audit.record(self.session, actor, "loyalty_task.updated", "loyalty_task", t.id, changes)
        return t

    def _check_coupon(self, template: str | None) -> None:
        if template is not None:
            try:
                CouponService(self.session, now=self.now).templates.get(template)
            except CouponError:
                raise LoyaltyError(
                    "coupon_template_not_found",
                    f"reward_coupon: no coupon template {template!r}",
                    field="reward_coupon",
                ) from None

    def badges(self, contact_id: int) -> list[dict[str, Any]]:
        rows = self.session.execute(
            select(LoyaltyTask.key, LoyaltyTask.name, LoyaltyTask.badge, TaskCompletion.completed_at)
            .join(TaskCompletion, TaskCompletion.task_id == LoyaltyTask.id)
            .where(TaskCompletion.contact_id == contact_id)
            .order_by(TaskCompletion.completed_at)
        )
        return [{"task": k, "name": n, "badge": b, "completed_at": at} for k, n, b, at in rows]

    def completions(self) -> dict[str, int]:
        rows = self.session.execute(
            select(LoyaltyTask.key, func.count(TaskCompletion.contact_id))
            .join(TaskCompletion, TaskCompletion.task_id == LoyaltyTask.id)
            .group_by(LoyaltyTask.key)
        )
        return {k: int(n) for k, n in rows}

    # --- the follower ------------------------------------------------------------------------
    def run(self, batch_size: int = 20_000) -> TaskRun:
        """Evaluate the active tasks for members with events after the cursor (call repeatedly;
        it commits nothing itself)."""
        result = TaskRun(cursor=int(get_setting(self.session, CURSOR) or 0))
        tasks = [t for t in self.list() if t.active]
        horizon = self.now - timedelta(seconds=SETTLE_SECONDS)
        rows = self.session.execute(
            select(Event.id, Event.contact_id, Event.type, Event.event, Event.received_at)
            .where(Event.id > result.cursor)
            .order_by(Event.id)
            .limit(batch_size)
        ).all()
        settled = next((i for i, r in enumerate(rows) if _aware(r[4]) > horizon), len(rows))
        rows = rows[:settled]
        if not rows:
            return result
        result.events, result.cursor = len(rows), rows[-1][0]
        put_setting(self.session, CURSOR, result.cursor)
        if not tasks:
            return result
        touched: dict[str, set[int]] = {}
        for _, cid, kind, name, _at in rows:
            if cid is None:
                continue
            for t in tasks:
                if t.condition.get("event") == name or ("profile" in t.condition and kind == "identify"):
                    touched.setdefault(t.key, set()).add(cid)
        for t in tasks:
            for chunk in chunked(sorted(touched.get(t.key, set()))):
                for cid in self._qualifying(t, chunk):
                    self._complete(t, cid, result)
        return result

    def _qualifying(self, t: LoyaltyTask, contact_ids: list[int]) -> list[int]:
        members = set(
            self.session.scalars(
                select(LoyaltyMember.contact_id).where(
                    LoyaltyMember.contact_id.in_(contact_ids), LoyaltyMember.status == "active"
                )
            )
        )
        done = set(
            self.session.scalars(
                select(TaskCompletion.contact_id).where(
                    TaskCompletion.task_id == t.id, TaskCompletion.contact_id.in_(contact_ids)
                )
            )
        )
        todo = sorted(members - done)
        if not todo:
            return []
        cond = t.condition
        if "profile" in cond:
            wanted = set(cond["profile"])
            have: dict[int, set[str]] = {}
            for cid, name, value in self.session.execute(
                select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                    ContactAttribute.contact_id.in_(todo), ContactAttribute.name.in_(sorted(wanted))
                )
            ):
                if value not in (None, ""):
                    have.setdefault(cid, set()).add(name)
            return [c for c in todo if have.get(c, set()) >= wanted]
        counts: dict[int, int] = {}
        where = cond.get("where") or {}
        for cid, props in self.session.execute(
            select(Event.contact_id, Event.properties).where(
                Event.event == cond["event"], Event.contact_id.in_(todo)
            )
        ):
            if all((props or {}).get(k) == v for k, v in where.items()):
                counts[cid] = counts.get(cid, 0) + 1
        return [c for c in todo if counts.get(c, 0) >= int(cond.get("count", 1))]

    def _complete(self, t: LoyaltyTask, contact_id: int, result: TaskRun) -> None:
        lock_members(self.session, [contact_id])
        if self.session.get(TaskCompletion, (contact_id, t.id)) is not None:
            return  # another run completed it while we waited for the lock
        self.session.add(TaskCompletion(contact_id=contact_id, task_id=t.id, completed_at=self.now))
        self.session.flush()
        ext = f"task:{t.key}:{contact_id}"
        if t.reward_points:
            if self._tz is None:
                self._tz = brand_tz(self.session)
            Ledger(self.session, now=self.now, tz=self._tz).award(
                contact_id, t.reward_points, source="task", reason=t.name[:200], external_id=ext
            )
        if t.reward_coupon:
            try:
                with self.session.begin_nested():
                    CouponService(self.session, now=self.now).issue(
                        t.reward_coupon, contact_id, issued_by=f"task:{t.key}", external_id=ext
                    )
            except CouponError as exc:  # a paused or exhausted template: the badge still counts
                log.warning(
                    "task %s: coupon %s not issued to %s: %s", t.key, t.reward_coupon, contact_id, exc
                )
                result.coupon_errors += 1
        emit_events(
            self.session,
            "Task Completed",
            [(f"Task Completed:{contact_id:012d}:{t.key}", contact_id, {"task": t.key, "badge": t.badge})],
            self.now,
        )
        note_changed(self.session, [contact_id])
        result.completed[t.key] = result.completed.get(t.key, 0) + 1


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo else at.replace(tzinfo=UTC)


def run_until_caught_up(db: Any, now: datetime | None = None) -> TaskRun:
    """Run batch after batch, each committed, until no settled event is left."""
    total = TaskRun()
    while True:
        with db.sessionmaker() as s:
            run = TaskService(s, now=now).run()
            s.commit()
        total.events += run.events
        total.coupon_errors += run.coupon_errors
        for k, n in run.completed.items():
            total.completed[k] = total.completed.get(k, 0) + n
        total.cursor = max(total.cursor, run.cursor)
        if run.events == 0:
            return total
