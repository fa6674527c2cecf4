"""Editable capability settings (RFM rules, stage rules, runner cursors) as JSON rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.store.models import Setting, utcnow


def get_setting(session: Session, name: str) -> Any | None:
    row = session.get(Setting, name)
    return None if row is None else row.value


def put_setting(session: Session, name: str, value: Any) -> None:
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(name=name, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()
