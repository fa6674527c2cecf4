"""The journey definition language (JSON, or YAML in files; see docs/journeys.md).

A journey has one ``trigger``, entry rules, an optional ``goal``, frequency ``caps``, ``quiet_hours``
and an ordered list of ``steps``. Each step has an ``id`` and exactly one action; it goes to
``next`` (default: the step after it; ``exit`` ends the journey). Branches, splits and
``wait_for`` name their own next steps. Errors name the field, e.g. ``steps[2].send.template``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siyu.channels.base import MESSAGE_CHANNELS
from siyu.consent.service import PURPOSES
from siyu.content.schemas import check_templates
from siyu.segments.schemas import STAGES, PropertyFilter
from siyu.store.slugs import check_slug

EXIT = "exit"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
MAX_STEPS = 200


class JourneyDefinitionError(ValueError):
    """An invalid journey; ``path`` names the bad field. ``code`` and ``params`` let an
    interface word the error in the reader's language (``None``: only the English message)."""

    def __init__(
        self, path: str, message: str, code: str | None = None, params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.code = code
        self.params = params or {}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"3d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30m, 2h, 3d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 2h, 3d, 1w)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds):  # YAML's .nan / .inf: compares false with everything below
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 2h, 3d, 1w)")
    if seconds < 0 or seconds > 366 * 86400:
        raise ValueError("a duration lies between 0 and 366 days")
    return seconds


def parse_clock(value: str) -> time:
    try:
        hh, mm = str(value).split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day (HH:MM)") from None


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- conditions (branches, goals) -------------------------------------------------------------
class Condition(_M):
    """One test of a contact, evaluated in the system of record at the moment the step runs.
    Exactly one field is set; ``all`` / ``any`` / ``not`` nest."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    has_tag: str | None = None
    attribute: PropertyFilter | None = None
    event: EventCondition | None = None
    segment: str | None = None
    stage: Literal[STAGES] | None = None  # type: ignore[valid-type]
    clicked: str | bool | None = None  # a send step's id, or true: any link of this enrolment

    @model_validator(mode="after")
    def _one(self) -> Condition:
        set_ = [k for k, v in self if v is not None]
        if len(set_) != 1:
            raise ValueError(
                "a condition has exactly one of all, any, not, has_tag, attribute, event, segment, "
                f"stage, clicked (got {', '.join(set_) or 'none'})"
            )
        return self


class EventCondition(_M):
    """The contact performed ``name`` (matching ``where``) at least ``min_count`` times since it
    entered the journey, or within ``within`` before now."""

    name: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    within: float | None = None
    min_count: int = Field(default=1, ge=1, le=1_000_000)

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)


Condition.model_rebuild()


# --- triggers ---------------------------------------------------------------------------------
class EventTrigger(_M):
    name: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    key: str | None = Field(
        default=None, description="Property that identifies the business occurrence, e.g. order_id."
    )


class DateTrigger(_M):
    attribute: str = Field(min_length=1, max_length=128)
    at: str = "10:00"
    days_before: int = Field(default=0, ge=0, le=60)

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        parse_clock(v)
        return v


class BroadcastTrigger(_M):
    segment: str
    at: datetime
    every: Literal["day", "week"] | None = None


class Trigger(_M):
    """Exactly one: ``segment_entered``, ``event``, ``tag_added``, ``stage_changed``, ``date``,
    ``broadcast`` or ``list`` (enrolled from a CSV file or the API only)."""

    segment_entered: str | None = None
    event: EventTrigger | None = None
    tag_added: str | None = None
    stage_changed: Literal[STAGES] | None = None  # type: ignore[valid-type]
    date: DateTrigger | None = None
    broadcast: BroadcastTrigger | None = None
    list: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        set_ = [k for k, v in self if v is not None and v is not False]
        if len(set_) != 1:
            raise ValueError(
                "a trigger has exactly one of segment_entered, event, tag_added, stage_changed, date, "
                f"broadcast, list (got {', '.join(set_) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self if v is not None and v is not False)


# --- policies ---------------------------------------------------------------------------------
class Cap(_M):
    """At most ``max`` messages per contact on ``channel`` (``any`` = all channels together)
    per calendar ``per`` in the contact's time zone. Transactional messages are exempt."""

    channel: str = "any"
    per: Literal["day", "week", "month"] = "day"
    max: int = Field(ge=0, le=1000)

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if v != "any" and v not in MESSAGE_CHANNELS:
            raise ValueError(f"unknown channel {v!r}; any or one of {', '.join(MESSAGE_CHANNELS)}")
        return v


class QuietHours(_M):
    """Local window in which no message goes out (at most 20 h); ``hold`` sends at the end of
    the window, ``drop`` skips the message."""

    start: str = "22:00"
    end: str = "08:00"
    mode: Literal["hold", "drop"] = "hold"
    enabled: bool = True

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        a, b = parse_clock(self.start), parse_clock(self.end)
        length = ((b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)) % 1440
        if length > 20 * 60:
            raise ValueError("quiet hours last at most 20 hours")
        return self


class Entry(_M):
    reentry: bool = False
    cooldown: float = 0.0

    @field_validator("cooldown", mode="before")
    @classmethod
    def _cooldown(cls, v: Any) -> float:
        return parse_duration(v)


class Limits(_M):
    """The hard ceiling of messages one contact gets from this journey: per enrolment (one pass
    through the journey) and overall (every enrolment together, when re-entry is on). ``None``
    takes the worker's default (``SIYU_JOURNEY_MAX_SENDS_PER_ENROLMENT`` /
    ``SIYU_JOURNEY_MAX_SENDS_PER_CONTACT``). Over it the contact exits (``send_limit``)."""

    sends_per_enrolment: int | None = Field(default=None, ge=1, le=10_000)
    sends_per_contact: int | None = Field(default=None, ge=1, le=100_000)


class Exit(_M):
    on_segment_exit: bool = True
    on_goal: bool = True


class Goal(_M):
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


# --- steps ------------------------------------------------------------------------------------
class Send(_M):
    channel: str
    template: str | None = None
    content: dict[str, Any] | None = None  # inline content (webhook payloads, quick tests)
    provider: str | None = None
    purpose: Literal[PURPOSES] | None = None  # type: ignore[valid-type]
    transactional: bool = False

    @model_validator(mode="after")
    def _check(self) -> Send:
        if self.channel not in MESSAGE_CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}; one of {', '.join(MESSAGE_CHANNELS)}")
        if (self.template is None) == (self.content is None):
            raise ValueError("give either template or content")
        if self.content is not None:  # a runaway template is refused here, not at send time
            check_templates(self.content)
        return self


class WaitUntil(_M):
    """Day ``day`` after entry (day 0 = the entry day) at ``at`` in the contact's time zone."""

    day: int = Field(ge=0, le=366)
    at: str

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        parse_clock(v)
        return v


class WaitFor(_M):
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    timeout: float
    on_event: str | None = None
    on_timeout: str | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> float:
        return parse_duration(v)


class Route(_M):
    when: Condition = Field(alias="if")
    next: str


class Branch(_M):
    routes: list[Route] = Field(min_length=1, max_length=20)
    otherwise: str = Field(alias="else")


class Variant(_M):
    name: str = Field(min_length=1, max_length=32)
    weight: float = Field(gt=0)
    next: str


class Split(_M):
    variants: list[Variant] = Field(min_length=2, max_length=10)


class Points(_M):
    """Points booked in the loyalty ledger for members (non-members are skipped)."""

    points: int = Field(ge=1, le=2_147_483_647)
    reason: str = Field(default="journey", min_length=1, max_length=200)


class IssueCoupon(_M):
    """Give each contact a coupon of the template (its holdout gets none and goes on too)."""

    template: str

    @field_validator("template")
    @classmethod
    def _template(cls, v: str) -> str:
        return check_slug(v)


class WeComTags(_M):
    """Mirror tags to WeCom corp tags (ids from `get_corp_tag_list`) on the contact's customer
    record, so staff see them in the WeCom client."""

    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)
    provider: str | None = None

    @model_validator(mode="after")
    def _some(self) -> WeComTags:
        if not self.add and not self.remove:
            raise ValueError("give tag ids to add or remove")
        return self


class Webhook(_M):
    event: str
    data: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None


class Step(_M):
    id: str
    next: str | None = None
    wait: float | None = None
    wait_until: WaitUntil | None = None
    wait_for: WaitFor | None = None
    branch: Branch | None = None
    split: Split | None = None
    send: Send | None = None
    add_tag: str | None = None
    remove_tag: str | None = None
    set_stage: Literal[STAGES] | None = None  # type: ignore[valid-type]
    set_attribute: dict[str, Any] | None = None
    award_points: Points | None = None
    issue_coupon: IssueCoupon | None = None
    webhook: Webhook | None = None
    wecom_tags: WeComTags | None = None
    exit: bool | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if v == EXIT:
            raise ValueError("'exit' is reserved for leaving the journey")
        return check_slug(v)

    @field_validator("wait", mode="before")
    @classmethod
    def _wait(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)

    @model_validator(mode="after")
    def _one(self) -> Step:
        acts = self.actions()
        if len(acts) != 1:
            raise ValueError(f"a step has exactly one action (got {', '.join(acts) or 'none'})")
        return self

    def actions(self) -> list[str]:
        return [k for k, v in self if k not in ("id", "next") and v is not None and v is not False]

    @property
    def action(self) -> str:
        return self.actions()[0]


class JourneySpec(_M):
    key: str
    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    entry: Entry = Entry()
    exit: Exit = Exit()
    goal: Goal | None = None
    caps: list[Cap] = Field(default_factory=list, max_length=20)
    quiet_hours: QuietHours = QuietHours()
    limits: Limits = Limits()
    purpose: Literal[PURPOSES] = "marketing"  # type: ignore[valid-type]
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)

    @model_validator(mode="after")
    def _graph(self) -> JourneySpec:
        ids = [s.id for s in self.steps]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"step ids must be unique: {', '.join(sorted(dup))}")
        known = set(ids) | {EXIT}
        for i, step in enumerate(self.steps):
            for where, target in _targets(step):
                if target not in known:
                    raise JourneyDefinitionError(f"steps[{i}].{where}", f"no step {target!r}")
        _refuse_send_loops(self)
        return self

    def step(self, step_id: str) -> Step:
        return self._index()[step_id][1]

    def following(self, step_id: str) -> str:
        """The step after ``step_id``: its ``next``, else the next in the list, else exit."""
        i, step = self._index()[step_id]
        if step.next:
            return step.next
        return self.steps[i + 1].id if i + 1 < len(self.steps) else EXIT

    def successors(self, step_id: str) -> list[str]:
        """Every step ``step_id`` can lead to (a branch's routes and else, a split's variants,
        wait_for's two outcomes, or simply the following step): the edges of the step graph."""
        step = self.step(step_id)
        out = [t for where, t in _targets(step) if where != "next"]
        falls_through = not (step.branch or step.split) and not (
            step.wait_for and step.wait_for.on_event and step.wait_for.on_timeout
        )
        if falls_through:
            out.append(self.following(step_id))
        return list(dict.fromkeys(out))

    def _index(self) -> dict[str, tuple[int, Step]]:
        cached = self.__dict__.get("_idx")
        if cached is None:
            cached = {s.id: (i, s) for i, s in enumerate(self.steps)}
            object.__setattr__(self, "_idx", cached)
        return cached


def _targets(step: Step) -> list[tuple[str, str]]:
    out = [("next", step.next)] if step.next else []
    if step.branch:
        out += [(f"branch.routes[{i}].next", r.next) for i, r in enumerate(step.branch.routes)]
        out.append(("branch.else", step.branch.otherwise))
    if step.split:
        out += [(f"split.variants[{i}].next", v.next) for i, v in enumerate(step.split.variants)]
    if step.wait_for:
        out += [(f"wait_for.{k}", t) for k in ("on_event", "on_timeout") if (t := getattr(step.wait_for, k))]
    return out


def _delays(step: Step) -> bool:
    """Whether passing this step always takes time. ``wait_until`` does not: on a second pass
    its day is already past and it goes on at once; ``wait_for`` only with a positive timeout
    (it needs a new event or the timeout each pass)."""
    if step.wait is not None:
        return step.wait > 0
    return step.wait_for is not None and step.wait_for.timeout > 0


def _refuse_send_loops(spec: JourneySpec) -> None:
    """A cycle of the step graph that holds a send step and no step that takes time would
    message a contact as fast as the engine runs (912 messages in 70 s). Walk the graph
    without its delaying steps from every send step; getting back to it is such a cycle."""
    index = {s.id: i for i, s in enumerate(spec.steps)}
    instant = {s.id for s in spec.steps if not _delays(s)}
    for step in spec.steps:
        if not step.send or step.id not in instant:
            continue
        came_from: dict[str, str] = {}
        todo = [step.id]
        while todo:
            cur = todo.pop()
            for nxt in spec.successors(cur):
                if nxt == step.id:
                    cycle = [cur]
                    while cycle[-1] != step.id:
                        cycle.append(came_from[cycle[-1]])
                    ids = [*reversed(cycle), step.id]
                    where = ", ".join(f"steps[{index[i]}]" for i in ids[:-1])
                    route = " → ".join(ids)
                    raise JourneyDefinitionError(
                        where,
                        f"the loop {route} sends a message on every pass without waiting; "
                        "put a wait (or a wait_for with a timeout) longer than 0 in the loop",
                        code="send_loop",
                        params={"loop": route},
                    )
                if nxt in instant and nxt not in came_from:
                    came_from[nxt] = cur
                    todo.append(nxt)


def parse_journey(raw: Any) -> JourneySpec:
    """Validate a journey document, raising :class:`JourneyDefinitionError` naming the field."""
    if not isinstance(raw, dict):
        raise JourneyDefinitionError("journey", "expected an object with key, name, trigger and steps")
    try:
        return JourneySpec.model_validate(raw)
    except JourneyDefinitionError:
        raise
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, JourneyDefinitionError):
            raise ctx_err from None
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise JourneyDefinitionError(loc or "journey", err["msg"].removeprefix("Value error, ")) from None
