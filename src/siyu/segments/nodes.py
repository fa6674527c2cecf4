"""The base of every segment definition node, shared by ``schemas`` and the condition modules
that live beside it (``loyalty``), so those can define nodes without importing ``schemas``
(which imports them for its union)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_COUNT = 2_000_000_000
Compare = Literal["eq", "ne", "lt", "lte", "gt", "gte"]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Count(_Node):
    op: Compare = "gte"
    value: int = Field(default=1, ge=0, le=MAX_COUNT)
