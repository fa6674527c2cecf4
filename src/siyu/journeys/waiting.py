"""Who is waiting at a journey step: the contacts standing there now (waiting for a time or
an event, or held by quiet hours), masked on screen, and as a CSV for the team that calls
them — masked unless the caller holds ``pii.export``, and audited either way."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.journeys.editor import mask_name
from siyu.journeys.service import JourneyService
from siyu.profiles.pii import mask_phone
from siyu.profiles.search import NAME_TRAITS
from siyu.profiles.service import ProfileService
from siyu.store.csv_safe import safe_cell
from siyu.store.models import ContactAttribute, JourneyEnrolment

#: Rows one CSV export holds at most (a step with more is exported in its first rows, and the
#: file says so in its last line).
MAX_EXPORT = 100_000
CSV_COLUMNS = ("contact_id", "name", "phone", "state", "entered_at", "due_at")


def _state(step: str, wait_event: str | None, data: dict[str, Any]) -> str:
    if data.get("held") == step:
        return "held"  # quiet hours: sends when the window ends
    if wait_event:
        return "waiting_event"
    return "waiting"


def waiting(
    session: Session,
    profiles: ProfileService,
    key: str,
    step: str,
    limit: int = 100,
    offset: int = 0,
    reveal: bool = False,
) -> dict[str, Any]:
    """The contacts standing at ``step`` of journey ``key``, oldest entry first: id, name,
    phone (masked unless ``reveal``), state (``waiting``, ``waiting_event``, ``held``), when
    they entered the journey and when the step runs next."""
    journey = JourneyService(session).get(key)
    where = (
        JourneyEnrolment.journey_id == journey.id,
        JourneyEnrolment.status == "active",
        JourneyEnrolment.step == step,
    )
    total = int(session.scalar(select(func.count()).select_from(JourneyEnrolment).where(*where)) or 0)
    rows = session.execute(
        select(
            JourneyEnrolment.contact_id,
            JourneyEnrolment.entered_at,
            JourneyEnrolment.due_at,
            JourneyEnrolment.wait_event,
            JourneyEnrolment.data,
        )
        .where(*where)
        .order_by(JourneyEnrolment.entered_at, JourneyEnrolment.id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [int(r[0]) for r in rows]
    names: dict[int, str] = {}
    for cid, trait, value in session.execute(
        select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
            ContactAttribute.contact_id.in_(ids), ContactAttribute.name.in_(NAME_TRAITS)
        )
    ):
        if value not in (None, "") and (trait == "name" or cid not in names):
            names[cid] = str(value)
    phones: dict[int, str] = {}
    for ident in profiles.repo.identities_of(ids):
        if ident.type == "phone" and ident.contact_id not in phones:
            plain = profiles.reveal(ident)
            phones[ident.contact_id] = plain if reveal else mask_phone(plain)
    out = []
    for cid, entered, due, wait_event, data in rows:
        name = names.get(int(cid))
        out.append(
            {
                "contact_id": int(cid),
                "name": (name or "") if reveal else mask_name(name),
                "phone": phones.get(int(cid)),
                "state": _state(step, wait_event, dict(data or {})),
                "entered_at": entered,
                "due_at": due,
            }
        )
    return {"journey": key, "step": step, "total": total, "masked": not reveal, "contacts": out}


def export_csv(
    session: Session, profiles: ProfileService, key: str, step: str, reveal: bool, actor: str
) -> bytes:
    """The waiting list as CSV with a UTF-8 BOM (so Excel opens Chinese names correctly),
    masked unless ``reveal``; the export is audited with its row count."""
    data = waiting(session, profiles, key, step, limit=MAX_EXPORT, reveal=reveal)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in data["contacts"]:
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    audit.record(
        session,
        actor,
        "journey.step_exported",
        "journey",
        key,
        {"step": step, "rows": len(data["contacts"]), "masked": not reveal},
    )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_cell(value) if isinstance(value, str) else ("" if value is None else value)
