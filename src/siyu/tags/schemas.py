"""Input shapes of the tags capability."""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siyu.segments.schemas import PropertyFilter

M = TypeVar("M", bound=BaseModel)


class TagError(ValueError):
    """A tagging request that cannot be carried out (invalid input names its field)."""


def validate(model: type[M], raw: Any) -> M:
    """``model.model_validate`` with the first problem as a plain message naming its field."""
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or model.__name__
        raise TagError(f"{where}: {e['msg'].removeprefix('Value error, ')}") from None


SOURCES: tuple[str, ...] = (
    "manual",
    "rule",
    "keyword",
    "import",
    "journey",
    "segment",
    "merge",
    "community",
    "wecom",
)
_NAME = re.compile(r"^[^/\x00-\x1f]{1,100}$")


def split_key(key: str) -> tuple[str | None, str]:
    """``group/name`` → (group, name); ``name`` → (None, name)."""
    group, sep, name = key.partition("/")
    return (group, name) if sep else (None, key)


def check_key(key: str) -> str:
    group, name = split_key(key)
    for part in (group, name) if group is not None else (name,):
        if not _NAME.match(part.strip()) or part != part.strip():
            raise ValueError(f"tag key {key!r}: use `name` or `group/name`, 1-100 characters each, no '/'")
    return key


class TagGroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^/\x00-\x1f]+$")
    description: str = Field(default="", max_length=500)
    exclusive: bool = Field(default=False, description="A contact holds at most one tag of this group.")


class TagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(description="`name` or `group/name`; the group is created when missing.")
    half_life_days: float | None = Field(default=None, gt=0, le=36_500)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_key(v)


class _Rule(BaseModel):
    """What every rule adds: ``weight`` to ``tag`` (created with ``half_life_days`` if new)."""

    model_config = ConfigDict(extra="forbid")
    tag: str
    weight: float = Field(default=1.0, gt=0, le=1e6)
    half_life_days: float | None = Field(default=None, gt=0, le=36_500)


class EventRule(_Rule):
    """When an event with these properties happens, add ``weight`` to the tag. ``tag`` may name
    a property in braces, e.g. ``interest/{category}``: one tag per value."""

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        check_key(re.sub(r"\{[^{}]{1,128}\}", "x", v))
        return v


class KeywordRule(_Rule):
    """Words in inbound message text (segmented with jieba; English by word) add the tag."""

    kind: Literal["keyword"] = "keyword"
    event: str = Field(default="Message Received", min_length=1, max_length=200)
    property: str = Field(default="text", min_length=1, max_length=128)
    keywords: list[str] = Field(min_length=1, max_length=1000)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        return check_key(v)

    @model_validator(mode="after")
    def _words(self) -> KeywordRule:
        cleaned = [k.strip().lower() for k in self.keywords]
        if any(not k or len(k) > 50 for k in cleaned):
            raise ValueError("keywords must be 1-50 characters")
        object.__setattr__(self, "keywords", cleaned)
        return self


class TagRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    rule: EventRule | KeywordRule = Field(discriminator="kind")
