"""RFM settings: what an order is (``rfm.config``) and the named segment rules (``rfm.rules``).

Both are stored as JSON in the ``settings`` table and validated here; errors name the bad
item by its path (``rules[2].r``) so an operator editing the JSON can find it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siyu.segments.schemas import check_property

RULES_SETTING = "rfm.rules"
CONFIG_SETTING = "rfm.config"
#: Segment names are stored in ``contact_rfm.segment`` (32 characters).
MAX_NAME = 32
MAX_RULES = 25

#: The standard R × F map (first match wins). Every cell of 1..5 × 1..5 is covered once.
DEFAULT_RULES: list[dict[str, Any]] = [
    {"name": "Champions", "r": [5, 5], "f": [4, 5]},
    {"name": "Loyal", "r": [3, 4], "f": [4, 5]},
    {"name": "Potential Loyalist", "r": [4, 5], "f": [2, 3]},
    {"name": "New", "r": [5, 5], "f": [1, 1]},
    {"name": "Promising", "r": [4, 4], "f": [1, 1]},
    {"name": "Need Attention", "r": [3, 3], "f": [3, 3]},
    {"name": "About To Sleep", "r": [3, 3], "f": [1, 2]},
    {"name": "Can't Lose Them", "r": [1, 2], "f": [5, 5]},
    {"name": "At Risk", "r": [1, 2], "f": [3, 4]},
    {"name": "Lost", "r": [1, 2], "f": [1, 2]},
]
DEFAULT_CONFIG: dict[str, Any] = {
    "event": "Order Completed",
    "amount_property": "amount",
    "window_days": None,
}


class RfmSettingsError(ValueError):
    """Invalid RFM rules or configuration; ``path`` names the bad item."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RfmRule(_Model):
    """Contacts whose R score lies in ``r`` and F score in ``f`` (both inclusive)."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    r: tuple[int, int]
    f: tuple[int, int]

    @field_validator("r", "f")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 5:
            raise ValueError("must be [low, high] with 1 <= low <= high <= 5")
        return v

    def covers(self, r: int, f: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1]


class RfmRules(_Model):
    rules: list[RfmRule] = Field(min_length=1, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _complete(self) -> RfmRules:
        # A cell no rule covers would leave contacts without a segment; say which cells.
        missing = [
            f"r{r} f{f}"
            for r in range(1, 6)
            for f in range(1, 6)
            if not any(rule.covers(r, f) for rule in self.rules)
        ]
        if missing:
            raise ValueError(f"no rule covers the (R, F) cells {', '.join(missing)}")
        names = [rule.name for rule in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique (repeated: {', '.join(dupes)})")
        return self

    def segment_of(self, r: int, f: int) -> str:
        return next(rule.name for rule in self.rules if rule.covers(r, f))

    def dump(self) -> list[dict[str, Any]]:
        return [{"name": x.name, "r": list(x.r), "f": list(x.f)} for x in self.rules]


class RfmConfig(_Model):
    """What an order is: events named ``event`` whose ``amount_property`` is the order value;
    ``window_days`` limits scoring to orders of the last N days (None: all orders)."""

    event: str = Field(min_length=1, max_length=200)
    amount_property: str
    window_days: int | None = Field(default=None, ge=1, le=36_600)

    @field_validator("amount_property")
    @classmethod
    def _prop(cls, v: str) -> str:
        return check_property(v)


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _raise(exc: ValidationError, prefix: str, strip: int = 0) -> None:
    err = exc.errors()[0]
    loc = tuple(err["loc"])[strip:]
    msg = err["msg"].removeprefix("Value error, ")
    raise RfmSettingsError(_path(prefix, loc), msg) from None


def parse_rules(raw: Any) -> RfmRules:
    """Validate a rule list such as :data:`DEFAULT_RULES`."""
    if not isinstance(raw, list):
        raise RfmSettingsError("rules", "expected a list of {name, r: [low, high], f: [low, high]}")
    try:
        return RfmRules.model_validate({"rules": raw})
    except ValidationError as exc:
        _raise(exc, "rules", strip=1)
    raise AssertionError("unreachable")  # pragma: no cover


def parse_config(raw: Any) -> RfmConfig:
    if not isinstance(raw, dict):
        raise RfmSettingsError("config", "expected an object with event, amount_property, window_days")
    try:
        return RfmConfig.model_validate(raw)
    except ValidationError as exc:
        _raise(exc, "config")
    raise AssertionError("unreachable")  # pragma: no cover
