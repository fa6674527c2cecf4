"""The names a definition refers to (tags, channels, entry codes, segments, customer groups,
tiers, coupon templates) and their resolution from the system of record, so an unknown name is
an error naming its node before any warehouse query runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from siyu.segments import schemas as s

KINDS = ("tags", "channels", "entry_codes", "segments", "groups", "tiers", "coupon_templates")


@dataclass
class Catalog:
    """Names resolved from the system of record: tag key → (id, half-life in days or None)."""

    tags: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    entry_codes: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # chat id → customer group id
    tiers: dict[str, int] = field(default_factory=dict)  # tier key → rank (every tier)
    coupon_templates: set[str] = field(default_factory=set)


def references(node: s.Node) -> dict[str, set[str]]:
    """Names a definition refers to, by kind (for resolving and for cycle checks)."""
    out: dict[str, set[str]] = {k: set() for k in KINDS}
    stack: list[Any] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, s.And | s.Or):
            stack.extend(n.conditions)
        elif isinstance(n, s.Not):
            stack.append(n.condition)
        elif isinstance(n, s.TagsCondition):
            out["tags"].update(n.tags)
        elif isinstance(n, s.ChannelCondition):
            out["channels"].update(n.channels)
        elif isinstance(n, s.FirstTouchCondition):
            out["channels"].update(n.channels or [])
            out["entry_codes"].update(n.entry_codes or [])
        elif isinstance(n, s.SegmentCondition):
            out["segments"].add(n.segment)
        elif isinstance(n, s.GroupCondition):
            out["groups"].update(n.groups or [])
        elif isinstance(n, s.CommunityRoleCondition) and n.group:
            out["groups"].add(n.group)
        elif isinstance(n, s.TierCondition):
            out["tiers"].update([*(n.tiers or []), *([n.at_least] if n.at_least else [])])
        elif isinstance(n, s.CouponsCondition):
            out["coupon_templates"].update(n.templates or [])
    return out


def resolve(repo: Any, nodes: Iterable[s.Node]) -> Catalog:
    """One catalog for several definitions (a segment, or every stage rule), read through
    ``SegmentRepository`` ``repo``."""
    refs: dict[str, set[str]] = {k: set() for k in KINDS}
    for node in nodes:
        for kind, names in references(node).items():
            refs[kind] |= names
    return Catalog(
        tags=repo.tags(refs["tags"]),
        channels=repo.channels(refs["channels"]),
        entry_codes=repo.entry_codes(refs["entry_codes"]),
        segments=repo.segment_ids(refs["segments"]),
        groups=repo.groups(refs["groups"]),
        tiers=repo.tiers() if refs["tiers"] else {},
        coupon_templates=repo.coupon_templates(refs["coupon_templates"]),
    )
