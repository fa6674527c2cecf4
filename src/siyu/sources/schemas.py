"""Input and output shapes of the sources capability."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.store.models import CHANNEL_KINDS
from siyu.store.slugs import check_slug


class ChannelCreate(BaseModel):
    key: str = Field(description="Stable slug, e.g. `wecom-main`.")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description=f"One of: {', '.join(CHANNEL_KINDS)}.")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {v!r}; one of {', '.join(CHANNEL_KINDS)}")
        return v


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    kind: str
    created_at: datetime


class EntryCodeCreate(BaseModel):
    channel: str = Field(description="Channel key.")
    state: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_\-.]+$")
    name: str = Field(min_length=1, max_length=200)
    campaign: str | None = None


class EntryCodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel_id: int
    state: str
    name: str
    campaign: str | None


class SourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    channel: str | None = Field(default=None, description="Channel key new contacts are attributed to.")


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    write_key: str
    channel_id: int | None
    disabled: bool
