"""What a catalogue edit may contain (REST body, CLI file, console form)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

KINDS = ("text", "number", "money", "stage", "channel")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")


class PropertyLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: str | None = Field(default=None, max_length=60)
    en: str | None = Field(default=None, max_length=60)
    kind: Literal["text", "number", "money", "stage", "channel"] | None = None


class EventDefinitionUpdate(BaseModel):
    """Fields to change; a field left out keeps its value, an empty string clears it (the
    built-in default then shows again)."""

    model_config = ConfigDict(extra="forbid")

    display_zh: str | None = Field(default=None, max_length=100)
    display_en: str | None = Field(default=None, max_length=100)
    summary_zh: str | None = Field(default=None, max_length=200)
    summary_en: str | None = Field(default=None, max_length=200)
    properties: dict[str, PropertyLabel] | None = Field(default=None, max_length=200)

    @field_validator("summary_zh", "summary_en")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        """A summary names properties as ``{key}``; ``{}`` or an unbalanced brace is a typo."""
        if v:
            if v.count("{") != v.count("}") or v.count("[") != v.count("]"):
                raise ValueError("unbalanced { } or [ ] in the summary")
            if any(not name.strip() for name in _TEMPLATE_FIELD.findall(v)):
                raise ValueError("an empty {} in the summary: name a property, e.g. {amount}")
        return v


class CatalogueError(ValueError):
    """An edit the catalogue refuses (e.g. an unknown event name)."""


class CatalogueNotFound(LookupError):
    """No such event in the catalogue (stored or built in)."""
