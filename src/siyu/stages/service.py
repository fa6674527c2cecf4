"""Journey stages: assign them by rules, set them by hand (or from a journey), report them.

Assignment is one warehouse query. Every rule's ``when`` is compiled by one segment compiler
instance, so all behavioural aggregates of all rules come from a single scan of ``events``
grouped by contact, and a ``CASE WHEN rule0 THEN 0 WHEN rule1 THEN 1 … ELSE -1 END`` picks the
first matching rule for every live contact. The result is compared with the warehouse's
mirror of the current stages (``contact_stages``) and only contacts whose stage changed are
written: the stage row (``since`` = the as-of time), a ``stage_changes`` row, a
``stage.changed`` event and a change-log entry so the mirror follows.

Callers feed the warehouse before assigning and commit, then feed again, after: a second
assignment against a stale mirror would record the same changes twice. Services never commit.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Select

from siyu.audit import service as audit
from siyu.segments.catalog import Catalog, resolve
from siyu.segments.compiler import compile_many
from siyu.segments.repository import SegmentRepository
from siyu.segments.schemas import STAGES, SegmentDefinitionError
from siyu.stages.repository import StageRepository
from siyu.stages.schemas import (
    DEFAULT_RULES,
    DEFAULT_STAGE,
    RULES_SETTING,
    StageRule,
    StageRulesError,
    parse_rules,
)
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import Contact, utcnow
from siyu.store.settings import get_setting, put_setting
from siyu.warehouse.query import CONTACTS, fetch_arrow
from siyu.warehouse.query import STAGES as STAGE_MIRROR
from siyu.warehouse.store import Warehouse

EVENT = "stage.changed"


class StageError(ValueError):
    pass


@dataclass
class StageResult:
    as_of: str
    #: live contacts classified
    evaluated: int
    #: contacts whose stage changed (and were written)
    changed: int
    #: stage → contacts in it after this assignment (every stage listed)
    stages: dict[str, int]
    #: [{"from": stage or None, "to": stage, "count": n}], largest first
    transitions: list[dict[str, Any]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _reason(rule: int, stage: str) -> str:
    return f"rules[{rule}]: {stage}" if rule >= 0 else f"default: {stage}"


def _flows(pairs: Counter[tuple[str | None, str]]) -> list[dict[str, Any]]:
    return [
        {"from": f, "to": t, "count": n}
        for (f, t), n in sorted(pairs.items(), key=lambda x: (-x[1], x[0][0] or "", x[0][1]))
    ]


def classify_query(rules: Sequence[StageRule], catalog: Catalog, as_of: datetime) -> Select[Any]:
    """``contact_id, rule, stage, current, changed`` for every live contact in the warehouse:
    ``rule`` is the index of the first matching rule (-1: none, so ``acquisition``),
    ``current`` the stage in the warehouse mirror."""
    nodes = [(rule.when, f"rules[{i}].when") for i, rule in enumerate(rules)]
    conds, scan = compile_many(nodes, catalog, as_of)
    first = case(*((c, literal(i)) for i, c in enumerate(conds)), else_=literal(-1)) if conds else literal(-1)
    mirror = STAGE_MIRROR.alias("cur")
    current = select(func.min(mirror.c.stage)).where(mirror.c.contact_id == CONTACTS.c.id).scalar_subquery()
    inner = scan.query().add_columns(first.label("rule"), current.label("current")).subquery("classified")
    stage = (
        case({i: r.stage for i, r in enumerate(rules)}, value=inner.c.rule, else_=literal(DEFAULT_STAGE))
        if rules
        else literal(DEFAULT_STAGE)
    )
    return select(
        inner.c.contact_id,
        inner.c.rule,
        stage.label("stage"),
        inner.c.current,
        stage.is_distinct_from(inner.c.current).label("changed"),
    )


class StageService:
    def __init__(self, session: Session, warehouse: Warehouse | None = None) -> None:
        self.session = session
        self.repo = StageRepository(session)
        self.wh = warehouse

    def _warehouse(self) -> Warehouse:
        if self.wh is None:  # journeys set stages by hand without opening the warehouse
            raise StageError("assigning stages by rule needs the warehouse")
        return self.wh

    # --- rules --------------------------------------------------------------------------------
    def _rules(self) -> list[StageRule]:
        stored = get_setting(self.session, RULES_SETTING)
        return parse_rules(DEFAULT_RULES if stored is None else stored)

    def rules(self) -> list[dict[str, Any]]:
        return [rule.dump() for rule in self._rules()]

    def set_rules(self, raw: Any, actor: str = "system") -> list[dict[str, Any]]:
        """Replace the rules (validated, names resolved); stages follow at the next
        :meth:`assign`."""
        rules = parse_rules(raw)
        self._compile(rules, utcnow())  # an unknown tag, channel or segment fails here
        dumped = [rule.dump() for rule in rules]
        put_setting(self.session, RULES_SETTING, dumped)
        audit.record(self.session, actor, "stages.rules_set", "setting", RULES_SETTING, {"rules": dumped})
        return dumped

    def _catalog(self, rules: Sequence[StageRule]) -> Catalog:
        return resolve(SegmentRepository(self.session), [rule.when for rule in rules])

    def _compile(self, rules: Sequence[StageRule], as_of: datetime) -> Select[Any]:
        try:
            return classify_query(rules, self._catalog(rules), as_of)
        except StageRulesError:
            raise
        except SegmentDefinitionError as exc:
            raise StageRulesError(exc.path, exc.message) from None

    # --- assignment ---------------------------------------------------------------------------
    def preview(self, raw: Any = None, as_of: datetime | None = None) -> dict[str, int]:
        """Contacts per stage that the given rules (default: the stored ones) would assign now,
        without writing anything."""
        rules = self._rules() if raw is None else parse_rules(raw)
        table = fetch_arrow(self._warehouse().conn, self._compile(rules, _aware(as_of or utcnow())))
        return self._counts(table.column("stage"))

    def assign(self, as_of: datetime | None = None) -> StageResult:
        """Classify every live contact as of ``as_of`` (default now) and record the changes."""
        started = time.perf_counter()
        at = _aware(as_of or utcnow())
        table = fetch_arrow(self._warehouse().conn, self._compile(self._rules(), at))
        moved = table.filter(table.column("changed")).select(["contact_id", "rule", "stage", "current"])
        stamp = at.strftime("%Y%m%dT%H%M%S%f")
        rows = [
            (
                r["contact_id"],
                r["current"],
                r["stage"],
                _reason(r["rule"], r["stage"]),
                f"{EVENT}:{r['contact_id']:012d}:{r['current'] or '-'}:{r['stage']}:{stamp}",
            )
            for r in moved.to_pylist()
        ]
        self._record(rows, at, {})
        return StageResult(
            as_of=at.isoformat(),
            evaluated=table.num_rows,
            changed=len(rows),
            stages=self._counts(table.column("stage")),
            transitions=_flows(Counter((f, t) for _, f, t, _, _ in rows)),
            seconds=round(time.perf_counter() - started, 4),
        )

    def set_stage(
        self, contact_id: int, stage: str, reason: str, actor: str = "system", at: datetime | None = None
    ) -> dict[str, Any] | None:
        """Put a contact in ``stage`` by hand or from a journey step, recorded like a rule
        change (history, event, change log) plus an audit entry. Returns the change, or None
        when the contact already is in that stage. The next :meth:`assign` re-applies the
        rules, so a rule-driven stage overrides a manual one then."""
        if stage not in STAGES:
            raise StageError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
        contact = self.session.get(Contact, contact_id)
        if contact is None:
            raise StageError(f"no contact {contact_id}")
        if contact.merged_into_id is not None:
            raise StageError(f"contact {contact_id} was merged into {contact.merged_into_id}")
        current = self.repo.current(contact_id)
        before = current.stage if current is not None else None
        if before == stage:
            return None
        when = _aware(at or utcnow())
        why = reason.strip()[:100] or "manual"
        mid = f"{EVENT}:{contact_id:012d}:manual:{uuid.uuid4().hex}"
        self._record([(contact_id, before, stage, why, mid)], when, {"actor": actor})
        audit.record(
            self.session,
            actor,
            "stage.set",
            "contact",
            contact_id,
            {"from": before, "to": stage, "reason": why},
        )
        return {"contact_id": contact_id, "from": before, "to": stage, "reason": why, "at": when.isoformat()}

    def _record(
        self,
        rows: Sequence[tuple[int, str | None, str, str, str]],
        at: datetime,
        extra: dict[str, Any],
    ) -> None:
        """Write (contact, from, to, reason, message id) changes in bulk."""
        if not rows:
            return
        self.repo.set_stages([(cid, to) for cid, _, to, _, _ in rows], at)
        self.repo.add_changes(
            [
                {"contact_id": cid, "from_stage": f, "to_stage": to, "reason": why, "at": at}
                for cid, f, to, why, _ in rows
            ]
        )
        emit_events(
            self.session,
            EVENT,
            ((mid, cid, {"from": f, "to": to, "reason": why, **extra}) for cid, f, to, why, mid in rows),
            at,
        )
        note_changed(self.session, [cid for cid, *_ in rows])

    @staticmethod
    def _counts(stages: Any) -> dict[str, int]:
        counts = {stage: 0 for stage in STAGES}
        for item in pc.value_counts(stages).to_pylist():
            counts[item["values"]] = int(item["counts"])
        return counts

    # --- reading ------------------------------------------------------------------------------
    def stage_of(self, contact_id: int) -> str | None:
        current = self.repo.current(contact_id)
        return None if current is None else current.stage

    def history(self, contact_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """A contact's stage changes, oldest first."""
        return [
            {"from": c.from_stage, "to": c.to_stage, "reason": c.reason, "at": _aware(c.at).isoformat()}
            for c in self.repo.history(contact_id, limit)
        ]

    def distribution(self) -> dict[str, int]:
        """Contacts per stage in the system of record (every stage listed)."""
        counts = {stage: 0 for stage in STAGES}
        counts.update(self.repo.counts())
        return counts

    def flow(self, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        """From → to counts of the changes recorded in ``[since, until)``; ``from`` is None for
        a contact's first stage."""
        pairs = Counter({(f, t): n for f, t, n in self.repo.flow(since, until)})
        return _flows(pairs)
