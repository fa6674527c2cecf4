"""What the journey editors need from the server: the choices of their pickers (event names
from the data, tags, segments, stages, templates by channel), a preview of who would enter,
and validation that returns every problem with the field it belongs to, so the console shows
each one next to its step instead of one message at the top."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.channels.base import MESSAGE_CHANNELS
from siyu.journeys.schemas import JourneyDefinitionError, parse_journey
from siyu.journeys.service import JourneyService
from siyu.journeys.timeline import parse_sop, to_journey
from siyu.profiles.search import NAME_TRAITS
from siyu.segments.schemas import STAGES
from siyu.store.models import (
    ContactAttribute,
    ContactStage,
    ContactTag,
    ContentTemplate,
    Event,
    Journey,
    Segment,
    SegmentMember,
    Tag,
)

#: How many names the entry preview shows.
PREVIEW_NAMES = 5
#: Event names offered by the pickers: the most frequent ones in the data.
EVENT_CHOICES = 200


def options(session: Session) -> dict[str, Any]:
    """The pickers' choices, read from the data."""
    events = [
        name
        for name, _ in session.execute(
            select(Event.event, func.count())
            .where(Event.event.is_not(None), Event.type == "track")
            .group_by(Event.event)
            .order_by(func.count().desc(), Event.event)
            .limit(EVENT_CHOICES)
        )
    ]
    templates: dict[str, list[dict[str, str]]] = {c: [] for c in MESSAGE_CHANNELS}
    rows = select(ContentTemplate.key, ContentTemplate.name, ContentTemplate.channel)
    for key, name, channel in session.execute(rows.order_by(ContentTemplate.key)):
        templates.setdefault(channel, []).append({"key": key, "name": name})
    return {
        "events": events,
        "tags": [
            {"key": k, "name": n} for k, n in session.execute(select(Tag.key, Tag.name).order_by(Tag.key))
        ],
        "segments": [
            {"key": k, "name": n}
            for k, n in session.execute(select(Segment.key, Segment.name).order_by(Segment.key))
        ],
        "stages": list(STAGES),
        "channels": list(MESSAGE_CHANNELS),
        "templates": templates,
    }


def mask_name(name: str | None) -> str:
    """``李娜`` → ``李*``, ``王小明`` → ``王*明``: enough to recognise a customer on screen,
    not to identify one from a screenshot."""
    if not name:
        return "—"
    name = str(name).strip()
    if len(name) <= 2:
        return name[:1] + "*"
    return name[:1] + "*" * (len(name) - 2) + name[-1:]


def preview_entry(session: Session, kind: str, value: str) -> dict[str, Any]:
    """Who matches the audience now (``tag``, ``segment`` or ``stage``): the count and the
    first names, masked. A tag or stage trigger enrols contacts when they get it after the
    start, so this is who holds it today — the size to expect, not a list that will enter."""
    if kind == "tag":
        ids = select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(Tag.key == value)
    elif kind == "segment":
        ids = (
            select(SegmentMember.contact_id)
            .join(Segment, Segment.id == SegmentMember.segment_id)
            .where(Segment.key == value)
        )
    elif kind == "stage":
        ids = select(ContactStage.contact_id).where(ContactStage.stage == value)
    else:
        return {"count": None, "names": []}
    count = int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)
    first = [int(c) for c in session.scalars(ids.order_by(ids.selected_columns[0]).limit(PREVIEW_NAMES))]
    names: dict[int, str] = {}
    for cid, trait, value_ in session.execute(
        select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
            ContactAttribute.contact_id.in_(first), ContactAttribute.name.in_(NAME_TRAITS)
        )
    ):
        if value_ not in (None, "") and (trait == "name" or cid not in names):
            names[cid] = str(value_)
    return {"count": count, "names": [mask_name(names.get(c)) for c in first]}


def problem(exc: JourneyDefinitionError) -> dict[str, Any]:
    return {"path": exc.path, "message": exc.message, "code": exc.code, "params": exc.params}


def _located(text: str) -> dict[str, Any]:
    """``steps[0].send.template: no template 'x'`` → its path and message."""
    path, sep, message = text.partition(": ")
    if not sep or " " in path:  # "no segment 'x'": the segments are named by the trigger
        where = "trigger" if text.startswith("no segment") else "journey"
        return {"path": where, "message": text, "code": None, "params": {}}
    return {"path": path, "message": message, "code": None, "params": {}}


def validate(session: Session, document: Any, key: str | None = None) -> dict[str, Any]:
    """Check a journey document like ``create``/``start`` would: its language, then what it
    names (templates, segments, providers). With ``key`` (editing), also which steps it drops
    while contacts stand there. Returns ``{"ok", "errors", "leaving"}``."""
    try:
        spec = parse_journey(document)
    except JourneyDefinitionError as exc:
        return {"ok": False, "errors": [problem(exc)], "leaving": {}}
    svc = JourneyService(session)
    errors = [_located(p) for p in svc.check_references(spec)]
    leaving: dict[str, int] = {}
    if key is not None:
        journey = session.scalar(select(Journey).where(Journey.key == key))
        if journey is not None:
            leaving = svc.stranded(journey, spec)
    return {"ok": not errors, "errors": errors, "leaving": leaving}


def validate_timeline(session: Session, raw: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A timeline's problems, each located on the timeline's own fields (``rows[1].template``),
    and the journey document it makes (``None`` while it has errors)."""
    try:
        sop = parse_sop(raw)
    except JourneyDefinitionError as exc:
        return {"ok": False, "errors": [problem(exc)], "document": None, "leaving": {}}
    document = to_journey(sop, base)
    result = validate(session, document, key=sop.key if base is not None else None)
    rows = _row_of_steps(document)
    for err in result["errors"]:
        err["path"] = _timeline_path(err["path"], rows, sop.audience)
    return {**result, "document": document if result["ok"] else None}


def _row_of_steps(document: dict[str, Any]) -> dict[int, int]:
    """Step index → timeline row index (a row's steps end in the row's id, in row order)."""
    out, row, seen = {}, -1, set()
    for i, s in enumerate(document["steps"]):
        rid = s["id"].split("-", 1)[1]
        if rid not in seen:
            seen.add(rid)
            row += 1
        out[i] = row
    return out


def _timeline_path(path: str, rows: dict[int, int], audience: str) -> str:
    if path.startswith("steps["):
        index = int(path[6 : path.index("]")])
        field = "template" if ".send.template" in path else "channel"
        return f"rows[{rows.get(index, 0)}].{field}"
    if path.startswith("trigger"):
        return "audience_value"
    if path.startswith("goal"):
        return "exit_event"
    return path
