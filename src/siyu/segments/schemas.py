"""The segment definition language (stored as JSON, readable as YAML; see docs/segments.md).

A definition is a tree of nodes, each with a ``type``: ``and`` / ``or`` (``conditions``),
``not`` (``condition``), and the leaves ``attribute``, ``tags``, ``event``, ``channel``,
``first_touch``, ``consent``, ``stage``, ``rfm``, ``churn_risk``, ``segment``, ``group``,
``community_role`` and the loyalty leaves ``tier``, ``points``, ``points_expiring``, ``coupons``. Validation
errors name the bad node by its path, e.g. ``definition.conditions[1].count.value``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from siyu.segments.loyalty import CouponsCondition, PointsCondition, PointsExpiringCondition, TierCondition
from siyu.segments.nodes import Compare, Count, _Node
from siyu.store.slugs import check_slug

#: Journey stages in the order of the user journey, then the two inactive ones.
STAGES: tuple[str, ...] = (
    "acquisition",
    "retention",
    "conversion",
    "repurchase",
    "advocacy",
    "dormant",
    "churned",
)
MAX_DEPTH = 32
MAX_NODES = 2_000
MAX_VALUES = 10_000
# Not starting with "$" or "/": the warehouse would read those as a JSON path or pointer.
_PROPERTY = re.compile(r"^[^$/\x00-\x1f][^\x00-\x1f]{0,127}$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,201}$")
#: Numbers in definitions stay within what a double and the databases' integers hold exactly.
MAX_INT = int(1.7976931348623157e308)

Scalar = str | int | float | bool


class SegmentDefinitionError(ValueError):
    """An invalid definition; ``path`` names the bad node."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _check_number(v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("numbers must be finite (no NaN or infinity)")
    if isinstance(v, int) and abs(v) > MAX_INT:
        raise ValueError(f"number {str(v)[:20]}… is too large for a double")


def _kind(v: Any) -> str:
    """number / date (ISO) / text / boolean: the comparison a value asks for."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return "date" if isinstance(v, str) and _DATE_LIKE.match(v) else "text"


_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _check_names(values: list[str] | None) -> list[str] | None:
    for v in values or []:
        if not _NAME.match(v):
            raise ValueError(f"{v!r}: 1-201 characters, no control characters")
    return values


def check_property(name: str) -> str:
    """A top-level property key the warehouse reads as a key (not a JSON path or pointer)."""
    if not _PROPERTY.match(name):
        raise ValueError("1-128 characters, not starting with '$' or '/', no control characters")
    return name


def _check_values(op: str, value: Any) -> Any:
    """Shape of ``value`` per operator, shared by attribute and property filters."""
    for v in value if isinstance(value, list) else [value]:
        _check_number(v)
    if op in ("is_set", "not_set"):
        if value is not None:
            raise ValueError(f"{op} takes no value")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{op} needs a non-empty list of values")
        if len(value) > MAX_VALUES:
            raise ValueError(f"{op} takes at most {MAX_VALUES} values, got {len(value)}")
        kinds = {
            "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
            for v in value
        }
        if not kinds <= {"str", "number"} or len(kinds) != 1:
            raise ValueError("values must be all strings or all numbers")
    elif op == "between":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(v, bool | list | dict) for v in value)
        ):
            raise ValueError("between needs [low, high]")
        if value[0] is None or _kind(value[0]) != _kind(value[1]):
            raise ValueError("between needs two numbers, two dates or two texts")
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise ValueError("contains needs a non-empty string")
    elif value is None or isinstance(value, list | dict):
        raise ValueError(f"{op} needs one value (a string, number or boolean)")
    return value


class PropertyFilter(_Node):
    property: str = Field(description="Top-level key of the event's properties.")
    op: Literal[
        "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "is_set", "not_set", "between"
    ]
    value: Any = None

    @field_validator("property")
    @classmethod
    def _prop(cls, v: str) -> str:
        return check_property(v)

    @model_validator(mode="after")
    def _value(self) -> PropertyFilter:
        _check_values(self.op, self.value)
        return self


class AttributeCondition(PropertyFilter):
    """A contact attribute (trait). ``ne`` and ``not_in`` also match contacts without it. Date
    operators: ``within_last_days`` / ``within_next_days`` (the date lies in the last / next N
    days) and ``anniversary_within_days`` (month and day fall in the next N days: birthdays)."""

    type: Literal["attribute"]
    property: str = Field(alias="name")  # type: ignore[assignment]
    op: Literal[  # type: ignore[assignment]
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "in",
        "not_in",
        "contains",
        "is_set",
        "not_set",
        "between",
        "within_last_days",
        "within_next_days",
        "anniversary_within_days",
    ]
    days: int | None = Field(default=None, ge=0, le=3660)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _value(self) -> AttributeCondition:
        if self.op.endswith("_days"):
            if self.days is None or self.value is not None:
                raise ValueError(f"{self.op} takes days, not a value")
        else:
            if self.days is not None:
                raise ValueError(f"{self.op} takes a value, not days")
            _check_values(self.op, self.value)
        return self


class TagsCondition(_Node):
    type: Literal["tags"]
    match: Literal["any", "all", "none"] = "any"
    tags: list[str] = Field(
        min_length=1, max_length=MAX_VALUES, description="Tag keys: `group/name` or `name`."
    )
    min_weight: float | None = Field(default=None, description="Effective (decayed) weight at least this.")

    @field_validator("tags")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        return _check_names(v) or v


class Aggregate(_Node):
    property: str
    op: Compare
    value: float

    @field_validator("property")
    @classmethod
    def _prop(cls, v: str) -> str:
        return check_property(v)


class When(_Node):
    """Time of the first / last matching event: before or after a date, or a number of days ago."""

    op: Literal["before", "after"]
    date: datetime | None = None
    days_ago: int | None = Field(default=None, ge=0, le=36_600)

    @model_validator(mode="after")
    def _one(self) -> When:
        if (self.date is None) == (self.days_ago is None):
            raise ValueError("give exactly one of date or days_ago")
        return self


class Window(_Node):
    """Either the last ``days`` days or ``from``/``to`` dates (``to`` exclusive)."""

    days: int | None = Field(default=None, ge=1, le=36_600)
    from_: datetime | date | None = Field(default=None, alias="from")
    to: datetime | date | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> Window:
        if self.days is not None and (self.from_ is not None or self.to is not None):
            raise ValueError("give days, or from/to, not both")
        if self.days is None and self.from_ is None and self.to is None:
            raise ValueError("give days, or from and/or to")
        return self


class EventCondition(_Node):
    """Behaviour: event ``event`` (``*`` = any customer activity) matching ``where``, measured by
    exactly one of ``count`` (default: at least once), ``sum``, ``avg``, ``first``, ``last``."""

    type: Literal["event"]
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)
    count: Count | None = None
    sum: Aggregate | None = None
    avg: Aggregate | None = None
    first: When | None = None
    last: When | None = None
    within: Window | None = None

    @model_validator(mode="after")
    def _measure(self) -> EventCondition:
        given = [m for m in ("count", "sum", "avg", "first", "last") if getattr(self, m) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of count, sum, avg, first, last (got {', '.join(given)})")
        return self

    @property
    def measure(self) -> str:
        for m in ("sum", "avg", "first", "last"):
            if getattr(self, m) is not None:
                return m
        return "count"


class ChannelCondition(_Node):
    """Reached on any of these channels (has a touch there)."""

    type: Literal["channel"]
    channels: list[str] = Field(min_length=1, max_length=1000)

    @field_validator("channels")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        return _check_names(v) or v


class FirstTouchCondition(_Node):
    type: Literal["first_touch"]
    channels: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    entry_codes: list[str] | None = Field(default=None, min_length=1, max_length=MAX_VALUES)

    @field_validator("channels", "entry_codes")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        return _check_names(v)

    @model_validator(mode="after")
    def _some(self) -> FirstTouchCondition:
        if self.channels is None and self.entry_codes is None:
            raise ValueError("give channels and/or entry_codes")
        return self


class ConsentCondition(_Node):
    """Current consent for a purpose on a channel (``*`` records apply to every channel)."""

    type: Literal["consent"]
    purpose: Literal["marketing", "service", "analytics"]
    channel: str = Field(default="*", min_length=1, max_length=32, pattern=r"^[^\x00-\x1f]+$")
    state: Literal["granted", "withdrawn", "unknown", "not_granted"] = "granted"


class StageCondition(_Node):
    type: Literal["stage"]
    stages: list[Literal[STAGES]] = Field(min_length=1)  # type: ignore[valid-type]


class RfmCondition(_Node):
    type: Literal["rfm"]
    segments: list[str] | None = Field(default=None, min_length=1, max_length=50)
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _some(self) -> RfmCondition:
        if not (self.segments or self.r or self.f or self.m):
            raise ValueError("give segments and/or r, f, m score ranges")
        for name in ("r", "f", "m"):
            rng = getattr(self, name)
            if rng and not 1 <= rng[0] <= rng[1] <= 5:
                raise ValueError(f"{name} must be [low, high] within 1..5")
        return self


class ChurnRiskCondition(_Node):
    """The stored churn risk score (0..1, written by ``siyu analytics churn --store``) compared
    with ``value``; contacts without a stored score match no comparison."""

    type: Literal["churn_risk"]
    op: Compare = "gte"
    value: float = Field(ge=0.0, le=1.0)


class SegmentCondition(_Node):
    type: Literal["segment"]
    segment: str
    member: bool = True

    @field_validator("segment")
    @classmethod
    def _name(cls, v: str) -> str:
        _check_names([v])
        return v


class GroupCondition(_Node):
    """In customer groups (chat ids; none: any), or joined them in the last N days."""

    type: Literal["group"]
    groups: list[str] | None = Field(default=None, min_length=1, max_length=MAX_VALUES)
    joined_within_days: int | None = Field(default=None, ge=0, le=3660)


class CommunityRoleCondition(_Node):
    """The pyramid role (seed 1% / koc 9% / member 90%) brand-wide, or in ``group`` (a chat id)."""

    type: Literal["community_role"]
    roles: list[Literal["seed", "koc", "member"]] = Field(min_length=1, max_length=3)
    group: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")


class And(_Node):
    type: Literal["and"]
    conditions: list[Node] = Field(min_length=1, max_length=500)


class Or(_Node):
    type: Literal["or"]
    conditions: list[Node] = Field(min_length=1, max_length=500)


class Not(_Node):
    type: Literal["not"]
    condition: Node


Node = Annotated[
    And
    | Or
    | Not
    | AttributeCondition
    | TagsCondition
    | EventCondition
    | ChannelCondition
    | FirstTouchCondition
    | ConsentCondition
    | StageCondition
    | RfmCondition
    | ChurnRiskCondition
    | SegmentCondition
    | GroupCondition
    | CommunityRoleCondition
    | TierCondition
    | PointsCondition
    | PointsExpiringCondition
    | CouponsCondition,
    Field(discriminator="type"),
]
NODE_TYPES = (
    "and",
    "or",
    "not",
    "attribute",
    "tags",
    "event",
    "channel",
    "first_touch",
    "consent",
    "stage",
    "rfm",
    "churn_risk",
    "segment",
    "group",
    "community_role",
    "tier",
    "points",
    "points_expiring",
    "coupons",
)
for _model in (And, Or, Not):
    _model.model_rebuild()


class SegmentSpec(_Node):
    key: str
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["dynamic", "static"] = "dynamic"
    tag: str | None = Field(
        default=None, max_length=201, description="Tag added to members on entry and removed on exit."
    )
    definition: Node

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)


def _shape(value: Any, path: str) -> None:
    """Depth and size limits, checked before pydantic (which would recurse without bound)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    nodes = 0
    while stack:
        node, where, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        nodes += 1
        if depth > MAX_DEPTH:
            raise SegmentDefinitionError(where, f"nested deeper than {MAX_DEPTH} levels")
        if nodes > MAX_NODES:
            raise SegmentDefinitionError(path, f"more than {MAX_NODES} nodes")
        if isinstance(node.get("conditions"), list):
            stack.extend((c, f"{where}.conditions[{i}]", depth + 1) for i, c in enumerate(node["conditions"]))
        if isinstance(node.get("condition"), dict):
            stack.append((node["condition"], f"{where}.condition", depth + 1))


_TYPE_STEPS = {"datetime", "date", "str", "int", "float", "bool", "list", "dict", "tuple", "none"}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        prev = loc[i - 1] if i else None
        # pydantic adds the discriminator value as a step after each node position; drop it
        if part in NODE_TYPES and (prev in ("definition", "condition") or isinstance(prev, int)):
            continue
        # ... and the member type of a union ("datetime", "function-after[...]")
        if part in _TYPE_STEPS or "[" in part:
            continue
        out += f".{part}" if out else str(part)
    return out


def parse_definition(raw: Any, path: str = "definition") -> Node:
    """Validate one definition tree."""
    return parse_spec({"key": "x", "name": "x", "definition": raw}, prefix=path).definition


def parse_spec(raw: Any, prefix: str | None = None) -> SegmentSpec:
    """Validate a whole segment document, raising :class:`SegmentDefinitionError` on the first
    problem with the path of the node it is in."""
    if not isinstance(raw, dict):
        raise SegmentDefinitionError("segment", "expected an object with key, name, kind and definition")
    _shape(raw.get("definition"), prefix or "definition")
    try:
        return SegmentSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _path(tuple(err["loc"]))
        if prefix:
            loc = loc.replace("definition", prefix, 1)
        msg = err["msg"].removeprefix("Value error, ")
        raise SegmentDefinitionError(loc or "segment", msg) from None
