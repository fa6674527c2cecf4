"""How many contacts each channel and entry code has brought in: the numbers next to them on
the settings page, so a team sees at once which 活码 works and which channel is dead."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.store.models import Contact, Touch


@dataclass(frozen=True)
class Reach:
    """``first``: live contacts whose first touch was here (acquired); ``touched``: distinct
    contacts with any touch here (acquired or reached again later)."""

    first: int = 0
    touched: int = 0


def _live_first(session: Session, column: object) -> dict[int, int]:
    rows = session.execute(
        select(column, func.count(Contact.id))
        .where(Contact.merged_into_id.is_(None), column.isnot(None))  # type: ignore[attr-defined]
        .group_by(column)
    ).all()
    return {int(k): int(n) for k, n in rows}


def _touched(session: Session, column: object) -> dict[int, int]:
    rows = session.execute(
        select(column, func.count(func.distinct(Touch.contact_id)))
        .where(column.isnot(None))  # type: ignore[attr-defined]
        .group_by(column)
    ).all()
    return {int(k): int(n) for k, n in rows}


def _join(first: dict[int, int], touched: dict[int, int]) -> dict[int, Reach]:
    return {k: Reach(first.get(k, 0), touched.get(k, 0)) for k in first.keys() | touched.keys()}


def channel_reach(session: Session) -> dict[int, Reach]:
    """Channel id → Reach (channels without contacts are absent; read them as ``Reach()``)."""
    return _join(_live_first(session, Contact.first_channel_id), _touched(session, Touch.channel_id))


def entry_code_reach(session: Session) -> dict[int, Reach]:
    """Entry code id → Reach."""
    return _join(_live_first(session, Contact.first_entry_code_id), _touched(session, Touch.entry_code_id))
