"""Python API for retention policies and the audit log's chain: ``s.retention`` and ``s.audit``.

Like the CLI, it acts with the database's own authority (no role check); the REST API and the
console ask for ``retention.manage`` and ``audit.read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu.audit import chain
from siyu.context import AppContext
from siyu.retention.runner import run_retention
from siyu.retention.service import RetentionService


class RetentionClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def show(self) -> dict[str, Any]:
        """The policies and the last run (None before the first)."""
        with self.ctx.db.session() as s:
            service = RetentionService(s)
            return {"policies": service.policies().dump(), "last_run": service.last_run()}

    def set(self, actor: str = "python", **changes: Any) -> dict[str, Any]:
        """Change some policies (``events=[{"event": "*", "days": 365}]``,
        ``inactive_contacts_years=3``, ``outbox_body_days=None`` turns one off …); the others
        stay. Raises ``RetentionError`` naming the field of a bad value."""
        with self.ctx.db.session() as s:
            service = RetentionService(s)
            return service.set_policies({**service.policies().dump(), **changes}, actor).dump()

    def run(
        self, dry_run: bool = False, now: datetime | None = None, actor: str = "python"
    ) -> dict[str, Any]:
        """Apply every policy that is on (or, ``dry_run``, count what would go)."""
        return run_retention(self.ctx.db, now=now, dry_run=dry_run, actor=actor).dump()


class AuditClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def verify(self) -> dict[str, Any]:
        """``{"ok": true, "entries": N, ...}``, or ``ok`` false with ``broken`` naming the first
        entry where the chain breaks (id, seq, problem, message)."""
        with self.ctx.db.session() as s:
            return chain.verify(s).dump()
