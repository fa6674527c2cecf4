"""Segment leaves over the loyalty programme, compiled like the other profile leaves (one
filtered aggregate per leaf over one scan of a warehouse mirror table):

* ``tier``: a member in one of ``tiers`` (keys), or at or above ``at_least``; neither: any
  active member.
* ``points``: the member's ``active`` (default) or ``pending`` balance compared with ``value``.
  Contacts without points have 0, so ``{"op": "lt", "value": 100}`` also matches non-members;
  combine with ``tier`` to mean members only. The balance follows the ledger's rule at the
  evaluation time (``siyu.loyalty.ledger.balances``): a pending award whose refund window has
  passed is active, an award past its expiry is not, even before the jobs have run. So it moves
  with the calendar, and a segment using it is recomputed in full.
* ``points_expiring``: active points whose expiry falls within the next ``within_days`` days,
  compared with ``value`` (default: at least 1 point). It moves with the calendar, so a segment
  using it is recomputed in full.
* ``coupons``: how many coupons (of ``templates``, or any) the contact has in ``state``:
  ``unused`` (issued, not redeemed, still valid: usable today), ``redeemed``, ``expired``
  (including issued ones past their date) or ``held`` (ever issued to them, whatever became
  of it). ``unused`` and ``expired`` move with the calendar (full recompute).

Tier keys and coupon template keys are checked against the system of record (the catalog); an
unknown key is an error naming the node.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import and_, func, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from siyu.segments.nodes import Compare, Count, _Node
from siyu.warehouse.query import COUPON_HOLDINGS, LOYALTY_MEMBERS, POINTS_LOTS

#: points are int32 in the ledger; a comparison beyond that range is a typo
MAX_POINTS = 2_147_483_647
_KEY = r"^[^\x00-\x1f]{1,64}$"


class TierCondition(_Node):
    """Member in any of ``tiers`` or at/above ``at_least`` (tier keys); neither: any member."""

    type: Literal["tier"]
    tiers: list[str] | None = Field(default=None, min_length=1, max_length=100)
    at_least: str | None = Field(default=None, min_length=1, max_length=64, pattern=_KEY)

    @model_validator(mode="after")
    def _one(self) -> TierCondition:
        if self.tiers is not None and self.at_least is not None:
            raise ValueError("give tiers or at_least, not both")
        for k in self.tiers or []:
            if not k or len(k) > 64 or any(ord(ch) < 32 for ch in k):
                raise ValueError(f"{k!r}: a tier key of 1-64 characters")
        return self


class PointsCondition(_Node):
    """The points balance (``active`` or ``pending``) compared with ``value``."""

    type: Literal["points"]
    balance: Literal["active", "pending"] = "active"
    op: Compare = "gte"
    value: int = Field(ge=-MAX_POINTS, le=MAX_POINTS)


class PointsExpiringCondition(_Node):
    """Active points expiring within the next ``within_days`` days, compared with ``value``."""

    type: Literal["points_expiring"]
    within_days: int = Field(ge=0, le=3660)
    op: Compare = "gte"
    value: int = Field(default=1, ge=0, le=MAX_POINTS)


class CouponsCondition(_Node):
    """How many coupons the contact has in ``state`` (of ``templates``, or any)."""

    type: Literal["coupons"]
    state: Literal["unused", "held", "redeemed", "expired"] = "unused"
    templates: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    count: Count | None = None

    @model_validator(mode="after")
    def _keys(self) -> CouponsCondition:
        for k in self.templates or []:
            if not k or len(k) > 64 or any(ord(ch) < 32 for ch in k):
                raise ValueError(f"{k!r}: a coupon template key of 1-64 characters")
        return self


#: warehouse tables by the prefix of their aggregate columns (merged into the compiler's)
LOYALTY_SIDES: dict[str, Any] = {"tier": LOYALTY_MEMBERS, "pts": POINTS_LOTS, "cpn": COUPON_HOLDINGS}


def _compare(lhs: ColumnElement[Any], op: str, value: int) -> ColumnElement[bool]:
    ops = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}
    return getattr(lhs, ops[op])(literal(value))  # type: ignore[no-any-return]


def _unknown(path: str, what: str, name: str) -> Exception:
    from siyu.segments.schemas import SegmentDefinitionError  # schemas imports this module

    return SegmentDefinitionError(path, f"unknown {what} {name!r}")


def tier_leaf(c: Any, node: TierCondition, path: str) -> ColumnElement[bool]:
    m = LOYALTY_MEMBERS
    known: dict[str, int] = c.catalog.tiers
    conds = [m.c.status == "active"]
    wanted = node.tiers or ([node.at_least] if node.at_least else [])
    for i, key in enumerate(wanted):
        if key not in known:
            where = f"{path}.tiers[{i}]" if node.tiers else f"{path}.at_least"
            raise _unknown(where, "tier", key)
    if node.at_least is not None:
        floor = known[node.at_least]
        keys = sorted(k for k, rank in known.items() if rank >= floor)
        conds.append(m.c.tier.in_(keys))
    elif node.tiers:
        conds.append(m.c.tier.in_(sorted(set(node.tiers))))
    return c._held("tier", repr(("tier", wanted, node.at_least)), and_(*conds))  # type: ignore[no-any-return]


def points_leaf(c: Any, node: PointsCondition, path: str) -> ColumnElement[bool]:
    p = POINTS_LOTS
    c.full_only.append(f"{path}: points are released and expire with the calendar")
    unexpired = or_(p.c.expires_at.is_(None), p.c.expires_at > c.now)
    released = p.c.available_at <= c.now
    cond = and_(unexpired, released if node.balance == "active" else ~released)
    total = c._side("pts", f"bal|{node.balance}", func.sum(p.c.points).filter(cond))
    return _compare(func.coalesce(total, 0), node.op, node.value)


def points_expiring_leaf(c: Any, node: PointsExpiringCondition, path: str) -> ColumnElement[bool]:
    p = POINTS_LOTS
    c.full_only.append(f"{path}: points expiring within days moves with the calendar")
    until = c.now + timedelta(days=node.within_days)
    soon = and_(p.c.available_at <= c.now, p.c.expires_at > c.now, p.c.expires_at <= until)
    total = c._side("pts", f"exp|{node.within_days}", func.sum(p.c.points).filter(soon))
    return _compare(func.coalesce(total, 0), node.op, node.value)


def coupons_leaf(c: Any, node: CouponsCondition, path: str) -> ColumnElement[bool]:
    h = COUPON_HOLDINGS
    known: set[str] = c.catalog.coupon_templates
    for i, key in enumerate(node.templates or []):
        if key not in known:
            raise _unknown(f"{path}.templates[{i}]", "coupon template", key)
    valid = or_(h.c.expires_at.is_(None), h.c.expires_at > c.now)
    if node.state == "unused":
        cond: ColumnElement[bool] = and_(h.c.status == "issued", valid)
    elif node.state == "expired":
        cond = or_(h.c.status == "expired", and_(h.c.status == "issued", h.c.expires_at <= c.now))
    elif node.state == "redeemed":
        cond = h.c.status == "redeemed"
    else:
        cond = h.c.status != "unassigned"
    if node.state in ("unused", "expired"):
        c.full_only.append(f"{path}: {node.state} coupons change as they expire")
    if node.templates:
        cond = and_(cond, h.c.template.in_(sorted(set(node.templates))))
    count = node.count or Count()
    key = repr((node.state, sorted(set(node.templates or []))))
    n = c._side("cpn", key, func.sum(h.c.n).filter(cond))
    return _compare(func.coalesce(n, 0), count.op, count.value)


__all__ = [
    "CouponsCondition",
    "PointsCondition",
    "PointsExpiringCondition",
    "TierCondition",
    "coupons_leaf",
    "points_expiring_leaf",
    "points_leaf",
    "tier_leaf",
]
