"""Fixtures of the journey tests: ``jk`` wraps a system of record (SQLite, and PostgreSQL when
``SIYU_TEST_DATABASE_URL`` is set) with helpers that create contacts, templates and journeys
through the public services, drive every phase (trigger follower, schedules, engine) at an
explicit instant, and read back what the engine wrote (step runs, outbox rows, enrolments).

Time never comes from the wall clock: events are written and then stamped as received at the
instant the test names, so the follower's "settled for 5 s" rule is met by passing a later
``now``. Expected values in the tests are computed by hand (or from the documented formula),
never with the engine's own helpers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from siyu.client import Siyu
from siyu.content.service import ContentService
from siyu.context import AppContext
from siyu.journeys.engine import Engine, EngineConfig, RunStats
from siyu.journeys.service import JourneyService
from siyu.journeys.triggers import FollowResult, TriggerFollower, run_schedules
from siyu.stages.service import StageService
from siyu.store.models import (
    ContactAttribute,
    ContactTag,
    Event,
    Journey,
    JourneyEnrolment,
    JourneyStepRun,
    OutboxMessage,
    Segment,
    SegmentMember,
    Tag,
)
from siyu.tags.service import TagService

#: Monday 4 May 2026, 10:00 in Asia/Shanghai (the default zone): outside the default quiet hours.
T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
#: When the test journeys start: before anything the tests write.
STARTED = T0 - timedelta(days=1)

SMS_BODY: dict[str, Any] = {
    "template_code": "SMS_1",
    "params": {"name": "{{ name }}"},
    "text": "Hi {{ name }}",
}
WEBHOOK_BODY: dict[str, Any] = {"event": "x", "data": {"name": "{{ name }}"}}


def at(**delta: float) -> datetime:
    """``T0`` plus a timedelta (``at(hours=2)``)."""
    return T0 + timedelta(**delta)


def sms_step(step_id: str, template: str = "hello", **send: Any) -> dict[str, Any]:
    return {"id": step_id, "send": {"channel": "sms", "template": template, **send}}


class JourneyKit:
    """Test modules cannot import this file (``--import-mode=importlib``): the helpers above
    are reachable as attributes of the fixture too."""

    T0 = T0
    STARTED = STARTED
    SMS_BODY = SMS_BODY
    WEBHOOK_BODY = WEBHOOK_BODY
    at = staticmethod(at)
    sms_step = staticmethod(sms_step)

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.client = Siyu(ctx)
        self.uids: dict[int, str] = {}
        self._seq = itertools.count(1)

    # --- contacts and content -------------------------------------------------------------------
    def contact(
        self, uid: str | None = None, phone: bool = True, wecom: str | None = None, **traits: Any
    ) -> int:
        """A contact known by a customer_no, with a phone (unless ``phone=False``), a WeCom
        external user id when given, and traits (``name`` defaults to ``N<n>``)."""
        n = next(self._seq)
        uid = uid or f"u{n}"
        if phone:
            traits.setdefault("phone", f"+86139{n:08d}")
        traits.setdefault("name", f"N{n}")
        identifiers = {"customer_no": uid, **({"wecom_external_userid": wecom} if wecom else {})}
        result = self.client.identify(identifiers, traits)
        assert result.rejected == [], result.rejected
        with self.ctx.db.session() as s:
            cid = self.ctx.profiles(s).resolve(self.ctx.parser.parse("customer_no", uid))
        assert cid is not None
        self.uids[cid] = uid
        return cid

    def template(
        self,
        key: str = "hello",
        channel: str = "sms",
        body: dict[str, Any] | None = None,
        variants: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        default = SMS_BODY if channel == "sms" else WEBHOOK_BODY
        with self.ctx.db.session() as s:
            ContentService(s).create_template(
                {
                    "key": key,
                    "name": key,
                    "channel": channel,
                    "body": body or default,
                    "variants": variants or {},
                }
            )

    def segment(self, key: str, members: list[int], entered_at: datetime = T0) -> int:
        """A segment with these members, written directly (branch conditions and broadcasts only
        read the membership)."""
        with self.ctx.db.session() as s:
            seg = Segment(key=key, name=key, kind="static", definition={})
            s.add(seg)
            s.flush()
            for cid in members:
                s.add(SegmentMember(segment_id=seg.id, contact_id=cid, entered_at=entered_at))
            return int(seg.id)

    def consent(self, cid: int, granted: bool, channel: str = "sms", purpose: str = "marketing") -> None:
        self.client.set_consent(f"id:{cid}", purpose, granted, channel=channel)

    # --- journeys -------------------------------------------------------------------------------
    def journey(
        self,
        steps: list[dict[str, Any]],
        trigger: dict[str, Any] | None = None,
        key: str = "j",
        start: bool = True,
        prime: bool = True,
        started_at: datetime = STARTED,
        **extra: Any,
    ) -> int:
        """Create (and start) a journey; ``prime`` runs the follower once so its cursor exists
        before the test writes events."""
        doc = {"key": key, "name": key, "trigger": trigger or {"list": True}, "steps": steps, **extra}
        with self.ctx.db.session() as s:
            j = JourneyService(s).create(doc)
            if start:
                JourneyService(s).start(key, now=started_at)
            jid = j.id
        if prime:
            self.follow(started_at)
        return jid

    def journey_id(self, key: str = "j") -> int:
        with self.ctx.db.session() as s:
            jid = s.scalar(select(Journey.id).where(Journey.key == key))
        assert jid is not None
        return int(jid)

    def enrol(self, cids: list[int], now: datetime = T0, key: str = "j", label: str = "test") -> int:
        with self.ctx.db.session() as s:
            return JourneyService(s).enrol(key, cids, label=label, now=now)

    def pause(self, key: str = "j") -> None:
        with self.ctx.db.session() as s:
            JourneyService(s).pause(key)

    def resume(self, key: str = "j", now: datetime = T0) -> None:
        with self.ctx.db.session() as s:
            JourneyService(s).start(key, now=now)

    def update(self, doc: dict[str, Any], key: str = "j") -> None:
        with self.ctx.db.session() as s:
            JourneyService(s).update(key, doc)

    # --- phases ---------------------------------------------------------------------------------
    def config(self, **overrides: Any) -> EngineConfig:
        """The engine's settings; marketing consent defaults to granted and there are no global
        frequency caps unless a test says otherwise (tests of caps set their own)."""
        return EngineConfig(**{"marketing_consent_default": True, "caps": [], **overrides})

    def run(self, now: datetime, limit: int = 1000, **config: Any) -> RunStats:
        with self.ctx.db.session() as s:
            return Engine(s, self.ctx.keyring, self.config(**config)).run_due(limit, now=now)

    def run_until_idle(self, now: datetime, **config: Any) -> int:
        """Run claims at ``now`` until nothing is due; the steps run."""
        steps = 0
        for _ in range(20):
            stats = self.run(now, **config)
            steps += stats.steps
            if stats.claimed == 0:
                return steps
        raise AssertionError("the engine never became idle")

    def follow(self, now: datetime) -> FollowResult:
        with self.ctx.db.session() as s:
            return TriggerFollower(s).run(now=now)

    def schedules(self, now: datetime, default_timezone: str = "Asia/Shanghai") -> int:
        with self.ctx.db.session() as s:
            return run_schedules(s, now=now, default_timezone=default_timezone)

    # --- events ---------------------------------------------------------------------------------
    def track(self, cid: int, event: str, when: datetime, **properties: Any) -> str:
        """A customer event through the ingest API, received at ``when``."""
        mid = f"ev-{next(self._seq)}"
        result = self.client.track(
            event, {"customer_no": self.uids[cid]}, properties, timestamp=when, message_id=mid
        )
        assert result.rejected == [], result.rejected
        with self.ctx.db.session() as s:
            s.execute(update(Event).where(Event.message_id == mid).values(received_at=when))
        return mid

    def restamp(self, after_id: int, when: datetime) -> None:
        """Events written by services at wall-clock time (segments) as received at ``when``."""
        with self.ctx.db.session() as s:
            s.execute(update(Event).where(Event.id > after_id).values(received_at=when, timestamp=when))

    def last_event_id(self) -> int:
        with self.ctx.db.session() as s:
            return int(s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)

    def tag(self, key: str, cids: list[int], when: datetime) -> None:
        """Tag contacts; the ``tag.added`` events (written at wall-clock time) are received at
        ``when``."""
        mark = self.last_event_id()
        with self.ctx.db.session() as s:
            TagService(s).apply(key, cids, create=True, at=when)
        self.restamp(mark, when)

    def stage(self, cid: int, stage: str, when: datetime) -> None:
        with self.ctx.db.session() as s:
            StageService(s, None).set_stage(cid, stage, "test", at=when)  # type: ignore[arg-type]

    def events(self, name: str) -> list[tuple[int, str, dict[str, Any]]]:
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Event.contact_id, Event.message_id, Event.properties)
                .where(Event.event == name)
                .order_by(Event.id)
            ).all()
        return [(int(c), str(m), dict(p or {})) for c, m, p in rows]

    # --- reading --------------------------------------------------------------------------------
    def runs(self, key: str = "j", contact: int | None = None) -> list[tuple[int, str, str]]:
        """(contact, step, outcome) of every step run, in order."""
        jid = self.journey_id(key)
        with self.ctx.db.session() as s:
            q = select(JourneyStepRun.contact_id, JourneyStepRun.step, JourneyStepRun.outcome).where(
                JourneyStepRun.journey_id == jid
            )
            if contact is not None:
                q = q.where(JourneyStepRun.contact_id == contact)
            rows = s.execute(q.order_by(JourneyStepRun.id)).all()
        return [(int(c), str(st), str(o)) for c, st, o in rows]

    def outcomes(self, contact: int, key: str = "j") -> list[tuple[str, str]]:
        """(step, outcome) of one contact's step runs, in order."""
        return [(st, o) for _, st, o in self.runs(key, contact)]

    def step_runs(self, key: str = "j") -> list[dict[str, Any]]:
        jid = self.journey_id(key)
        with self.ctx.db.session() as s:
            rows = s.scalars(
                select(JourneyStepRun).where(JourneyStepRun.journey_id == jid).order_by(JourneyStepRun.id)
            ).all()
            return [
                {
                    "contact": r.contact_id,
                    "enrolment": r.enrolment_id,
                    "step": r.step,
                    "outcome": r.outcome,
                    "variant": r.variant,
                    "detail": r.detail,
                    "at": r.at,
                }
                for r in rows
            ]

    def outbox(self, key: str | None = "j") -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            q = select(OutboxMessage).order_by(OutboxMessage.id)
            if key is not None:
                q = q.where(OutboxMessage.journey_id == self.journey_id(key))
            return [
                {
                    "id": o.id,
                    "key": o.key,
                    "journey_id": o.journey_id,
                    "enrolment_id": o.enrolment_id,
                    "contact": o.contact_id,
                    "step": o.step,
                    "variant": o.variant,
                    "channel": o.channel,
                    "template": o.template,
                    "transactional": o.transactional,
                    "content": o.content,
                    "status": o.status,
                    "local_day": o.local_day,
                    "local_week": o.local_week,
                    "created_at": o.created_at,
                }
                for o in s.scalars(q)
            ]

    def set_outbox(self, ids: list[int], **values: Any) -> None:
        """Stand in for the dispatcher / click tracker: status, sent_at, clicked_at …"""
        with self.ctx.db.session() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))

    def add_outbox(self, cid: int, channel: str, local_day: str, n: int = 1, **values: Any) -> None:
        """Messages sent earlier by something else (another journey, a one-off send)."""
        with self.ctx.db.session() as s:
            for _ in range(n):
                s.add(
                    OutboxMessage(
                        key=f"other:{next(self._seq)}",
                        contact_id=cid,
                        channel=channel,
                        content={"text": "x"},
                        status=values.get("status", "sent"),
                        transactional=values.get("transactional", False),
                        local_day=local_day,
                        local_week="1970-W01",
                        next_attempt_at=T0,
                        created_at=T0,
                    )
                )

    def enrolments(self, key: str = "j") -> list[dict[str, Any]]:
        jid = self.journey_id(key)
        with self.ctx.db.session() as s:
            rows = s.scalars(
                select(JourneyEnrolment)
                .where(JourneyEnrolment.journey_id == jid)
                .order_by(JourneyEnrolment.id)
            ).all()
            return [
                {
                    "id": e.id,
                    "contact": e.contact_id,
                    "trigger_key": e.trigger_key,
                    "status": e.status,
                    "step": e.step,
                    "due_at": e.due_at,
                    "wait_event": e.wait_event,
                    "variants": dict(e.variants or {}),
                    "data": dict(e.data or {}),
                    "entered_at": e.entered_at,
                    "exit_reason": e.exit_reason,
                }
                for e in rows
            ]

    def enrolment(self, cid: int, key: str = "j") -> dict[str, Any]:
        found = [e for e in self.enrolments(key) if e["contact"] == cid]
        assert len(found) == 1, found
        return found[0]

    def tags_of(self, cid: int) -> dict[str, str]:
        """Tag key → source of a contact's tags."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Tag.key, ContactTag.source)
                .join(Tag, Tag.id == ContactTag.tag_id)
                .where(ContactTag.contact_id == cid)
            ).all()
        return {str(k): str(src) for k, src in rows}

    def attribute(self, cid: int, name: str) -> Any:
        with self.ctx.db.session() as s:
            return s.scalar(
                select(ContactAttribute.value).where(
                    ContactAttribute.contact_id == cid, ContactAttribute.name == name
                )
            )

    def report(self, key: str = "j") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return JourneyService(s).report(key)

    def step_report(self, step: str, key: str = "j") -> dict[str, Any]:
        return next(item for item in self.report(key)["steps"] if item["id"] == step)


@pytest.fixture
def jk(ctx: AppContext) -> JourneyKit:
    return JourneyKit(ctx)
