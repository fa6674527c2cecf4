"""Named, transaction-scoped locks on PostgreSQL (no-ops on SQLite, which has one writer).

PostgreSQL advisory locks are scoped to a *database*, not a schema: two siyu installations
sharing one database in different schemas (or two test runs) would otherwise wait on each
other's locks, or, with a try-lock, silently skip work. The key is therefore derived from the
current schema and the lock's name, so each installation has its own set of locks."""

from __future__ import annotations

from collections.abc import Sequence

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


#: One lock per (name, id): the id joins the name, so every installation has its own.
_IDS = "unnest(CAST(:ids AS bigint[])) AS k"
_ID_KEY = "hashtextextended(current_schema() || ':' || :name || ':' || k::text, 0)"


def xact_locks_for(session: Session, name: str, ids: Sequence[int]) -> None:
    """Wait for the lock ``name`` of each id (e.g. one per contact), held until this
    transaction ends. They are taken in ascending id order, so callers that always lock upwards
    cannot deadlock against each other."""
    if ids and _is_postgresql(session):
        # ORDER BY runs before a volatile function in the select list (PostgreSQL ≥ 9.6)
        session.execute(
            text(f"SELECT pg_advisory_xact_lock({_ID_KEY}) FROM {_IDS} ORDER BY k"),
            {"name": name, "ids": sorted(set(ids))},
        )


def try_xact_locks_for(session: Session, name: str, ids: Sequence[int]) -> set[int]:
    """Take the lock ``name`` of each id that nobody else holds (re-taking one this
    transaction holds succeeds); the ids whose lock another transaction holds. Always empty on
    SQLite."""
    if not ids or not _is_postgresql(session):
        return set()
    rows = session.execute(
        text(f"SELECT k, pg_try_advisory_xact_lock({_ID_KEY}) FROM {_IDS} ORDER BY k"),
        {"name": name, "ids": sorted(set(ids))},
    )
    return {int(k) for k, ok in rows if not ok}
