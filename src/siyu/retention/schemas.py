"""Retention policies: how long each kind of personal data is kept (PIPL art. 19: no longer
than the purpose needs). Stored as one brand setting in the database; docs/retention.md says
why each default is what it is."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: An event rule for every event name not named by another rule.
ALL_EVENTS = "*"
MAX_DAYS = 36_500
MAX_YEARS = 100
MAX_RULES = 100


class EventRule(BaseModel):
    """Events named ``event`` (or every other event, ``*``) older than ``days`` are deleted."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=200)
    days: int = Field(ge=1, le=MAX_DAYS)

    @field_validator("event")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("an event name, or * for every other event")
        return value


class RetentionPolicies(BaseModel):
    """Each policy is off when ``None``. Defaults: only rendered message bodies go (180 days
    after delivery); deleting events, customers or the audit trail is the brand's decision."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventRule] = Field(default_factory=list, max_length=MAX_RULES)
    inactive_contacts_years: int | None = Field(default=None, ge=1, le=MAX_YEARS)
    outbox_body_days: int | None = Field(default=180, ge=1, le=MAX_DAYS)
    audit_years: int | None = Field(default=None, ge=1, le=MAX_YEARS)

    @field_validator("events")
    @classmethod
    def _one_rule_per_event(cls, rules: list[EventRule]) -> list[EventRule]:
        seen: set[str] = set()
        for index, rule in enumerate(rules):
            if rule.event in seen:
                raise ValueError(f"events[{index}]: a second rule for {rule.event!r}")
            seen.add(rule.event)
        return rules

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


#: Policy names as the run reports them (and the console and CLI label them).
POLICY_NAMES: tuple[str, ...] = ("events", "inactive_contacts", "outbox_bodies", "audit_entries")
