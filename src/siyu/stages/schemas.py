"""Stage rules: an ordered list ``[{stage, when}]`` where ``when`` is a segment definition node
(docs/segments.md); the first rule that matches gives the contact's stage, and a contact
matching none is in ``acquisition``. Stored as JSON in ``settings`` under ``stages.rules``.

Errors name the rule and the node inside it, e.g. ``rules[2].when.conditions[0].count.value``,
so an operator editing the JSON can find the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from siyu.segments import schemas as s
from siyu.segments.schemas import STAGES, SegmentDefinitionError, parse_definition

RULES_SETTING = "stages.rules"
DEFAULT_STAGE = "acquisition"
MAX_RULES = 50
ORDER_EVENT = "Order Completed"


class StageRulesError(SegmentDefinitionError):
    """Invalid stage rules; ``path`` names the rule and node (``rules[1].when.count``)."""


def _event(name: str, **measure: Any) -> dict[str, Any]:
    return {"type": "event", "event": name, **measure}


def _inactive_for(days: int) -> dict[str, Any]:
    """Some customer activity ever, none in the last ``days`` days."""
    return {
        "type": "and",
        "conditions": [
            _event("*"),
            {"type": "not", "condition": _event("*", within={"days": days})},
        ],
    }


#: Defaults (docs/stages-rfm.md explains each). ``*`` is any customer activity: track, page and
#: screen calls except the events siyu writes itself (``stage.changed``, ``tag.added``, …).
DEFAULT_RULES: list[dict[str, Any]] = [
    {"stage": "churned", "when": _inactive_for(180)},
    {"stage": "dormant", "when": _inactive_for(60)},
    {
        "stage": "advocacy",
        "when": {"type": "and", "conditions": [_event(ORDER_EVENT), _event("Referral Converted")]},
    },
    {"stage": "repurchase", "when": _event(ORDER_EVENT, count={"op": "gte", "value": 2})},
    {"stage": "conversion", "when": _event(ORDER_EVENT)},
    {
        "stage": "retention",
        "when": {
            "type": "or",
            "conditions": [_event("Message Replied"), _event("Content Clicked"), _event("Group Joined")],
        },
    },
]


@dataclass(frozen=True)
class StageRule:
    stage: str
    when: s.Node

    def dump(self) -> dict[str, Any]:
        when = self.when.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[union-attr]
        return {"stage": self.stage, "when": when}


def parse_rules(raw: Any) -> list[StageRule]:
    """Validate a rule list; raises :class:`StageRulesError` naming the first bad node."""
    if not isinstance(raw, list):
        raise StageRulesError("rules", "expected a list of {stage, when} objects")
    if len(raw) > MAX_RULES:
        raise StageRulesError("rules", f"at most {MAX_RULES} rules, got {len(raw)}")
    rules = []
    for i, item in enumerate(raw):
        path = f"rules[{i}]"
        if not isinstance(item, dict):
            raise StageRulesError(path, "expected an object with stage and when")
        extra = sorted(set(item) - {"stage", "when"})
        if extra:
            raise StageRulesError(f"{path}.{extra[0]}", "unknown key; a rule has stage and when")
        stage = item.get("stage")
        if stage not in STAGES:
            raise StageRulesError(f"{path}.stage", f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
        if "when" not in item:
            raise StageRulesError(f"{path}.when", "missing; give a segment definition node")
        try:
            node = parse_definition(item["when"], f"{path}.when")
        except SegmentDefinitionError as exc:
            raise StageRulesError(exc.path, exc.message) from None
        rules.append(StageRule(stage, node))
    return rules
