"""The timeline SOP (洛书-style): an audience by tag, segment or stage, then rows "day N at
HH:MM → send template X on channel Y", each optionally only to those who have not done an
event, and an exit on a goal event. It is a form over the journey language, not a second
engine: :func:`to_journey` writes the same document a YAML file would hold, and
:func:`from_journey` reads such a document back (``None`` when the journey uses more than the
timeline can show — a branch of its own, a split — so the console opens the graph editor).

Each row has an id (``1``, ``2`` … given when the row is added, kept by every later edit), and
its steps are ``wait-ID``, ``check-ID`` and ``send-ID``: a contact waiting at a row is still at
that row after an edit that changes its time or template, or removes another row
(docs/journeys.md, "Editing a running journey")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from siyu.channels.base import MESSAGE_CHANNELS
from siyu.journeys.schemas import _M, EXIT, JourneyDefinitionError, parse_clock
from siyu.segments.schemas import STAGES
from siyu.store.slugs import check_slug

#: Audience kinds of the timeline and the trigger each becomes.
AUDIENCES = {"tag": "tag_added", "segment": "segment_entered", "stage": "stage_changed"}


class SopRow(_M):
    """Day ``day`` after entry (0 = the entry day) at ``at`` (empty on day 0: at once)."""

    id: str | None = Field(default=None, pattern=r"^[a-z0-9]{1,16}$")
    day: int = Field(ge=0, le=366)
    at: str | None = None
    channel: str
    template: str = Field(min_length=1, max_length=64)
    unless_event: str | None = Field(default=None, max_length=200)

    @field_validator("id", "at", "unless_event", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str | None) -> str | None:
        if v is None:
            return None
        t = parse_clock(v)
        return f"{t.hour:02d}:{t.minute:02d}"

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if v not in MESSAGE_CHANNELS:
            raise ValueError(f"unknown channel {v!r}; one of {', '.join(MESSAGE_CHANNELS)}")
        return v

    @model_validator(mode="after")
    def _time(self) -> SopRow:
        if self.day > 0 and self.at is None:
            raise ValueError("a row after day 0 needs a time (HH:MM)")
        return self


class Sop(_M):
    key: str
    name: str = Field(min_length=1, max_length=200)
    audience: Literal["tag", "segment", "stage"]
    audience_value: str = Field(min_length=1, max_length=64)
    rows: list[SopRow] = Field(min_length=1, max_length=60)
    exit_event: str | None = Field(default=None, max_length=200)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)

    @field_validator("exit_event", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _check(self) -> Sop:
        if self.audience == "stage" and self.audience_value not in STAGES:
            raise JourneyDefinitionError(
                "audience_value", f"unknown stage {self.audience_value!r}", code="sop_stage"
            )
        ids = [r.id for r in self.rows if r.id]
        if len(ids) != len(set(ids)):
            raise JourneyDefinitionError("rows", "row ids must be unique", code="sop_row_ids")
        for i in range(1, len(self.rows)):
            a, b = self.rows[i - 1], self.rows[i]  # a row without a time goes right after the last
            if b.day < a.day or (b.day == a.day and a.at and b.at and b.at < a.at):
                raise JourneyDefinitionError(
                    f"rows[{i}].day", "rows go in time order (day, then time)", code="sop_order"
                )
        return self


def parse_sop(raw: Any) -> Sop:
    """Validate a timeline, raising :class:`JourneyDefinitionError` naming the field
    (``rows[2].at``)."""
    if not isinstance(raw, dict):
        raise JourneyDefinitionError("sop", "expected an object with key, name, audience and rows")
    try:
        return Sop.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, JourneyDefinitionError):
            raise ctx_err from None
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise JourneyDefinitionError(loc or "sop", err["msg"].removeprefix("Value error, ")) from None


def to_journey(sop: Sop, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The journey document of a timeline. ``base`` (the journey's current document, when
    editing) keeps the settings the timeline does not show: caps, quiet hours, limits, entry."""
    doc: dict[str, Any] = {
        k: v for k, v in (base or {}).items() if k not in ("key", "name", "trigger", "goal", "steps")
    }
    doc = {"key": sop.key, "name": sop.name, "trigger": {AUDIENCES[sop.audience]: sop.audience_value}, **doc}
    if sop.exit_event:
        doc["goal"] = {"event": sop.exit_event}
    old = {str(st.get("id", "")).split("-", 1)[-1] for st in (base or {}).get("steps", [])}
    rids = row_ids(sop, old)
    first = []  # each row's first step: where a skip condition of the row before goes
    for rid, row in zip(rids, sop.rows, strict=True):
        timed = row.day > 0 or row.at is not None
        first.append(f"wait-{rid}" if timed else f"check-{rid}" if row.unless_event else f"send-{rid}")
    steps: list[dict[str, Any]] = []
    for n, (rid, row) in enumerate(zip(rids, sop.rows, strict=True)):
        if row.day > 0 or row.at is not None:
            steps.append({"id": f"wait-{rid}", "wait_until": {"day": row.day, "at": row.at or "00:00"}})
        if row.unless_event:  # those who did the event go straight on to the next row
            after = first[n + 1] if n + 1 < len(rids) else EXIT
            steps.append(
                {
                    "id": f"check-{rid}",
                    "branch": {
                        "routes": [{"if": {"event": {"name": row.unless_event}}, "next": after}],
                        "else": f"send-{rid}",
                    },
                }
            )
        steps.append({"id": f"send-{rid}", "send": {"channel": row.channel, "template": row.template}})
    doc["steps"] = steps
    return doc


def row_ids(sop: Sop, used: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Each row's id: its own, or the next number not taken (a row added in an edit). ``used``
    holds the ids of the version before, so a removed row's id is never given to a new row
    (a contact still waiting there would find itself at the new row)."""
    taken = {r.id for r in sop.rows if r.id} | set(used)
    out, n = [], 0
    for row in sop.rows:
        if row.id:
            out.append(row.id)
            continue
        n += 1
        while str(n) in taken:
            n += 1
        taken.add(str(n))
        out.append(str(n))
    return out


def from_journey(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The timeline of a journey document, or ``None`` when it is more than a timeline."""
    trigger = doc.get("trigger") or {}
    kinds = {v: k for k, v in AUDIENCES.items()}
    if len(trigger) != 1 or next(iter(trigger)) not in kinds:
        return None
    goal = doc.get("goal")
    if goal is not None and (set(goal) - {"event"} or goal.get("where")):
        return None
    ((kind, value),) = trigger.items()
    rows: list[dict[str, Any]] = []
    row: dict[str, Any] = {}
    for step in doc.get("steps") or []:
        if not isinstance(step, dict) or set(step) - {"id", "wait_until", "branch", "send"}:
            return None
        if "wait_until" in step and not row:
            row = {"day": step["wait_until"].get("day"), "at": step["wait_until"].get("at")}
        elif "branch" in step and "unless_event" not in row:
            routes = step["branch"].get("routes") or []
            cond = routes[0].get("if", {}) if len(routes) == 1 else {}
            if set(cond) != {"event"} or set(cond["event"]) != {"name"}:
                return None
            row = {"day": 0, "at": None, **row, "unless_event": cond["event"]["name"]}
        elif "send" in step and set(step["send"]) == {"channel", "template"}:
            rid = str(step.get("id", "")).removeprefix("send-")
            rows.append({"id": rid, "day": 0, "at": None, "unless_event": None, **row, **step["send"]})
            row = {}
        else:
            return None
    if row or not rows:
        return None
    sop = {
        "key": doc.get("key"),
        "name": doc.get("name"),
        "audience": kinds[kind],
        "audience_value": value,
        "rows": rows,
        "exit_event": goal.get("event") if goal else None,
    }
    try:  # only a timeline that converts back to the same steps is one
        if to_journey(parse_sop(sop))["steps"] != doc["steps"]:
            return None
    except JourneyDefinitionError:
        return None
    return sop
