"""Recording and reading audit entries. Entries are only ever inserted (and, by retention,
removed oldest first); each is chained to the one before it when its transaction commits
(``siyu.audit.chain``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit.chain import mark_pending
from siyu.store.models import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            details=details,
        )
    )
    mark_pending(session)


def entries(
    session: Session,
    target_type: str | None = None,
    target_id: str | int | None = None,
    action: str | None = None,
    limit: int = 100,
    actor: str | None = None,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first. ``before_id`` pages back through the log (pass the last id shown): unlike
    an offset it stays put while new entries are written."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == str(target_id))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.scalars(stmt))


def actions(session: Session) -> list[str]:
    """Every action written so far, for the audit page's filter."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
