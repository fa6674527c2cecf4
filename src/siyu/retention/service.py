"""Retention policies and the work of applying them, one bounded step at a time.

Each method here removes one slice (an id range of events, a thousand contacts, a few thousand
message bodies, a range of audit entries) inside the caller's unit of work and never commits:
``siyu.retention.runner`` commits each slice, so a big first run never holds SQLite's single
write lock (and ingest) for long.

Two rules keep the warehouse and the tables' ids consistent:
* the row with the highest id of ``events`` and ``contacts`` is never deleted (SQLite gives a
  new row the highest id + 1, so deleting the newest row would hand its id out again, and the
  warehouse feed, which follows ids, would skip the new row);
* every deletion of events or contacts is logged in ``warehouse_removals`` in the same
  transaction; the warehouse feeder applies the log, so the DuckDB copy loses the same rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from siyu.audit import chain
from siyu.audit import service as audit
from siyu.retention.contacts import delete_contacts
from siyu.retention.schemas import ALL_EVENTS, EventRule, RetentionPolicies
from siyu.store.models import SYSTEM_EVENTS, AuditEntry, Contact, Event, OutboxMessage, WarehouseRemoval
from siyu.store.settings import get_setting, put_setting

POLICIES_SETTING = "retention.policies"
LAST_RUN_SETTING = "retention.last_run"
#: Events siyu writes about a contact rather than the contact doing something: they do not make
#: a contact active (being sent a message is not activity; replying or clicking is).
OWN_EVENTS: tuple[str, ...] = (*SYSTEM_EVENTS, "message.sent", "message.delivered", "message.failed")
CONTACT_REASON = "retention: inactive"


class RetentionError(ValueError):
    """Invalid policies; ``field`` names where (``events[1].days``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def parse_policies(data: Any) -> RetentionPolicies:
    try:
        return RetentionPolicies.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ())).lstrip(".")
        raise RetentionError(field, str(first.get("msg", "")).removeprefix("Value error, ")) from None


def years_before(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


class RetentionService:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- policies ---------------------------------------------------------------------------
    def policies(self) -> RetentionPolicies:
        stored = get_setting(self.session, POLICIES_SETTING)
        return RetentionPolicies() if stored is None else parse_policies(stored)

    def set_policies(self, data: Any, actor: str) -> RetentionPolicies:
        policies = data if isinstance(data, RetentionPolicies) else parse_policies(data)
        chain.lock_appends(self.session)  # see save_run
        before = self.policies().dump()
        put_setting(self.session, POLICIES_SETTING, policies.dump())
        audit.record(
            self.session, actor, "retention.policies_set", "setting", POLICIES_SETTING,
            {"before": before, "after": policies.dump()},
        )  # fmt: skip
        return policies

    def last_run(self) -> dict[str, Any] | None:
        value = get_setting(self.session, LAST_RUN_SETTING)
        return value if isinstance(value, dict) else None

    def save_run(self, run: dict[str, Any]) -> None:
        # Two runs finishing at once would both insert the setting row the first time; these
        # writes are audited anyway, so they queue on the audit log's append lock.
        chain.lock_appends(self.session)
        put_setting(self.session, LAST_RUN_SETTING, run)

    # --- events -----------------------------------------------------------------------------
    def event_span(self) -> tuple[int, int]:
        """(lowest id - 1, highest id - 1): the ids an event policy may touch."""
        low, high = self.session.execute(select(func.min(Event.id), func.max(Event.id))).one()
        return (0, 0) if high is None else (int(low) - 1, int(high) - 1)

    @staticmethod
    def _named(rule: EventRule, rules: list[EventRule]) -> ColumnElement[bool]:
        if rule.event != ALL_EVENTS:
            return Event.event == rule.event
        named = [r.event for r in rules if r.event != ALL_EVENTS]
        return or_(Event.event.is_(None), Event.event.not_in(named)) if named else true()

    def count_events(self, rule: EventRule, rules: list[EventRule], now: datetime) -> int:
        _, through = self.event_span()
        cutoff = now - timedelta(days=rule.days)
        stmt = select(func.count()).where(
            Event.id <= through, Event.timestamp < cutoff, self._named(rule, rules)
        )
        return int(self.session.scalar(stmt) or 0)

    def remove_events(
        self, rule: EventRule, rules: list[EventRule], now: datetime, after_id: int, through_id: int
    ) -> int:
        """Delete the rule's events with ids in (after_id, through_id] older than its days."""
        cutoff = now - timedelta(days=rule.days)
        where = and_(
            Event.id > after_id, Event.id <= through_id, Event.timestamp < cutoff, self._named(rule, rules)
        )
        removed = self.session.execute(delete(Event).where(where)).rowcount or 0
        if removed:
            named = [r.event for r in rules if r.event != ALL_EVENTS]
            criteria = {
                "after_id": after_id,
                "through_id": through_id,
                "before": cutoff.astimezone(UTC).isoformat(),
                "event": None if rule.event == ALL_EVENTS else rule.event,
                "except": named if rule.event == ALL_EVENTS else [],
            }
            self.session.add(WarehouseRemoval(kind="events", criteria=criteria))
            self.session.flush()
        return removed

    # --- inactive contacts ------------------------------------------------------------------
    def _inactive(self, years: int, now: datetime) -> Any:
        cutoff = years_before(now, years)
        newest = select(func.max(Contact.id)).scalar_subquery()
        recent = select(Event.id).where(
            Event.contact_id == Contact.id,
            Event.timestamp >= cutoff,
            or_(Event.event.is_(None), Event.event.not_in(OWN_EVENTS)),
        )
        return select(Contact.id).where(
            Contact.merged_into_id.is_(None),
            Contact.created_at < cutoff,
            Contact.updated_at < cutoff,
            Contact.id < newest,
            ~recent.exists(),
        )

    def count_inactive_contacts(self, years: int, now: datetime) -> int:
        return int(
            self.session.scalar(select(func.count()).select_from(self._inactive(years, now).subquery())) or 0
        )

    def remove_inactive_contacts(self, years: int, now: datetime, limit: int = 1_000) -> int:
        """Delete up to ``limit`` contacts inactive for ``years`` (no activity event, no new
        identifier or merge since), with what was merged into them."""
        ids = list(self.session.scalars(self._inactive(years, now).order_by(Contact.id).limit(limit)))
        return delete_contacts(self.session, ids, CONTACT_REASON) if ids else 0

    # --- outbox bodies ----------------------------------------------------------------------
    def _delivered_bodies(self, days: int, now: datetime) -> Any:
        return select(OutboxMessage.id).where(
            OutboxMessage.status == "delivered",
            OutboxMessage.delivered_at < now - timedelta(days=days),
            OutboxMessage.content_removed_at.is_(None),
        )

    def count_outbox_bodies(self, days: int, now: datetime) -> int:
        query = self._delivered_bodies(days, now).subquery()
        return int(self.session.scalar(select(func.count()).select_from(query)) or 0)

    def remove_outbox_bodies(self, days: int, now: datetime, limit: int = 5_000) -> int:
        """Blank the rendered body of up to ``limit`` messages delivered ``days`` ago; the row
        (its idempotency key, status and times) stays for exactly-once and the counts."""
        ids = list(
            self.session.scalars(self._delivered_bodies(days, now).order_by(OutboxMessage.id).limit(limit))
        )
        if not ids:
            return 0
        # The condition again: a concurrent run may have blanked them since they were read.
        blanked = self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.content_removed_at.is_(None))
            .values(content={}, content_removed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        return int(blanked or 0)

    # --- audit entries ----------------------------------------------------------------------
    def _audit_through(self, years: int, now: datetime) -> tuple[int, int]:
        """(checkpoint seq, last seq to remove): entries go oldest first and only as a prefix
        of the chain, so verify can start after the last one removed."""
        cp = get_setting(self.session, chain.CHECKPOINT_SETTING)
        done = int(cp["seq"]) if cp else 0
        cutoff = years_before(now, years)
        first_kept = self.session.scalar(
            select(func.min(AuditEntry.seq)).where(AuditEntry.seq.is_not(None), AuditEntry.at >= cutoff)
        )
        last = self.session.scalar(select(func.max(AuditEntry.seq)))
        if last is None:
            return done, done
        return done, (int(first_kept) - 1 if first_kept is not None else int(last))

    def count_audit_entries(self, years: int, now: datetime) -> int:
        done, through = self._audit_through(years, now)
        stmt = select(func.count()).where(AuditEntry.seq > done, AuditEntry.seq <= through)
        return int(self.session.scalar(stmt) or 0)

    def remove_audit_entries(self, years: int, now: datetime, actor: str, limit: int = 50_000) -> int:
        """Remove up to ``limit`` of the oldest entries older than ``years`` and record the
        checkpoint (the last removed entry's seq and hash) as a setting and as a new, chained
        entry, so ``verify`` starts from it and a changed checkpoint shows."""
        chain.seal(self.session)  # entries recorded but not yet chained get their place first
        done, through = self._audit_through(years, now)
        through = min(through, done + limit)
        if through <= done:
            return 0
        last = self.session.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq == through)
        ).first()
        if last is None:  # the entry the checkpoint would name is gone: verify will say so
            return 0
        checkpoint = {"seq": int(last.seq), "hash": str(last.hash), "at": now.astimezone(UTC).isoformat()}
        # The checkpoint entry first, so the newest id of the table is never the one deleted.
        audit.record(self.session, actor, chain.CHECKPOINT_ACTION, "audit", None, checkpoint)
        self.session.flush()
        removed = self.session.execute(
            delete(AuditEntry).where(AuditEntry.seq > done, AuditEntry.seq <= through)
        ).rowcount
        put_setting(self.session, chain.CHECKPOINT_SETTING, checkpoint)
        return int(removed or 0)
