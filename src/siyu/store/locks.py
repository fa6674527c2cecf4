"""Named, transaction-scoped locks on PostgreSQL (no-ops on SQLite, which has one writer).

PostgreSQL advisory locks are scoped to a *database*, not a schema: two siyu installations
sharing one database in different schemas (or two test runs) would otherwise wait on each
other's locks, or, with a try-lock, silently skip work. The key is therefore derived from the
current schema and the lock's name, so each installation has its own set of locks."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_KEY = "hashtextextended(current_schema() || ':' || :name, 0)"


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def xact_lock(session: Session, name: str) -> None:
    """Wait for the lock called ``name``; it is held until this transaction ends."""
    if _is_postgresql(session):
        session.execute(text(f"SELECT pg_advisory_xact_lock({_KEY})"), {"name": name})


def try_xact_lock(session: Session, name: str) -> bool:
    """Take the lock called ``name`` if nobody holds it (held until this transaction ends);
    False when another transaction holds it. Always True on SQLite."""
    if not _is_postgresql(session):
        return True
    return bool(session.execute(text(f"SELECT pg_try_advisory_xact_lock({_KEY})"), {"name": name}).scalar())
