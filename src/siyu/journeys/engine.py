"""The journey engine: claims due enrolments in batches and runs their steps until each one
waits, is held, or leaves the journey — all in one transaction, so a killed worker leaves the
batch exactly as it was (the outbox rows it decided roll back with the state change) and the
next claim runs it again.

Steps run grouped: every enrolment of the batch standing at the same step of the same journey
is handled by one call of that step's handler (one query per condition, one render and one
outbox insert per send), which is what makes thousands of steps per second possible."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.config import DEFAULT_FREQUENCY_CAPS
from siyu.journeys.repository import JourneyRepository
from siyu.journeys.schemas import EXIT, Cap, JourneySpec, QuietHours, Step, parse_journey
from siyu.profiles.pii import Keyring
from siyu.store.dialect import chunked
from siyu.store.models import Journey, OutboxMessage, utcnow

log = logging.getLogger("siyu.journeys")

#: Steps one enrolment may run in one claim; a longer run (a loop of branches without a wait)
#: is parked for a minute rather than spinning.
MAX_STEPS_PER_CLAIM = 50
#: Default hard ceilings of messages to one contact from one journey (see ``Limits``): a
#: legal loop (with a wait) still stops here instead of messaging a contact for ever.
MAX_SENDS_PER_ENROLMENT = 50
MAX_SENDS_PER_CONTACT = 200
#: Outbox channels that are system calls, not messages to the customer.
NOT_MESSAGES = ("webhook", "wecom_tag")


@dataclass
class EngineConfig:
    public_url: str = "http://127.0.0.1:8000"
    default_timezone: str = "Asia/Shanghai"
    #: global, on top of each journey's; on by default (the settings' default), like the worker
    caps: list[Cap] = field(default_factory=lambda: [Cap.model_validate(c) for c in DEFAULT_FREQUENCY_CAPS])
    quiet_hours: QuietHours | None = None  # global default when a journey keeps the default
    marketing_consent_default: bool = False
    max_sends_per_enrolment: int = MAX_SENDS_PER_ENROLMENT  # unless the journey sets its own
    max_sends_per_contact: int = MAX_SENDS_PER_CONTACT


@dataclass
class Enrolment:
    """Working copy of a claimed enrolment."""

    id: int
    journey_id: int
    contact_id: int
    step: str | None
    due_at: datetime | None
    wait_event: str | None
    variants: dict[str, str]
    data: dict[str, Any]
    entered_at: datetime
    status: str = "active"
    finished_at: datetime | None = None
    exit_reason: str | None = None
    ran: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "status": self.status,
            "step": self.step,
            "due_at": self.due_at,
            "wait_event": self.wait_event,
            "variants": self.variants,
            "data": self.data,
            "finished_at": self.finished_at,
            "exit_reason": self.exit_reason,
        }

    @property
    def variant(self) -> str | None:
        """The newest A/B variant this enrolment was assigned (templates pick it up)."""
        return next(reversed(self.variants.values()), None) if self.variants else None


@lru_cache(maxsize=256)
def _spec(journey_id: int, version: int, definition: str) -> JourneySpec:
    import orjson

    return parse_journey(orjson.loads(definition))


def spec_of(journey: Journey) -> JourneySpec:
    import orjson

    return _spec(journey.id, journey.version, orjson.dumps(journey.definition).decode())


@dataclass
class RunStats:
    claimed: int = 0
    steps: int = 0
    queued: int = 0  # outbox rows written
    finished: int = 0
    lags: list[float] = field(default_factory=list)


#: A step handler gets the enrolments standing at ``step`` and returns those that go on now,
#: each with the step they go to; the others it has parked (set ``due_at``/``wait_event``) or
#: finished.
Handler = Callable[["Run", JourneySpec, Step, list[Enrolment]], list[tuple[Enrolment, str]]]


class Run:
    """One claim: the batch, its clock and what it writes (step log, outbox rows)."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.engine = engine
        self.session = engine.session
        self.config = engine.config
        self.keyring = engine.keyring
        self.now = now
        self.journeys: dict[int, Journey] = {}
        self.log: list[dict[str, Any]] = []
        self.stats = RunStats()

    def record(self, enr: Enrolment, step: str, outcome: str, detail: str | None = None) -> None:
        self.log.append(
            {
                "journey_id": enr.journey_id,
                "enrolment_id": enr.id,
                "contact_id": enr.contact_id,
                "step": step,
                "outcome": outcome,
                "variant": enr.variant,
                "detail": detail[:500] if detail else None,
                "at": self.now,
            }
        )

    def finish(self, enr: Enrolment, status: str, reason: str) -> None:
        enr.status, enr.exit_reason, enr.finished_at = status, reason, self.now
        enr.step = enr.due_at = enr.wait_event = None
        self.stats.finished += 1


class Engine:
    def __init__(self, session: Session, keyring: Keyring, config: EngineConfig | None = None) -> None:
        self.session = session
        self.keyring = keyring
        self.config = config or EngineConfig()
        self.repo = JourneyRepository(session)

    def _handle(
        self, run: Run, handler: Handler, spec: JourneySpec, step: Step, group: list[Enrolment]
    ) -> list[tuple[Enrolment, str]]:
        """Run one step for a group inside a savepoint: a step that fails (a bug, a broken
        reference) is rolled back alone and retried a minute later, instead of failing the
        whole claim again and again and holding up every other journey."""
        mark = len(run.log)
        saved = [(e, e.step, e.due_at, e.wait_event, dict(e.variants), dict(e.data)) for e in group]
        try:
            with self.session.begin_nested():
                return handler(run, spec, step, group)
        except Exception as exc:
            log.exception("journey %s step %s failed", spec.key, step.id)
            del run.log[mark:]
            for e, st, due, wait, variants, data in saved:
                e.step, e.due_at, e.wait_event, e.variants, e.data = st, due, wait, variants, data
                e.step, e.due_at = step.id, run.now + timedelta(minutes=1)
                run.record(e, step.id, "error", f"{type(exc).__name__}: {exc}")
            return []

    def _under_send_limits(
        self, run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]
    ) -> list[Enrolment]:
        """Those of ``group`` still under the journey's send ceilings; the others exit
        (``send_limit``). An enrolment counts its own messages (``data["sent"]``, saved with
        its state in the same transaction as the outbox rows); the count per contact over
        every enrolment is read from the outbox, and only when re-entry makes it differ."""
        per_enrolment = spec.limits.sends_per_enrolment or self.config.max_sends_per_enrolment
        per_contact = spec.limits.sends_per_contact or self.config.max_sends_per_contact
        by_contact: dict[int, int] = defaultdict(int)
        if spec.entry.reentry or per_contact < per_enrolment:
            for ch in chunked(sorted({e.contact_id for e in group})):
                for cid, n in self.session.execute(
                    select(OutboxMessage.contact_id, func.count())
                    .where(
                        OutboxMessage.journey_id == group[0].journey_id,
                        OutboxMessage.contact_id.in_(ch),
                        OutboxMessage.channel.notin_(NOT_MESSAGES),
                    )
                    .group_by(OutboxMessage.contact_id)
                ):
                    by_contact[cid] = int(n)
        under: list[Enrolment] = []
        for e in group:
            sent = int(e.data.get("sent", 0))
            if sent >= per_enrolment:
                over = f"{sent} messages in this enrolment (limit {per_enrolment})"
            elif by_contact[e.contact_id] >= per_contact:
                over = f"{by_contact[e.contact_id]} messages to this contact (limit {per_contact})"
            else:
                under.append(e)
                continue
            run.record(e, step.id, "send_limit", over)
            run.finish(e, "exited", "send_limit")
        return under

    @staticmethod
    def _count_sent(run: Run, group: list[Enrolment], since: int) -> None:
        """Adds the messages a send step queued (its ``queued`` records) to each enrolment's count."""
        queued = Counter(r["enrolment_id"] for r in run.log[since:] if r["outcome"] == "queued")
        for e in group:
            if queued[e.id]:
                e.data["sent"] = int(e.data.get("sent", 0)) + queued[e.id]

    def run_due(self, limit: int = 1000, now: datetime | None = None) -> RunStats:
        """Claim up to ``limit`` due enrolments and run them (the caller commits)."""
        from siyu.journeys.steps import HANDLERS

        run = Run(self, now or utcnow())
        journeys = {j.id: j for j in self.repo.active()}
        rows = self.repo.claim_due(run.now, list(journeys), limit)
        run.journeys = journeys
        run.stats.claimed = len(rows)
        if not rows:
            return run.stats
        enrolments = [Enrolment(*r) for r in rows]
        for e in enrolments:
            e.variants, e.data = dict(e.variants or {}), dict(e.data or {})
            run.stats.lags.append((run.now - e.due_at).total_seconds() if e.due_at else 0.0)
        pending: dict[tuple[int, str], list[Enrolment]] = defaultdict(list)
        for e in enrolments:
            pending[(e.journey_id, e.step or EXIT)].append(e)
        while pending:
            (jid, step_id), group = pending.popitem()
            spec = spec_of(journeys[jid])
            if step_id == EXIT:
                for e in group:
                    run.finish(e, "completed", "end")
                continue
            try:
                step = spec.step(step_id)
            except KeyError:  # the journey was edited and this step is gone
                for e in group:
                    run.record(e, step_id, "failed", "step no longer exists")
                    run.finish(e, "exited", "step_removed")
                continue
            run.stats.steps += len(group)
            for e in group:
                e.ran += 1
                if step_id not in (e.data.get("waited"), e.data.get("wait_step"), e.data.get("held")):
                    run.record(e, step_id, "entered")  # not again when resuming a wait or a hold
                    visits = e.data.setdefault("visits", {})
                    visits[step_id] = int(visits.get(step_id, 0)) + 1
            if step.send:
                group = self._under_send_limits(run, spec, step, group)
                if not group:
                    continue
            mark = len(run.log)
            moves = self._handle(run, HANDLERS[step.action], spec, step, group)
            if step.send:
                self._count_sent(run, group, mark)
            for e, nxt in moves:
                e.step, e.due_at, e.wait_event = nxt, run.now, None
                if e.ran >= MAX_STEPS_PER_CLAIM and nxt != EXIT:
                    e.due_at = run.now + timedelta(minutes=1)
                    continue
                pending[(jid, nxt)].append(e)
        self.repo.save([e.row() for e in enrolments])
        self.repo.log(run.log)
        return run.stats
