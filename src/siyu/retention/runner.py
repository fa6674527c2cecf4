"""One retention run: every policy that is on, slice by slice, each slice its own committed
unit of work (the CLI, REST, the Python API and ``siyu serve``'s background round use this).

A run reports what it removed per policy; a dry run counts what a run would remove now and
changes nothing. The last real run is kept (``retention.last_run``) for the console.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from siyu.audit import service as audit
from siyu.retention.schemas import ALL_EVENTS, EventRule, RetentionPolicies
from siyu.retention.service import RetentionService
from siyu.store.engine import Database

log = logging.getLogger("siyu.retention")

#: One slice of a policy's work (or its count) in a unit of work.
SliceWork = Callable[[RetentionService], int]
#: Event ids per slice: a slice scans this many rows by primary key and commits.
EVENT_SLICE = 50_000


@dataclass
class RetentionRun:
    dry_run: bool
    started_at: str
    finished_at: str | None = None
    policies: dict[str, Any] = field(default_factory=dict)
    #: per policy: events per rule, contacts deleted, outbox bodies blanked, audit entries removed
    removed: dict[str, Any] = field(default_factory=dict)
    #: policies that are off
    off: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return asdict(self)


def _rules_in_order(rules: list[EventRule]) -> list[EventRule]:
    """Named rules first, then ``*`` (which covers every name no other rule names)."""
    return sorted(rules, key=lambda r: r.event == ALL_EVENTS)


def run_retention(
    db: Database, now: datetime | None = None, dry_run: bool = False, actor: str = "retention"
) -> RetentionRun:
    now = now or datetime.now(UTC)
    with db.sessionmaker() as s:
        policies = RetentionService(s).policies()
    run = RetentionRun(dry_run=dry_run, started_at=now.isoformat(), policies=policies.dump())
    steps = (
        ("events", bool(policies.events), _events),
        ("inactive_contacts", policies.inactive_contacts_years is not None, _contacts),
        ("outbox_bodies", policies.outbox_body_days is not None, _outbox),
        ("audit_entries", policies.audit_years is not None, _audit),
    )
    for name, on, step in steps:
        if not on:
            run.off.append(name)
            run.removed[name] = {} if name == "events" else 0
            continue
        try:
            run.removed[name] = step(db, policies, now, dry_run, actor)
        except Exception as exc:  # one failing policy must not stop the others; reported
            log.exception("retention policy %s failed", name)
            run.errors.append(f"{name}: {exc}")
            run.removed.setdefault(name, {} if name == "events" else 0)
    run.finished_at = datetime.now(UTC).isoformat()
    if not dry_run:
        with db.session() as s:
            RetentionService(s).save_run(run.dump())
            audit.record(
                s, actor, "retention.run", "retention", None, {"removed": run.removed, "errors": run.errors}
            )
    return run


def _events(
    db: Database, policies: RetentionPolicies, now: datetime, dry_run: bool, _actor: str
) -> dict[str, int]:
    rules = _rules_in_order(policies.events)
    counts = {r.event: 0 for r in rules}
    if dry_run:
        with db.sessionmaker() as s:
            service = RetentionService(s)
            return {r.event: service.count_events(r, rules, now) for r in rules}
    with db.sessionmaker() as s:
        after, through = RetentionService(s).event_span()
    while after < through:
        upper = min(after + EVENT_SLICE, through)
        with db.session() as s:
            service = RetentionService(s)
            for rule in rules:
                counts[rule.event] += service.remove_events(rule, rules, now, after, upper)
        after = upper
    return counts


def _slices(db: Database, dry_run: bool, count: SliceWork, remove: SliceWork) -> int:
    """``count`` once for a dry run; else ``remove`` slice after slice, each slice committed,
    until a slice removes nothing."""
    if dry_run:
        with db.sessionmaker() as s:
            return count(RetentionService(s))
    total = 0
    while True:
        with db.session() as s:
            removed = remove(RetentionService(s))
        total += removed
        if not removed:
            return total


def _contacts(db: Database, policies: RetentionPolicies, now: datetime, dry_run: bool, _actor: str) -> int:
    years = policies.inactive_contacts_years
    assert years is not None
    return _slices(
        db,
        dry_run,
        lambda service: service.count_inactive_contacts(years, now),
        lambda service: service.remove_inactive_contacts(years, now),
    )


def _outbox(db: Database, policies: RetentionPolicies, now: datetime, dry_run: bool, _actor: str) -> int:
    days = policies.outbox_body_days
    assert days is not None
    return _slices(
        db,
        dry_run,
        lambda service: service.count_outbox_bodies(days, now),
        lambda service: service.remove_outbox_bodies(days, now),
    )


def _audit(db: Database, policies: RetentionPolicies, now: datetime, dry_run: bool, actor: str) -> int:
    years = policies.audit_years
    assert years is not None
    return _slices(
        db,
        dry_run,
        lambda service: service.count_audit_entries(years, now),
        lambda service: service.remove_audit_entries(years, now, actor),
    )


def is_due(db: Database, interval_s: float, now: datetime | None = None) -> bool:
    """Whether ``siyu serve`` should run retention: no run yet, or the last began
    ``interval_s`` ago (kept in the database, so several server processes share it)."""
    now = now or datetime.now(UTC)
    with db.sessionmaker() as s:
        last = RetentionService(s).last_run()
    if not last or not last.get("started_at"):
        return True
    started = datetime.fromisoformat(str(last["started_at"]))
    return (now - started).total_seconds() >= interval_s
