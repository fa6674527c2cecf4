"""Journeys: create, edit, start, pause, enrol lists, and the report. Services never commit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.base import MESSAGE_CHANNELS
from siyu.journeys.engine import spec_of
from siyu.journeys.report import journey_report
from siyu.journeys.repository import JourneyRepository
from siyu.journeys.schemas import JourneySpec, Step, parse_journey
from siyu.journeys.triggers import enrol, init_cursor
from siyu.store.models import (
    ChannelProvider,
    ContentTemplate,
    Journey,
    JourneyEnrolment,
    JourneyVersion,
    Segment,
    utcnow,
)


class JourneyError(ValueError):
    pass


class JourneyNotFound(JourneyError):
    pass


class JourneyConflict(JourneyError):
    pass


class VersionNotFound(JourneyNotFound):
    pass


def record_version(session: Session, journey: Journey, actor: str) -> None:
    """Keep the journey's current document as its version ``journey.version`` (the history
    that siyu.journeys.versions lists and compares)."""
    session.add(
        JourneyVersion(
            journey_id=journey.id,
            version=journey.version,
            definition=journey.definition,
            actor=actor,
            created_at=journey.updated_at,
        )
    )
    session.flush()


def _segments_used(spec: JourneySpec) -> set[str]:
    keys = {k for k in (spec.trigger.segment_entered,) if k}
    if spec.trigger.broadcast:
        keys.add(spec.trigger.broadcast.segment)

    def walk(cond: Any) -> None:
        if cond is None:
            return
        if cond.segment:
            keys.add(cond.segment)
        for c in (cond.all or []) + (cond.any or []):
            walk(c)
        walk(cond.not_)

    for step in spec.steps:
        for route in step.branch.routes if step.branch else []:
            walk(route.when)
    return keys


class JourneyService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = JourneyRepository(session)

    def get(self, key: str) -> Journey:
        j = self.repo.by_key(key)
        if j is None:
            raise JourneyNotFound(f"no journey {key!r}")
        return j

    def list(self) -> list[dict[str, Any]]:
        return [self.summary(j) for j in self.repo.all()]

    @staticmethod
    def summary(j: Journey) -> dict[str, Any]:
        spec = spec_of(j)
        return {
            "key": j.key,
            "name": j.name,
            "status": j.status,
            "version": j.version,
            "trigger": spec.trigger.kind,
            "steps": len(spec.steps),
            "started_at": j.started_at.isoformat() if j.started_at else None,
        }

    def create(self, raw: Any, actor: str = "system") -> Journey:
        spec = parse_journey(raw)
        if self.repo.by_key(spec.key) is not None:
            raise JourneyConflict(f"journey {spec.key!r} already exists")
        j = Journey(
            key=spec.key, name=spec.name, status="draft", definition=_stored(raw), version=1, state={}
        )
        self.session.add(j)
        self.session.flush()
        record_version(self.session, j, actor)
        audit.record(self.session, actor, "journey.created", "journey", j.key)
        return j

    def update(self, key: str, raw: Any, actor: str = "system") -> Journey:
        """A new version, also of a running journey (docs/journeys.md, "Editing a running
        journey"): contacts inside stay at the step id they stand at and go on with the new
        version from there; a wait already scheduled keeps its deadline; a contact whose step
        is gone leaves (``step_removed``). A running journey's new version must pass the same
        reference checks as ``start``, so an edit cannot break messages already under way."""
        j = self.get(key)
        spec = parse_journey(raw)
        if spec.key != key:
            raise JourneyError(f"key: the document is for {spec.key!r}, not {key!r}")
        if j.status == "archived":
            raise JourneyConflict(f"journey {key!r} is archived")
        if j.status == "active":
            problems = self.check_references(spec)
            if problems:
                raise JourneyError("; ".join(problems))
        stranded = self.stranded(j, spec)
        j.definition, j.name, j.version, j.updated_at = _stored(raw), spec.name, j.version + 1, utcnow()
        self.session.flush()
        record_version(self.session, j, actor)
        audit.record(
            self.session,
            actor,
            "journey.updated",
            "journey",
            key,
            {"version": j.version, "status": j.status, "leaving": stranded},
        )
        return j

    def stranded(self, j: Journey, spec: JourneySpec) -> dict[str, int]:
        """Active contacts per step that the new version ``spec`` no longer has: they leave
        when their step comes due (the editor warns before saving)."""
        ids = {s.id for s in spec.steps}
        rows = self.session.execute(
            select(JourneyEnrolment.step, func.count())
            .where(JourneyEnrolment.journey_id == j.id, JourneyEnrolment.status == "active")
            .group_by(JourneyEnrolment.step)
        )
        return {str(step): int(n) for step, n in rows if step is not None and step not in ids}

    def check_references(self, spec: JourneySpec) -> list[str]:
        """What the journey names but does not exist (templates, segments), or a template on
        the wrong channel."""
        problems = []
        for i, step in enumerate(spec.steps):
            problems += self._provider_problems(i, step)
            if step.send and step.send.template:
                t = self.session.scalar(
                    select(ContentTemplate).where(ContentTemplate.key == step.send.template)
                )
                if t is None:
                    problems.append(f"steps[{i}].send.template: no template {step.send.template!r}")
                elif t.channel != step.send.channel:
                    problems.append(
                        f"steps[{i}].send.template: {t.key!r} is a {t.channel} template, "
                        f"not {step.send.channel}"
                    )
        for key in sorted(_segments_used(spec)):
            if self.session.scalar(select(Segment.id).where(Segment.key == key)) is None:
                problems.append(f"no segment {key!r}")
        return problems

    def _provider_problems(self, i: int, step: Step) -> list[str]:
        """A provider a step names must exist and carry the step's channel (else every message
        of the step would fail at dispatch, after the contacts moved on)."""
        named = [
            (f"steps[{i}].{action}.provider", channel, getattr(step, action).provider)
            for action, channel in (("send", None), ("webhook", "webhook"), ("wecom_tags", "wecom_tag"))
            if getattr(step, action) is not None and getattr(step, action).provider
        ]
        out = []
        for where, channel, key in named:
            channel = channel or (step.send.channel if step.send else "")
            kind = self.session.scalar(select(ChannelProvider.kind).where(ChannelProvider.key == key))
            if kind is None:
                out.append(f"{where}: no provider {key!r}")
            elif kind not in MESSAGE_CHANNELS.get(channel, ()):
                out.append(f"{where}: {key!r} is a {kind} provider, it cannot send {channel}")
        return out

    def start(self, key: str, actor: str = "system", now: datetime | None = None) -> Journey:
        j = self.get(key)
        if j.status == "archived":
            raise JourneyConflict(f"journey {key!r} is archived")
        problems = self.check_references(spec_of(j))
        if problems:
            raise JourneyError("; ".join(problems))
        if j.status != "active":
            init_cursor(self.session)
            j.status = "active"
            j.started_at = j.started_at or now or utcnow()
            self.session.flush()
            audit.record(self.session, actor, "journey.started", "journey", key)
        return j

    def pause(self, key: str, actor: str = "system") -> Journey:
        """Paused: no step runs and nobody enters; waiting contacts resume where they stand."""
        j = self.get(key)
        if j.status == "active":
            j.status = "paused"
            self.session.flush()
            audit.record(self.session, actor, "journey.paused", "journey", key)
        return j

    def archive(self, key: str, actor: str = "system") -> Journey:
        j = self.get(key)
        j.status = "archived"
        self.session.flush()
        audit.record(self.session, actor, "journey.archived", "journey", key)
        return j

    def enrol(
        self, key: str, contact_ids: Sequence[int], label: str = "api", now: datetime | None = None
    ) -> int:
        """Enrol contacts directly (a CSV list, the API); the entry rules still apply. The
        ``label`` (e.g. the file's digest) makes re-submitting the same list harmless."""
        j = self.get(key)
        if j.status != "active":
            raise JourneyConflict(f"start journey {key!r} before enrolling contacts")
        tag = hashlib.sha256(label.encode()).hexdigest()[:16]
        return enrol(
            self.session, j, spec_of(j), ((c, f"l:{tag}:{c}", {}) for c in contact_ids), now or utcnow()
        )

    def report(self, key: str) -> dict[str, Any]:
        return journey_report(self.session, self.get(key))


def _stored(raw: Any) -> dict[str, Any]:
    """The document as given (JSON-safe): what `show` prints back."""
    import orjson

    return orjson.loads(orjson.dumps(raw, default=str))
