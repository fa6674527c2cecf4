"""Version history of journeys: every saved document is kept (``journey_versions``) with who
saved it and when, so an operator can read a past version and see what an edit changed —
steps added, removed or changed (by step id, the identity contacts stand at) and the
journey-level settings that differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.journeys.service import JourneyNotFound, VersionNotFound
from siyu.store.models import Journey, JourneyVersion


def _steps(document: dict[str, Any]) -> dict[str, Any]:
    steps = document.get("steps") if isinstance(document, dict) else None
    return {s["id"]: s for s in steps or [] if isinstance(s, dict) and isinstance(s.get("id"), str)}


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[str]]:
    """What ``new`` changed against ``old``: step ids added, removed, changed (their content
    or their place), and the top-level settings (trigger, goal, caps …) that differ."""
    if old is None:
        return {"added": list(_steps(new)), "removed": [], "changed": [], "settings": []}
    a, b = _steps(old), _steps(new)
    order_a = [i for i in a if i in b]
    order_b = [i for i in b if i in a]
    moved = {i for i, j in zip(order_a, order_b, strict=True) if i != j}
    keys = sorted((set(old) | set(new)) - {"steps", "key"})
    return {
        "added": [i for i in b if i not in a],
        "removed": [i for i in a if i not in b],
        "changed": [i for i in b if i in a and (a[i] != b[i] or i in moved)],
        "settings": [k for k in keys if old.get(k) != new.get(k)],
    }


def _journey(session: Session, key: str) -> Journey:
    j = session.scalar(select(Journey).where(Journey.key == key))
    if j is None:
        raise JourneyNotFound(f"no journey {key!r}")
    return j


def versions(session: Session, key: str) -> list[dict[str, Any]]:
    """The saved versions, newest first, each with who/when and its diff against the version
    before it (the first one: every step added)."""
    j = _journey(session, key)
    rows = list(
        session.scalars(
            select(JourneyVersion).where(JourneyVersion.journey_id == j.id).order_by(JourneyVersion.version)
        )
    )
    out, previous = [], None
    for v in rows:
        out.append(
            {
                "version": v.version,
                "actor": v.actor,
                "created_at": v.created_at.isoformat(),
                "current": v.version == j.version,
                "steps": len(_steps(v.definition)),
                "first": previous is None,
                "changes": diff(previous, v.definition),
            }
        )
        previous = v.definition
    return out[::-1]


def version(session: Session, key: str, number: int) -> dict[str, Any]:
    """One saved version's document, with who/when and its diff against the one before."""
    j = _journey(session, key)
    rows = {
        v.version: v
        for v in session.scalars(
            select(JourneyVersion).where(
                JourneyVersion.journey_id == j.id, JourneyVersion.version.in_([number - 1, number])
            )
        )
    }
    v = rows.get(number)
    if v is None:
        raise VersionNotFound(f"journey {key!r} has no saved version {number}")
    before = rows.get(number - 1)
    return {
        "journey": key,
        "version": v.version,
        "actor": v.actor,
        "created_at": v.created_at.isoformat(),
        "current": v.version == j.version,
        "definition": v.definition,
        "first": before is None,
        "changes": diff(before.definition if before else None, v.definition),
    }
