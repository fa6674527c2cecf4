"""Compile a segment definition to one warehouse query.

Every behavioural leaf becomes one filtered aggregate (``count(*) FILTER (WHERE …)``) of a
single scan of ``events`` grouped by contact, the same shape a hand-written query has; every
other leaf becomes an ``EXISTS`` over a profile-state table. Leaves are two-valued (a contact
without data is "false", never NULL) so ``not`` means what operators expect.

Values are bound parameters; names (tags, channels, entry codes, segments) are resolved to ids
from the system of record first, so an unknown name is an error naming its node.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Double,
    and_,
    case,
    distinct,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from siyu.segments import schemas as s
from siyu.segments.catalog import Catalog
from siyu.segments.community import community_role_leaf, group_leaf
from siyu.segments.consent import CONSENT_IN_EFFECT, consent_condition
from siyu.segments.loyalty import LOYALTY_SIDES, coupons_leaf, points_expiring_leaf, points_leaf, tier_leaf
from siyu.store.models import SYSTEM_EVENTS
from siyu.warehouse.query import (
    ATTRIBUTES,
    COMMUNITY_ROLES,
    CONSENTS,
    CONTACT_TAGS,
    CONTACTS,
    EVENTS,
    GROUP_MEMBERS,
    RFM,
    SCORES,
    SEGMENT_MEMBERS,
    STAGES,
    TOUCHES,
    AgeSeconds,
    JsonText,
    MonthDay,
    TryDouble,
    TryTimestamp,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([+-]\d{2}:?\d{2}|Z)?$")
ACTIVITY_TYPES = ("track", "page", "screen")


@dataclass
class Window:
    """A behaviour leaf's relative window: matching events older than ``days`` leave it."""

    conditions: list[ColumnElement[bool]]
    days: float


#: Profile-state tables a segment reads, by the prefix of their aggregate columns.
SIDE_TABLES: dict[str, Any] = {
    "attr": ATTRIBUTES,
    "tag": CONTACT_TAGS,
    "touch": TOUCHES,
    "consent": CONSENTS,
    "consent_all": CONSENT_IN_EFFECT,
    "stage": STAGES,
    "rfm": RFM,
    "score": SCORES,
    "member": SEGMENT_MEMBERS,
    "grp": GROUP_MEMBERS,
    "role": COMMUNITY_ROLES,
    **LOYALTY_SIDES,
}


@dataclass
class Side:
    """Filtered aggregates over one profile table, grouped by contact (one scan each)."""

    aggregates: list[Any] = field(default_factory=list)
    #: rows that can matter (e.g. the attribute names used); None: all
    prefilter: list[ColumnElement[bool]] | None = None


@dataclass
class Compiled:
    condition: ColumnElement[bool]
    aggregates: list[Any]
    event_names: set[str] | None  # None: every event type is needed
    lower_bound: datetime | None  # events older than this cannot matter
    windows: list[Window]
    #: why the segment cannot be recomputed incrementally (time moves it for everyone)
    full_only: list[str]
    as_of: datetime
    sides: dict[str, Side] = field(default_factory=dict)

    def query(self, restrict: Any | None = None) -> Select[Any]:
        """``SELECT id FROM contacts …`` for the members; ``restrict`` is a selectable of
        contact ids to evaluate (the incremental recompute)."""
        stmt = select(CONTACTS.c.id.label("contact_id")).where(CONTACTS.c.merged_into_id.is_(None))
        joined: Any = CONTACTS
        if self.aggregates:
            scan = select(EVENTS.c.contact_id, *self.aggregates)
            if self.event_names is not None:
                scan = scan.where(EVENTS.c.event.in_(sorted(self.event_names)))
            if self.lower_bound is not None:
                scan = scan.where(EVENTS.c.timestamp >= _naive(self.lower_bound))
            if restrict is not None:
                scan = scan.where(EVENTS.c.contact_id.in_(restrict))
            beh = scan.group_by(EVENTS.c.contact_id).subquery("beh")
            joined = joined.outerjoin(beh, beh.c.contact_id == CONTACTS.c.id)
        for prefix, side in sorted(self.sides.items()):
            table = SIDE_TABLES[prefix]
            sub = select(table.c.contact_id, *side.aggregates)
            if side.prefilter:
                sub = sub.where(or_(*side.prefilter))
            if restrict is not None:
                sub = sub.where(table.c.contact_id.in_(restrict))
            grouped = sub.group_by(table.c.contact_id).subquery(f"{prefix}_s")
            joined = joined.outerjoin(grouped, grouped.c.contact_id == CONTACTS.c.id)
        if joined is not CONTACTS:
            stmt = stmt.select_from(joined)
        if restrict is not None:
            stmt = stmt.where(CONTACTS.c.id.in_(restrict))
        return stmt.where(self.condition)


def compile_definition(node: s.Node, catalog: Catalog, as_of: datetime | None = None) -> Compiled:
    return _Compiler(catalog, as_of or datetime.now(UTC)).run(node)


def compile_many(
    nodes: list[tuple[s.Node, str]], catalog: Catalog, as_of: datetime | None = None
) -> tuple[list[ColumnElement[bool]], Compiled]:
    """Several definitions (with the path prefix of each, for errors) over ONE events scan:
    ``Compiled.condition`` is true; each returned condition is one definition's. Journey stage
    rules classify every contact this way."""
    compiler = _Compiler(catalog, as_of or datetime.now(UTC))
    conditions = [compiler.node(node, path) for node, path in nodes]
    return conditions, compiler.finish(true())


def _naive(at: datetime) -> datetime:
    """The warehouse stores naive UTC timestamps."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _when(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return _naive(value)
    return datetime.combine(value, time())


def _definitely(expr: ColumnElement[Any]) -> ColumnElement[bool]:
    """NULL (no data) counts as false."""
    return func.coalesce(expr, false())


def _compare(lhs: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    ops = {
        "eq": lhs.__eq__,
        "ne": lhs.__ne__,
        "lt": lhs.__lt__,
        "lte": lhs.__le__,
        "gt": lhs.__gt__,
        "gte": lhs.__ge__,
    }
    return ops[op](value)


def _typed(text: ColumnElement[Any], value: Any) -> tuple[ColumnElement[Any], Any]:
    """The comparable form of a JSON text for a literal: numbers as doubles, booleans as
    ``true``/``false``, ISO dates as timestamps, anything else as text."""
    if isinstance(value, bool):
        return text, "true" if value else "false"
    if isinstance(value, int | float):
        return TryDouble(text), float(value)
    if isinstance(value, str) and _DATE.match(value):
        return TryTimestamp(text), _naive(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return text, value


def value_condition(text: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """A positive comparison of a JSON text; ``ne``/``not_in``/``not_set`` are negated by the
    caller so that a missing value matches them."""
    if op == "is_set":
        return text.is_not(None)
    if op == "in":
        if isinstance(value[0], str):
            return text.in_(value)
        return TryDouble(text).in_([float(v) for v in value])
    if op == "between":
        lhs, low = _typed(text, value[0])
        _, high = _typed(text, value[1])
        return and_(lhs >= low, lhs <= high)
    if op == "contains":
        return func.strpos(func.lower(text), value.lower()) > 0
    lhs, rhs = _typed(text, value)
    return _compare(lhs, op, rhs)


NEGATED = {"ne": "eq", "not_in": "in", "not_set": "is_set"}


class _Compiler:
    def __init__(self, catalog: Catalog, as_of: datetime) -> None:
        self.catalog = catalog
        self.as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        self.now = _naive(self.as_of)
        self.aggregates: list[Any] = []
        self.event_names: set[str] | None = set()
        self.bounds: list[datetime | None] = []
        self.windows: list[Window] = []
        self.full_only: list[str] = []
        #: identical aggregates are computed once (``count ≥ 1`` and ``count ≥ 2`` of the same
        #: filtered events share one ``count(*) FILTER``)
        self._memo: dict[str, str] = {}
        self.sides: dict[str, Side] = {}

    def run(self, node: s.Node) -> Compiled:
        return self.finish(self.node(node, "definition"))

    def finish(self, cond: ColumnElement[bool]) -> Compiled:
        return Compiled(
            condition=cond,
            aggregates=self.aggregates,
            event_names=self.event_names,
            lower_bound=None if not self.bounds or None in self.bounds else min(b for b in self.bounds if b),
            windows=self.windows,
            full_only=self.full_only,
            as_of=self.as_of,
            sides=self.sides,
        )

    def node(self, node: s.Node, path: str) -> ColumnElement[bool]:
        if isinstance(node, s.And):
            return and_(*(self.node(c, f"{path}.conditions[{i}]") for i, c in enumerate(node.conditions)))
        if isinstance(node, s.Or):
            return or_(*(self.node(c, f"{path}.conditions[{i}]") for i, c in enumerate(node.conditions)))
        if isinstance(node, s.Not):
            return not_(self.node(node.condition, f"{path}.condition"))
        method = getattr(self, f"leaf_{node.type}")
        return _definitely(method(node, path))

    # --- profile leaves: filtered aggregates of one scan per profile table ---------------------
    def _side(self, prefix: str, key: str, expr: Any, prefilter: ColumnElement[bool] | None = None) -> Any:
        """The column of an aggregate over a profile table (shared when identical)."""
        side = self.sides.setdefault(prefix, Side(prefilter=[] if prefilter is not None else None))
        if prefilter is None:
            side.prefilter = None  # some leaf needs every row
        elif side.prefilter is not None:
            side.prefilter.append(prefilter)
        memo = f"{prefix}|{key}"
        name = self._memo.get(memo)
        if name is None:
            name = self._memo[memo] = f"{prefix}{len(side.aggregates)}"
            side.aggregates.append(expr.label(name))
        return literal_column(f"{prefix}_s.{name}")

    def _held(
        self, prefix: str, key: str, cond: ColumnElement[bool], prefilter: Any = None
    ) -> ColumnElement[bool]:
        """Whether the contact has at least one row of the table matching ``cond``."""
        col = self._side(prefix, key, func.count().filter(cond), prefilter)
        return func.coalesce(col, 0) > 0

    def leaf_attribute(self, node: s.AttributeCondition, path: str) -> ColumnElement[bool]:
        a = ATTRIBUTES
        text = JsonText(a.c.value)
        op = NEGATED.get(node.op, node.op)
        if op.endswith("_days"):
            self.full_only.append(f"{path}: {node.op} depends on today's date")
            cond = self._date_window(text, op, node.days or 0)
        else:
            cond = value_condition(text, op, node.value)
        named = a.c.name == node.property
        key = repr((node.property, op, node.value, node.days))
        found = self._held("attr", key, and_(named, cond), prefilter=named)
        return not_(found) if node.op in NEGATED else found

    def _date_window(self, text: ColumnElement[Any], op: str, days: int) -> ColumnElement[bool]:
        today = self.now.date()
        if op == "anniversary_within_days":
            days_ahead = [today + timedelta(days=d) for d in range(min(days, 366) + 1)]
            wanted = {d.strftime("%m-%d") for d in days_ahead}
            if any(d.month == 2 and d.day == 28 and not calendar.isleap(d.year) for d in days_ahead):
                wanted.add("02-29")  # leap-day birthdays are celebrated on the 28th in other years
            return MonthDay(text).in_(sorted(wanted))
        ts = TryTimestamp(text)
        start = datetime.combine(today - timedelta(days=days) if op == "within_last_days" else today, time())
        end = datetime.combine((today if op == "within_last_days" else today + timedelta(days=days)), time())
        return and_(ts >= start, ts < end + timedelta(days=1))

    def leaf_tags(self, node: s.TagsCondition, path: str) -> ColumnElement[bool]:
        ids = []
        for key in node.tags:
            if key not in self.catalog.tags:
                raise s.SegmentDefinitionError(f"{path}.tags", f"unknown tag {key!r}")
            ids.append(self.catalog.tags[key])
        t = CONTACT_TAGS
        wanted = t.c.tag_id.in_(sorted({i for i, _ in ids}))
        conds = [wanted]
        if node.min_weight is not None:
            decaying = [(i, hl) for i, hl in ids if hl]
            weight: ColumnElement[Any] = t.c.weight
            if decaying:
                self.full_only.append(f"{path}: decaying weights change with time")
                age_days = AgeSeconds(t.c.weighted_at, self.now) / literal(86_400.0, Double())
                weight = case(
                    *(
                        (t.c.tag_id == i, t.c.weight * func.pow(0.5, age_days / literal(hl, Double())))
                        for i, hl in decaying
                    ),
                    else_=t.c.weight,
                )
            conds.append(weight >= literal(node.min_weight, Double()))
        key = repr((sorted({i for i, _ in ids}), node.min_weight))
        if node.match == "all":
            held = self._side(
                "tag", f"all|{key}", func.count(distinct(t.c.tag_id)).filter(and_(*conds)), wanted
            )
            return func.coalesce(held, 0) == len({i for i, _ in ids})
        found = self._held("tag", key, and_(*conds), wanted)
        return not_(found) if node.match == "none" else found

    def leaf_channel(self, node: s.ChannelCondition, path: str) -> ColumnElement[bool]:
        ids = self._ids(self.catalog.channels, node.channels, f"{path}.channels", "channel")
        return self._held("touch", repr(ids), TOUCHES.c.channel_id.in_(ids))

    def leaf_first_touch(self, node: s.FirstTouchCondition, path: str) -> ColumnElement[bool]:
        conds = []
        if node.channels is not None:
            ids = self._ids(self.catalog.channels, node.channels, f"{path}.channels", "channel")
            conds.append(CONTACTS.c.first_channel_id.in_(ids))
        if node.entry_codes is not None:
            ids = self._ids(self.catalog.entry_codes, node.entry_codes, f"{path}.entry_codes", "entry code")
            conds.append(CONTACTS.c.first_entry_code_id.in_(ids))
        return and_(*conds)

    def leaf_consent(self, node: s.ConsentCondition, path: str) -> ColumnElement[bool]:
        return consent_condition(node.purpose, node.channel, node.state, self._side)

    def leaf_stage(self, node: s.StageCondition, path: str) -> ColumnElement[bool]:
        return self._held("stage", repr(sorted(node.stages)), STAGES.c.stage.in_(node.stages))

    def leaf_rfm(self, node: s.RfmCondition, path: str) -> ColumnElement[bool]:
        f = RFM
        conds = []
        if node.segments:
            conds.append(f.c.segment.in_(node.segments))
        for name in ("r", "f", "m"):
            rng = getattr(node, name)
            if rng:
                conds.append(f.c[name].between(rng[0], rng[1]))
        key = repr((node.segments, node.r, node.f, node.m))
        return self._held("rfm", key, and_(*conds))

    def leaf_churn_risk(self, node: s.ChurnRiskCondition, path: str) -> ColumnElement[bool]:
        risk = _compare(SCORES.c.churn_risk, node.op, literal(node.value, Double()))
        return self._held("score", repr((node.op, node.value)), risk)

    def leaf_segment(self, node: s.SegmentCondition, path: str) -> ColumnElement[bool]:
        if node.segment not in self.catalog.segments:
            raise s.SegmentDefinitionError(f"{path}.segment", f"unknown segment {node.segment!r}")
        m = SEGMENT_MEMBERS
        sid = self.catalog.segments[node.segment]
        found = self._held("member", str(sid), m.c.segment_id == sid, m.c.segment_id == sid)
        return found if node.member else not_(found)

    leaf_group, leaf_community_role = group_leaf, community_role_leaf  # siyu/segments/community.py
    leaf_tier, leaf_points, leaf_points_expiring = tier_leaf, points_leaf, points_expiring_leaf  # loyalty.py
    leaf_coupons = coupons_leaf

    @staticmethod
    def _ids(known: dict[str, int], names: list[str], path: str, what: str) -> list[int]:
        missing = [n for n in names if n not in known]
        if missing:
            raise s.SegmentDefinitionError(path, f"unknown {what} {missing[0]!r}")
        return sorted({known[n] for n in names})

    # --- behaviour ---------------------------------------------------------------------------
    def _aggregate(self, node: s.EventCondition, what: str, expr: Any) -> ColumnElement[Any]:
        key = _aggregate_key(node, what)
        name = self._memo.get(key)
        if name is None:
            name = self._memo[key] = f"b{len(self.aggregates)}"
            self.aggregates.append(expr.label(name))
        return literal_column(f"beh.{name}")

    def leaf_event(self, node: s.EventCondition, path: str) -> ColumnElement[bool]:
        base: list[ColumnElement[bool]] = []
        if node.event == "*":
            self.event_names = None
            base += [EVENTS.c.type.in_(ACTIVITY_TYPES), _not_system(EVENTS.c.event)]
        else:
            if self.event_names is not None:
                self.event_names.add(node.event)
            base.append(EVENTS.c.event == node.event)
        for f in node.where:
            text = JsonText(EVENTS.c.properties, f.property)
            cond = value_condition(text, NEGATED.get(f.op, f.op), f.value)
            base.append(not_(_definitely(cond)) if f.op in NEGATED else cond)
        conds = list(base)
        lower: datetime | None = None
        if node.within is not None:
            w = node.within
            if w.days is not None:
                lower = self.now - timedelta(days=w.days)
                conds += [EVENTS.c.timestamp >= lower, EVENTS.c.timestamp <= self.now]
                self.windows.append(Window(base, w.days))
            else:
                if w.from_ is not None:
                    lower = _when(w.from_)
                    conds.append(EVENTS.c.timestamp >= lower)
                if w.to is not None:
                    conds.append(EVENTS.c.timestamp < _when(w.to))
        self.bounds.append(lower)
        measure = node.measure
        if measure == "count":
            count = node.count or s.Count()
            col = self._aggregate(node, "count", func.count().filter(and_(*conds)))
            return _compare(func.coalesce(col, 0), count.op, count.value)
        if measure in ("sum", "avg"):
            agg: s.Aggregate = getattr(node, measure)
            amount = TryDouble(JsonText(EVENTS.c.properties, agg.property))
            fn = func.sum if measure == "sum" else func.avg
            col = self._aggregate(node, f"{measure}:{agg.property}", fn(amount).filter(and_(*conds)))
            lhs = func.coalesce(col, 0.0) if measure == "sum" else col
            return _compare(lhs, agg.op, agg.value)
        when: s.When = getattr(node, measure)
        fn = func.min if measure == "first" else func.max
        col = self._aggregate(node, measure, fn(EVENTS.c.timestamp).filter(and_(*conds)))
        if when.days_ago is not None:
            at = self.now - timedelta(days=when.days_ago)
            self.windows.append(Window(base, when.days_ago))
        else:
            at = _when(when.date)  # type: ignore[arg-type]
        return col < at if when.op == "before" else col > at


def _aggregate_key(node: s.EventCondition, what: str) -> str:
    """What makes two aggregates the same: the events they read and what they compute."""
    scope = node.model_dump(mode="json", include={"event", "where", "within"}, by_alias=True)
    return f"{what}|{scope}"


def _not_system(event: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(event.is_(None), event.not_in(SYSTEM_EVENTS))
