"""Entering and leaving journeys.

The follower reads new events of the system of record from a cursor (like the tagging rules,
stopping before events received in the last few seconds, which on PostgreSQL may still have
uncommitted neighbours) and, for every running journey: enrols contacts whose event matches the
trigger (segment entered, event, tag added, stage changed), ends enrolments that reach the goal
or leave the trigger segment, and wakes enrolments waiting for that event. Broadcasts and date
triggers (birthdays) are run by :func:`run_schedules`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import Session

from siyu.journeys.engine import spec_of
from siyu.journeys.facts import time_zones
from siyu.journeys.policy import day_at
from siyu.journeys.repository import JourneyRepository
from siyu.journeys.schemas import EXIT, JourneySpec
from siyu.store.dialect import chunked, insert_ignore, settled_before
from siyu.store.locks import try_xact_lock
from siyu.store.models import (
    ContactAttribute,
    Event,
    Journey,
    JourneyEnrolment,
    JourneyStepRun,
    Segment,
    SegmentMember,
    utcnow,
)
from siyu.store.settings import get_setting, put_setting
from siyu.tags.rules import property_matches

CURSOR = "journeys.events_cursor"
#: Followers on PostgreSQL take this advisory lock so only one enrols at a time ("once per
#: contact" is checked against what is committed).
FOLLOWER_LOCK = "journeys.follower"


@dataclass
class FollowResult:
    events: int = 0
    enrolled: int = 0
    converted: int = 0
    exited: int = 0
    woken: int = 0
    cursor: int = 0
    by_journey: dict[str, int] = field(default_factory=dict)


def enrol(
    session: Session,
    journey: Journey,
    spec: JourneySpec,
    candidates: Iterable[tuple[int, str, dict[str, Any]]],
    now: datetime,
    recurring: bool = False,
) -> int:
    """Enrol (contact, trigger key, data) candidates that the entry rules admit: never while an
    enrolment of the contact is active; once per contact unless re-entry is on, and then only
    after the cooldown (``recurring`` broadcasts admit every contact not currently active). The
    unique (journey, trigger key) makes a replayed occurrence harmless."""
    first: dict[int, tuple[str, dict[str, Any]]] = {}
    for cid, key, data in candidates:
        first.setdefault(cid, (key, data))
    if not first:
        return 0
    history = JourneyRepository(session).history(journey.id, list(first))
    rows = []
    for cid, (key, data) in first.items():
        seen = history.get(cid)
        if seen is not None:
            _count, last_entered, last_status = seen
            if last_status == "active":
                continue
            if not recurring:
                if not spec.entry.reentry:
                    continue
                if (now - last_entered).total_seconds() < spec.entry.cooldown:
                    continue
        rows.append(
            {
                "journey_id": journey.id,
                "contact_id": cid,
                "trigger_key": key[:200],
                "status": "active",
                "step": spec.steps[0].id,
                "due_at": now,
                "variants": {},
                "data": {"trigger": data} if data else {},
                "entered_at": now,
            }
        )
    # No conflict target: a replayed occurrence (journey, trigger key) and a contact already
    # active in the journey (a concurrent enrolment) are both skipped.
    return insert_ignore(session, JourneyEnrolment.__table__, rows)


def _trigger_key(spec: JourneySpec, props: dict[str, Any], message_id: str) -> str:
    ev = spec.trigger.event
    if ev is not None and ev.key and props.get(ev.key) not in (None, ""):
        return f"k:{props[ev.key]}"
    return message_id


def _matches_trigger(spec: JourneySpec, name: str, props: dict[str, Any]) -> bool:
    t = spec.trigger
    if t.event is not None:
        return name == t.event.name and all(property_matches(f, props) for f in t.event.where)
    if t.tag_added is not None:
        return name == "tag.added" and props.get("tag") == t.tag_added
    if t.segment_entered is not None:
        return name == "segment.entered" and props.get("segment") == t.segment_entered
    if t.stage_changed is not None:
        return name == "stage.changed" and props.get("to") == t.stage_changed
    return False


def _trigger_event(spec: JourneySpec) -> str | None:
    t = spec.trigger
    if t.event is not None:
        return t.event.name
    return {
        "tag_added": "tag.added",
        "segment_entered": "segment.entered",
        "stage_changed": "stage.changed",
    }.get(t.kind)


def init_cursor(session: Session) -> int:
    """The follower's position; the first time (the first journey starting), the newest event:
    journeys react to what happens from then on, not to history."""
    cursor = get_setting(session, CURSOR)
    if cursor is None:
        cursor = int(session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)
        put_setting(session, CURSOR, cursor)
    return int(cursor)


class TriggerFollower:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _locked(self) -> bool:
        return try_xact_lock(self.session, FOLLOWER_LOCK)

    def run(self, batch_size: int = 20_000, now: datetime | None = None) -> FollowResult:
        now = now or utcnow()
        result = FollowResult()
        if not self._locked():
            return result
        result.cursor = init_cursor(self.session)
        journeys = [(j, spec_of(j)) for j in JourneyRepository(self.session).active()]
        waiting = set(
            self.session.scalars(
                select(JourneyEnrolment.wait_event).where(JourneyEnrolment.wait_event.is_not(None)).distinct()
            )
        )
        names = waiting | {
            n for _, s in journeys for n in (_trigger_event(s), s.goal.event if s.goal else None) if n
        }
        if any(s.trigger.segment_entered and s.exit.on_segment_exit for _, s in journeys):
            names.add("segment.exited")
        if not names:
            return result
        horizon = settled_before(self.session, now)
        rows = self.session.execute(
            select(
                Event.id, Event.contact_id, Event.event, Event.properties, Event.received_at, Event.message_id
            )
            .where(Event.id > result.cursor, Event.event.in_(sorted(names)))
            .order_by(Event.id)
            .limit(batch_size)
        ).all()
        settled = next((i for i, r in enumerate(rows) if r[4] > horizon), len(rows))
        rows = rows[:settled]
        if not rows:
            return result
        for journey, spec in journeys:
            self._journey(journey, spec, rows, now, result)
        wake: dict[str, set[int]] = defaultdict(set)
        for _, cid, name, _, _, _ in rows:
            if name in waiting:
                wake[name].add(cid)
        for name, cids in wake.items():
            for ch in chunked(sorted(cids)):
                result.woken += self.session.execute(
                    update(JourneyEnrolment)
                    .where(
                        JourneyEnrolment.status == literal_column("'active'"),
                        JourneyEnrolment.wait_event == name,
                        JourneyEnrolment.contact_id.in_(ch),
                    )
                    .values(due_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
        result.events = len(rows)
        result.cursor = rows[-1][0]
        put_setting(self.session, CURSOR, result.cursor)
        return result

    def _journey(
        self, journey: Journey, spec: JourneySpec, rows: Sequence[Any], now: datetime, r: FollowResult
    ) -> None:
        """Apply one batch to one journey in event order: a goal (or segment exit) that comes
        before a contact's trigger event ends only the run the contact was already in; one
        that comes after it also ends the run the trigger just started."""
        started = journey.started_at or now
        ends: dict[str, dict[int, list[int]]] = {"goal": {}, "left_segment": {}}
        first_trigger: dict[int, int] = {}
        candidates: list[tuple[int, str, dict[str, Any]]] = []
        for index, (_, cid, name, props, received, mid) in enumerate(rows):
            props = props or {}
            if received < started:
                continue
            if (
                spec.goal
                and spec.exit.on_goal
                and name == spec.goal.event
                and all(property_matches(f, props) for f in spec.goal.where)
            ):
                ends["goal"].setdefault(cid, []).append(index)
            if (
                name == "segment.exited"
                and spec.trigger.segment_entered
                and spec.exit.on_segment_exit
                and props.get("segment") == spec.trigger.segment_entered
            ):
                ends["left_segment"].setdefault(cid, []).append(index)
            if _matches_trigger(spec, name, props):
                first_trigger.setdefault(cid, index)
                candidates.append((cid, _trigger_key(spec, props, mid), props if spec.trigger.event else {}))
        status = {"goal": "converted", "left_segment": "exited"}
        for reason, found in ends.items():  # ends before the trigger: the earlier run only
            early = {c for c, idx in found.items() if c not in first_trigger or min(idx) < first_trigger[c]}
            n = self._finish(journey.id, early, status[reason], reason, now)
            r.converted += n if reason == "goal" else 0
            r.exited += n if reason != "goal" else 0
        n = enrol(self.session, journey, spec, candidates, now)
        r.enrolled += n
        if n:
            r.by_journey[journey.key] = r.by_journey.get(journey.key, 0) + n
        for reason, found in ends.items():  # ends after the trigger: the run it started
            late = {c for c, idx in found.items() if c in first_trigger and max(idx) > first_trigger[c]}
            n = self._finish(journey.id, late, status[reason], reason, now)
            r.converted += n if reason == "goal" else 0
            r.exited += n if reason != "goal" else 0

    def _finish(self, journey_id: int, contact_ids: set[int], status: str, reason: str, now: datetime) -> int:
        """End the contacts' active enrolments; the step they stood at records the outcome."""
        done = 0
        for ch in chunked(sorted(contact_ids)):
            found = self.session.execute(
                select(
                    JourneyEnrolment.id,
                    JourneyEnrolment.contact_id,
                    JourneyEnrolment.step,
                    JourneyEnrolment.variants,
                ).where(
                    JourneyEnrolment.journey_id == journey_id,
                    JourneyEnrolment.status == "active",
                    JourneyEnrolment.contact_id.in_(ch),
                )
            ).all()
            if not found:
                continue
            ids = [f[0] for f in found]
            self.session.execute(
                update(JourneyEnrolment)
                .where(JourneyEnrolment.id.in_(ids), JourneyEnrolment.status == "active")
                .values(status=status, exit_reason=reason, finished_at=now, due_at=None, wait_event=None)
                .execution_options(synchronize_session=False)
            )
            self.session.execute(
                JourneyStepRun.__table__.insert(),
                [
                    {
                        "journey_id": journey_id,
                        "enrolment_id": eid,
                        "contact_id": cid,
                        "step": step or EXIT,
                        "outcome": status,
                        "variant": next(reversed(variants.values()), None) if variants else None,
                        "at": now,
                    }
                    for eid, cid, step, variants in found
                ],
            )
            done += len(found)
        return done


# --- schedules --------------------------------------------------------------------------------
def run_schedules(
    session: Session, now: datetime | None = None, default_timezone: str = "Asia/Shanghai"
) -> int:
    """Broadcasts whose time has come and today's date triggers; returns contacts enrolled."""
    now = now or utcnow()
    total = 0
    for journey in JourneyRepository(session).active():
        spec = spec_of(journey)
        if spec.trigger.broadcast is not None:
            total += _broadcast(session, journey, spec, now)
        elif spec.trigger.date is not None:
            total += _dates(session, journey, spec, now, default_timezone)
    return total


def _broadcast(session: Session, journey: Journey, spec: JourneySpec, now: datetime) -> int:
    b = spec.trigger.broadcast
    assert b is not None
    state = dict(journey.state or {})
    due = datetime.fromisoformat(state.get("next_run") or b.at.isoformat())
    if due.tzinfo is None:
        due = due.replace(tzinfo=now.tzinfo)
    if state.get("done") or now < due:
        return 0
    members = session.scalars(
        select(SegmentMember.contact_id)
        .join(Segment, Segment.id == SegmentMember.segment_id)
        .where(Segment.key == b.segment)
    ).all()
    stamp = due.isoformat()
    n = enrol(
        session,
        journey,
        spec,
        ((c, f"b:{stamp}:{c}", {}) for c in members),
        now,
        recurring=b.every is not None,
    )
    if b.every is None:
        state["done"] = True
    else:
        step = timedelta(days=1 if b.every == "day" else 7)
        while due <= now:
            due += step
        state["next_run"] = due.isoformat()
    state["last_run"] = stamp
    journey.state = state
    session.flush()
    return n


def _dates(session: Session, journey: Journey, spec: JourneySpec, now: datetime, default_tz: str) -> int:
    """Contacts whose date attribute's month and day (minus ``days_before``) is today in their
    time zone and whose local clock has passed ``at``; once per contact per year."""
    d = spec.trigger.date
    assert d is not None
    rows = session.execute(
        select(ContactAttribute.contact_id, ContactAttribute.value).where(
            ContactAttribute.name == d.attribute
        )
    ).all()
    zones = time_zones(session, [c for c, _ in rows], default_tz)
    candidates = []
    for cid, value in rows:
        try:
            when = date.fromisoformat(str(value)[:10])
        except ValueError:
            continue
        tz = zones[cid]
        local_today = now.astimezone(tz).date()
        target = local_today + timedelta(days=d.days_before)
        if (when.month, when.day) != (target.month, target.day) and not (
            (when.month, when.day) == (2, 29)
            and (target.month, target.day) == (2, 28)
            and not _leap(target.year)
        ):
            continue
        if now < day_at(now, 0, d.at, tz):
            continue
        candidates.append((cid, f"d:{target.year}:{cid}", {}))
    return enrol(session, journey, spec, candidates, now, recurring=True)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
