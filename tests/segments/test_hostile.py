"""Hostile and malformed definitions.

Values that look like SQL, quotes, unicode, NUL bytes, JSON-path-looking property names, huge
and non-finite numbers, the largest lists, trees and depths the limits allow and one past them,
wrong types, unknown names, cycles and non-objects. Each is either evaluated correctly (the
expected contacts are written next to it) or rejected with a ``SegmentDefinitionError`` whose
``path`` names the bad node; afterwards the warehouse and the system of record hold exactly the
rows they held before.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.segments.schemas import SegmentDefinitionError, parse_definition
from siyu.segments.service import SegmentService
from siyu.store.models import Contact, Event, Segment

AS_OF = datetime(2025, 2, 20, 12, tzinfo=UTC)
INJ = "'; DROP TABLE events; --"
INJ2 = "'; DROP TABLE contacts; --"
NOT_JSON_NUMBERS = ["05", "+5", ".5", "5.", " 5", "1e400"]
PEOPLE: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    "h0": (
        {"nickname": INJ, INJ: "yes", "plan": "p0", "city": "上海"},
        [(INJ, {}), ("Buy", {"amount": "NaN"})],
    ),
    "h1": (
        {"nickname": "100%", "plan": "p1", "precise": 0.30000000000000004, "big": 2**63 - 1},
        [("Buy", {"/x": 1, "amount": 5})],
    ),
    "h2": (
        {"nickname": "a_b", "plan": "p2", "precise": 1234567.891011121, "huge": 2**64 - 1},
        [("Buy", {"x": 1, "a.b": 2, "amount": "Infinity"})],
    ),
    "h3": (
        {"nickname": 'O\'Brien "Bob"', "stamp": "2025-02-01T10:00:00+08:00", "plan": "p3"},
        [("Buy", {INJ2: "x", "amount": "1_000"})],
    ),
    "h4": (
        {"nickname": "Zoë 👍", "stamp": "2025-02-01T01:00:00+08:00", "plan": "p4"},
        [("Buy", {"a": {"b": 3}, "amount": 7})],
    ),
    "h5": ({}, [("Buy", {"amount": "-inf"})]),
    # Texts that engines' casts take for numbers but JSON does not (docs/segments.md).
    **{f"j{i}": ({}, [("Buy", {"amount": junk})]) for i, junk in enumerate(NOT_JSON_NUMBERS)},
}


def A(name: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    return {"type": "attribute", "name": name, "op": op, **({} if value is None else {"value": value}), **kw}


def E(event: str = "Buy", **kw: Any) -> dict[str, Any]:
    return {"type": "event", "event": event, **kw}


def W(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "op": op, **({} if value is None else {"value": value})}


def sor_counts(env: Any) -> dict[str, int]:
    with env.ctx.db.session() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Event, Contact, Segment)
        }


@pytest.fixture(scope="module")
def h(module_env: Any) -> Any:
    env = module_env
    calls = []
    for uid, (traits, events) in PEOPLE.items():
        calls.append(env.call("identify", uid, AS_OF.replace(month=1), traits=traits))
        calls += [
            env.call("track", uid, AS_OF.replace(day=1), event=name, properties=props)
            for name, props in events
        ]
    env.batch(calls)
    ids = env.contact_ids()
    return SimpleNamespace(env=env, ids=ids, counts=env.counts(), sor=sor_counts(env))


@pytest.fixture
def hostile(h: Any) -> Any:
    """The shared data set; after the test, nothing in either store has changed."""
    yield h
    assert h.env.counts() == h.counts
    assert sor_counts(h.env) == h.sor


def members(h: Any, definition: Any) -> set[str]:
    by_id = {cid: uid for uid, cid in h.ids.items()}
    return {by_id[c] for c in h.env.preview_ids(definition, as_of=AS_OF)}


def rejected(h: Any, definition: Any) -> SegmentDefinitionError:
    with pytest.raises(SegmentDefinitionError) as info:
        h.env.preview_ids(definition, as_of=AS_OF)
    return info.value


EVERYONE = set(PEOPLE)
VALUES = {
    "injection-value": (A("nickname", "eq", INJ), {"h0"}),
    "injection-attribute-name": (A(INJ, "eq", "yes"), {"h0"}),
    "injection-event-name": (E(INJ), {"h0"}),
    "injection-property-name": (E(where=[W(INJ2, "eq", "x")]), {"h3"}),
    "injection-in-list": (A("plan", "in", [INJ, "p1"]), {"h1"}),
    "injection-ne": (A("nickname", "ne", INJ), EVERYONE - {"h0"}),
    "like-percent": (A("nickname", "contains", "%"), {"h1"}),
    "like-underscore": (A("nickname", "contains", "_"), {"h2"}),
    "quotes": (A("nickname", "eq", 'O\'Brien "Bob"'), {"h3"}),
    "emoji": (A("nickname", "contains", "👍"), {"h4"}),
    "unicode-case": (A("nickname", "contains", "ZOË"), {"h4"}),
    "cjk": (A("city", "eq", "上海"), {"h0"}),
    "nul-value": (A("nickname", "eq", "a\x00b"), set()),
    "nul-contains": (A("nickname", "contains", "\x00"), set()),
    "nul-event": (E("a\x00b"), set()),
    "dotted-property-is-a-key": (E(where=[W("a.b", "eq", 2)]), {"h2"}),
    "object-property-text": (E(where=[W("a", "contains", '"b"')]), {"h4"}),
    "huge-threshold": (A("big", "lt", 1e308), {"h1"}),
    "int64-max": (A("big", "eq", 2**63 - 1), {"h1"}),
    "float-17-digits": (A("precise", "eq", 0.30000000000000004), {"h1"}),
    "float-16-digits": (A("precise", "eq", 1234567.891011121), {"h2"}),
    "uint64-max": (A("huge", "eq", 2**64 - 1), {"h2"}),
    "offset-date-equals-itself": (A("stamp", "eq", "2025-02-01T10:00:00+08:00"), {"h3"}),
    "offset-date-compares-in-utc": (A("stamp", "lt", "2025-01-31T18:00:00Z"), {"h4"}),
    "ten-thousand-strings": (A("plan", "in", [f"v{i}" for i in range(9_999)] + ["p2"]), {"h2"}),
    "ten-thousand-numbers": (A("big", "in", [*range(9_999), 2**63 - 1]), {"h1"}),
    "ten-thousand-not-in": (A("plan", "not_in", [f"v{i}" for i in range(9_999)] + ["p2"]), EVERYONE - {"h2"}),
    "ten-thousand-where": (
        E(where=[W("amount", "in", [float(i) for i in range(10_001) if i != 1000])]),
        {"h1", "h4"},
    ),
}


@pytest.mark.parametrize(("definition", "expected"), list(VALUES.values()), ids=list(VALUES))
def test_hostile_values_are_just_values(hostile: Any, definition: dict[str, Any], expected: set[str]) -> None:
    assert members(hostile, definition) == expected


@pytest.mark.parametrize(
    ("junk", "uid"),
    [
        ("NaN", "h0"),
        ("Infinity", "h2"),
        ("1_000", "h3"),
        ("-inf", "h5"),
        *((junk, f"j{i}") for i, junk in enumerate(NOT_JSON_NUMBERS)),
    ],
)
def test_amounts_that_are_not_json_numbers_are_skipped(hostile: Any, junk: str, uid: str) -> None:
    """Only these texts are in the contact's amounts: its sum is 0 and it has no average."""
    assert PEOPLE[uid][1][-1][1]["amount"] == junk
    assert uid not in members(hostile, E(sum={"property": "amount", "op": "ne", "value": 0}))
    assert uid not in members(hostile, E(avg={"property": "amount", "op": "lt", "value": 1e300}))
    assert uid not in members(hostile, E(where=[W("amount", "gte", -1e300)]))


NON_FINITE = {
    "sum-nan": (E(sum={"property": "amount", "op": "lte", "value": math.nan}), "definition.sum.value"),
    "avg-inf": (E(avg={"property": "amount", "op": "gt", "value": math.inf}), "definition.avg.value"),
    "attribute-nan": (A("big", "eq", math.nan), "definition"),
    "attribute-inf": (A("big", "lt", math.inf), "definition"),
    "between-inf": (A("big", "between", [-math.inf, math.inf]), "definition"),
    "where-nan": (E(where=[W("amount", "ne", math.nan)]), "definition.where[0]"),
    "min-weight-nan": ({"type": "tags", "tags": ["vip"], "min_weight": math.nan}, "definition.min_weight"),
}


@pytest.mark.parametrize(("definition", "path"), list(NON_FINITE.values()), ids=list(NON_FINITE))
def test_non_finite_numbers_are_rejected(hostile: Any, definition: dict[str, Any], path: str) -> None:
    """Definitions are stored as JSON, which has no NaN or infinity (orjson writes null)."""
    with pytest.raises(SegmentDefinitionError) as info:
        parse_definition(definition)
    assert info.value.path.startswith(path)


def test_numbers_too_large_for_a_double_are_rejected_or_match_nobody(hostile: Any) -> None:
    try:
        found = members(hostile, A("big", "gt", 10**400))
    except SegmentDefinitionError as exc:
        assert exc.path.startswith("definition")
    else:
        assert found == set()


def test_counts_too_large_for_storage_are_rejected_or_stored(hostile: Any) -> None:
    definition = E(count={"op": "lte", "value": 10**30})
    with hostile.env.ctx.db.sessionmaker() as session:
        svc = SegmentService(session, hostile.env.wh)
        try:
            result = svc.create({"key": "big-count", "name": "x", "definition": definition})
        except SegmentDefinitionError as exc:
            assert exc.path == "definition.count.value"
        else:
            assert result.members == len(PEOPLE)
            assert svc.recompute("big-count", full=True).members == len(PEOPLE)
        session.rollback()


# --- sizes ----------------------------------------------------------------------------------------
def chain(depth: int) -> dict[str, Any]:
    """``not`` nodes around a leaf: ``depth`` levels in all."""
    node: dict[str, Any] = A("plan", "eq", "p1")
    for _ in range(depth - 1):
        node = {"type": "not", "condition": node}
    return node


@pytest.mark.parametrize("depth", [30, 31, 32])
def test_deep_trees_within_the_limit_work(hostile: Any, depth: int) -> None:
    assert members(hostile, chain(depth)) == ({"h1"} if depth % 2 else EVERYONE - {"h1"})


def test_one_level_too_deep_is_rejected_at_the_deep_node(hostile: Any) -> None:
    exc = rejected(hostile, chain(33))
    assert exc.path == "definition" + ".condition" * 32
    assert "32" in exc.message and "deeper" in exc.message
    mixed: dict[str, Any] = A("plan", "eq", "p1")
    for i in range(32):
        mixed = {"type": "and" if i % 2 else "or", "conditions": [A("plan", "eq", "p2"), mixed]}
    assert rejected(hostile, mixed).path == "definition" + ".conditions[1]" * 32


def wide(leaves: int, leaf: Any) -> dict[str, Any]:
    groups = [list(range(i, min(i + 498, leaves))) for i in range(0, leaves, 498)]
    return {"type": "or", "conditions": [{"type": "or", "conditions": [leaf(j) for j in g]} for g in groups]}


def test_five_thousand_nodes_are_rejected(hostile: Any) -> None:
    exc = rejected(hostile, wide(4_990, lambda j: E(f"e{j}")))
    assert (exc.path, exc.message) == ("definition", "more than 2000 nodes")
    assert rejected(hostile, wide(1_995, lambda j: E(f"e{j}"))).message == "more than 2000 nodes"  # 2,001


def test_the_most_nodes_allowed_evaluate(hostile: Any) -> None:
    """1,992 leaves in 4 groups: 1,997 nodes."""
    definition = wide(1_992, lambda j: E(count={"op": "gte", "value": j + 1}))
    assert members(hostile, definition) == EVERYONE
    definition = wide(1_992, lambda j: A("plan", "eq", f"p{j}"))
    assert members(hostile, definition) == {"h0", "h1", "h2", "h3", "h4"}


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        (A("plan", "in", [f"v{i}" for i in range(10_001)]), "definition"),
        (
            {
                "type": "and",
                "conditions": [
                    A("plan", "is_set"),
                    {"type": "not", "condition": A("big", "not_in", list(range(10_001)))},
                ],
            },
            "definition.conditions[1].condition",
        ),
        (E(where=[W("amount", "in", list(range(10_001)))]), "definition.where[0]"),
        ({"type": "tags", "tags": [f"t{i}" for i in range(10_001)]}, "definition.tags"),
        ({"type": "first_touch", "entry_codes": [f"c{i}" for i in range(10_001)]}, "definition.entry_codes"),
    ],
    ids=["in", "nested-not-in", "where-in", "tags", "entry-codes"],
)
def test_ten_thousand_and_one_values_are_rejected(
    hostile: Any, definition: dict[str, Any], path: str
) -> None:
    exc = rejected(hostile, definition)
    assert exc.path == path
    assert "10000" in exc.message or "10,000" in exc.message


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"type": "tags", "tags": [f"t{i}" for i in range(10_000)]}, "definition.tags"),
        ({"type": "first_touch", "entry_codes": [f"c{i}" for i in range(10_000)]}, "definition.entry_codes"),
    ],
    ids=["tags", "entry-codes"],
)
def test_ten_thousand_unknown_names_are_reported(hostile: Any, definition: dict[str, Any], path: str) -> None:
    exc = rejected(hostile, definition)
    assert exc.path == path and "unknown" in exc.message


# --- malformed definitions --------------------------------------------------------------------------
WRONG = {
    "conditions-not-a-list": ({"type": "and", "conditions": "x"}, "definition.conditions"),
    "empty-conditions": ({"type": "or", "conditions": []}, "definition.conditions"),
    "unknown-type": ({"type": "bogus"}, "definition"),
    "no-type": ({"conditions": []}, "definition"),
    "type-not-a-string": ({"type": 5}, "definition"),
    "count-not-a-number": (E(count={"op": "gte", "value": "many"}), "definition.count.value"),
    "count-negative": (E(count={"op": "gte", "value": -1}), "definition.count.value"),
    "count-bad-op": (E(count={"op": "like", "value": 1}), "definition.count.op"),
    "two-measures": (E(count={"value": 1}, sum={"property": "amount", "op": "gt", "value": 1}), "definition"),
    "tags-not-a-list": ({"type": "tags", "tags": "vip"}, "definition.tags"),
    "min-weight-text": ({"type": "tags", "tags": ["vip"], "min_weight": "heavy"}, "definition.min_weight"),
    "value-object": (A("plan", "eq", {"a": 1}), "definition"),
    "value-missing": (A("plan", "eq"), "definition"),
    "in-mixed": (A("plan", "in", ["a", 1]), "definition"),
    "in-empty": (A("plan", "in", []), "definition"),
    "in-bools": (A("plan", "in", [True, False]), "definition"),
    "between-one": (A("big", "between", [1]), "definition"),
    "between-number-and-text": (A("big", "between", [1, "zzz"]), "definition"),
    "between-date-and-text": (A("stamp", "between", ["2024-01-01", "zzz"]), "definition"),
    "contains-empty": (A("plan", "contains", ""), "definition"),
    "set-with-value": (A("plan", "is_set", 1), "definition"),
    "days-op-without-days": (A("stamp", "within_last_days"), "definition"),
    "days-on-value-op": (A("stamp", "eq", "x", days=3), "definition"),
    "days-too-many": (A("stamp", "within_next_days", days=3661), "definition.days"),
    "name-empty": (A("", "is_set"), "definition.name"),
    "name-dollar-path": (A("$.plan", "is_set"), "definition.name"),
    "property-dollar-path": (E(where=[W("$.amount", "is_set")]), "definition.where[0].property"),
    "property-control-char": (E(where=[W("a\nb", "is_set")]), "definition.where[0].property"),
    # the warehouse would read a leading "/" as a JSON pointer: rejected rather than misread
    "property-slash-pointer": (E(where=[W("/x", "is_set")]), "definition.where[0].property"),
    "aggregate-dollar-path": (E(sum={"property": "$", "op": "gt", "value": 1}), "definition.sum.property"),
    "event-empty": (E(""), "definition.event"),
    "event-too-long": (E("x" * 201), "definition.event"),
    "window-zero-days": (E(within={"days": 0}), "definition.within.days"),
    "window-both": (E(within={"days": 5, "from": "2024-01-01"}), "definition.within"),
    "window-empty": (E(within={}), "definition.within"),
    "window-bad-date": (E(within={"from": "not a date"}), "definition.within.from"),
    "when-neither": (E(first={"op": "before"}), "definition.first"),
    "when-both": (E(last={"op": "after", "days_ago": 1, "date": "2024-01-01"}), "definition.last"),
    "stage-unknown": ({"type": "stage", "stages": ["sleeping"]}, "definition.stages[0]"),
    "rfm-out-of-range": ({"type": "rfm", "r": [0, 9]}, "definition"),
    "rfm-nothing": ({"type": "rfm"}, "definition"),
    "consent-purpose": ({"type": "consent", "purpose": "spam"}, "definition.purpose"),
    "first-touch-nothing": ({"type": "first_touch"}, "definition"),
    "extra-field": ({**A("plan", "is_set"), "extra": 1}, "definition.extra"),
    "nested": (
        {
            "type": "and",
            "conditions": [A("plan", "is_set"), {"type": "not", "condition": E(count={"value": "x"})}],
        },
        "definition.conditions[1].condition.count.value",
    ),
}


@pytest.mark.parametrize(("definition", "path"), list(WRONG.values()), ids=list(WRONG))
def test_malformed_definitions_name_the_bad_node(hostile: Any, definition: dict[str, Any], path: str) -> None:
    assert rejected(hostile, definition).path == path
    with hostile.env.service() as svc, pytest.raises(SegmentDefinitionError):
        svc.sql(definition, as_of=AS_OF)


UNKNOWN = {
    "tag": ({"type": "tags", "tags": ["vip"]}, "tags"),
    "tag-injection": ({"type": "tags", "tags": [INJ]}, "tags"),
    "tag-nul": ({"type": "tags", "tags": ["a\x00b"]}, "tags"),
    "channel": ({"type": "channel", "channels": ["wecom"]}, "channels"),
    "channel-nul": ({"type": "channel", "channels": ["a\x00b"]}, "channels"),
    "first-touch-channel": ({"type": "first_touch", "channels": [INJ]}, "channels"),
    "entry-code": ({"type": "first_touch", "entry_codes": ["nope"]}, "entry_codes"),
    "segment": ({"type": "segment", "segment": "nope"}, "segment"),
    "segment-nul": ({"type": "segment", "segment": "a\x00b"}, "segment"),
}


@pytest.mark.parametrize(("leaf", "field"), list(UNKNOWN.values()), ids=list(UNKNOWN))
def test_unknown_names_point_at_their_node(hostile: Any, leaf: dict[str, Any], field: str) -> None:
    definition = {"type": "or", "conditions": [A("plan", "is_set"), {"type": "not", "condition": leaf}]}
    exc = rejected(hostile, definition)
    assert exc.path == f"definition.conditions[1].condition.{field}"
    # names with control characters are refused before any lookup; others are looked up
    assert "unknown" in exc.message or "control characters" in exc.message
    with hostile.env.ctx.db.sessionmaker() as session:
        svc = SegmentService(session, hostile.env.wh)
        with pytest.raises(SegmentDefinitionError) as info:
            svc.create({"key": "unknown", "name": "x", "definition": definition})
        assert info.value.path == exc.path
        assert svc.repo.get("unknown") is None
        session.rollback()


def test_a_segment_cannot_contain_itself(hostile: Any) -> None:
    with hostile.env.ctx.db.sessionmaker() as session:
        svc = SegmentService(session, hostile.env.wh)
        svc.create({"key": "a", "name": "a", "definition": A("plan", "is_set")})
        svc.create({"key": "b", "name": "b", "definition": {"type": "segment", "segment": "a"}})
        for definition in (
            {"type": "segment", "segment": "c"},
            {
                "type": "and",
                "conditions": [
                    {"type": "segment", "segment": "b"},
                    {"type": "not", "condition": {"type": "segment", "segment": "c"}},
                ],
            },
        ):
            with pytest.raises(SegmentDefinitionError) as info:
                svc.create({"key": "c", "name": "c", "definition": definition})
            assert "itself" in info.value.message
            assert svc.repo.get("c") is None
        session.rollback()


@pytest.mark.parametrize("raw", ["x", ["x"], None, 42, 1.5, True, b"{}"], ids=repr)
def test_non_objects_are_rejected(hostile: Any, raw: Any) -> None:
    assert rejected(hostile, raw).path == "definition"
    with pytest.raises(SegmentDefinitionError):
        parse_definition(raw)
    with hostile.env.ctx.db.sessionmaker() as session:
        svc = SegmentService(session, hostile.env.wh)
        with pytest.raises(SegmentDefinitionError) as info:
            svc.sql(raw)
        assert info.value.path == "definition"
        with pytest.raises(SegmentDefinitionError) as info:
            svc.create(raw)
        assert info.value.path == "segment"
        with pytest.raises(SegmentDefinitionError) as info:
            svc.create({"key": "k", "name": "k", "definition": raw})
        assert info.value.path == "definition"
        session.rollback()
