"""What the privacy capability takes and gives: corrections, receipts, do-not-contact entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PrivacyError(ValueError):
    """A request the capability refuses (unknown identifier, a value owned by another person …).
    ``field`` names where the problem is, for the interfaces' error messages."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IdentifierReplacement(BaseModel):
    """Replace one identifier, e.g. a wrong phone: ``{"type": "phone", "old": "…", "new": "…"}``."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=32)
    old: str = Field(max_length=256)
    new: str = Field(max_length=256)


class Correction(BaseModel):
    """Traits to set (newest wins regardless of event time: this is the person's own word),
    traits to remove, identifiers to replace."""

    model_config = ConfigDict(extra="forbid")
    traits: dict[str, Any] = Field(default_factory=dict, max_length=200)
    remove: list[str] = Field(default_factory=list, max_length=200)
    identifiers: list[IdentifierReplacement] = Field(default_factory=list, max_length=20)


class Receipt(BaseModel):
    """Proof of an erasure. ``digest`` is SHA-256 over the canonical JSON of the other fields
    (``receipt_digest``), so a printed receipt can be checked against the stored one."""

    deletion_id: str
    at: str
    counts: dict[str, int]
    total: int
    warehouse: str = "pending"
    digest: str


class DoNotContactEntry(BaseModel):
    id: int
    type: str
    #: the blind index (HMAC) of the identifier, shortened for display; never the value
    lookup: str
    channel: str
    reason: str
    deletion_id: str | None
    created_at: str
