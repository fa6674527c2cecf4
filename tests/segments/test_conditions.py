"""Every condition kind and operator against an independent Python model.

The ``world`` fixture (conftest.py, world_model.py) ingests ~60 contacts with seeded traits of
several JSON types, events around a fixed ``as_of`` (including junk amounts and events exactly
on window edges), tags with a decaying one, touches on three channels, consent ledgers with
channel overrides and ties, stages, RFM scores and a static segment. For each definition the
members the model expects are compared with ``preview`` (count and every id), and a few
definitions go through ``create`` to compare the stored membership.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.segments.service import SegmentService


def A(name: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    return {"type": "attribute", "name": name, "op": op, **({} if value is None else {"value": value}), **kw}


def E(event: str = "Order Completed", **kw: Any) -> dict[str, Any]:
    return {"type": "event", "event": event, **kw}


def T(tags: list[str], match: str = "any", **kw: Any) -> dict[str, Any]:
    return {"type": "tags", "tags": tags, "match": match, **kw}


def C(purpose: str, channel: str, state: str) -> dict[str, Any]:
    return {"type": "consent", "purpose": purpose, "channel": channel, "state": state}


def W(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "op": op, **({} if value is None else {"value": value})}


FROM_TO = {"from": "2025-01-01", "to": "2025-02-01T00:00:00+08:00"}
AMOUNT = "amount"

ATTRIBUTE_CASES = {
    "eq-str": A("plan", "eq", "gold"),
    "eq-case-sensitive": A("plan", "eq", "Gold"),
    "ne-str-includes-missing": A("plan", "ne", "gold"),
    "eq-num-matches-numeric-string": A("age", "eq", 42),
    "ne-num": A("age", "ne", 42),
    "lt-num": A("age", "lt", 30),
    "lte-num": A("age", "lte", 30),
    "gt-num": A("age", "gt", 40),
    "gte-num": A("age", "gte", 40),
    "gt-float": A("score", "gt", 50.5),
    "lte-float": A("score", "lte", 25.25),
    "between-num": A("age", "between", [30, 50]),
    "between-float": A("score", "between", [10, 60.5]),
    "in-num": A("age", "in", [25, 30, 35, 40, 42]),
    "in-num-written-as-float": A("age", "in", [42.0, 30.0]),
    "not-in-num": A("age", "not_in", [30, 42]),
    "in-str": A("age", "in", ["n/a", "42"]),
    "contains-number-text": A("age", "contains", "4"),
    "eq-true": A("vip", "eq", True),
    "eq-false": A("vip", "eq", False),
    "ne-true": A("vip", "ne", True),
    "is-set": A("vip", "is_set"),
    "not-set": A("vip", "not_set"),
    "contains-case-insensitive": A("city", "contains", "SHANG"),
    "contains-unicode": A("city", "contains", "上"),
    "in-unicode": A("city", "in", ["上海", "北京"]),
    "not-in-str": A("city", "not_in", ["Shanghai", "Beijing"]),
    "gt-str": A("city", "gt", "S"),
    "eq-quote": A("nickname", "eq", "O'Brien"),
    "eq-injection-text": A("nickname", "eq", "'; DROP TABLE events; --"),
    "contains-double-quote": A("nickname", "contains", '"'),
    "eq-accent": A("nickname", "eq", "Zoë"),
    "contains-accent-case": A("nickname", "contains", "ZOË"),
    "lt-date": A("signup", "lt", "2025-02-01"),
    "gte-datetime": A("signup", "gte", "2025-02-20T00:00:00Z"),
    "between-dates": A("signup", "between", ["2025-01-15", "2025-03-01"]),
    "eq-date-str-vs-junk": A("signup", "eq", "soon"),
    "within-last-30": A("signup", "within_last_days", days=30),
    "within-last-0": A("signup", "within_last_days", days=0),
    "within-next-10": A("signup", "within_next_days", days=10),
    "signup-not-set": A("signup", "not_set"),
    "anniversary-0": A("birthday", "anniversary_within_days", days=0),
    "anniversary-7": A("birthday", "anniversary_within_days", days=7),
    "anniversary-10-feb29": A("birthday", "anniversary_within_days", days=10),
    "anniversary-365": A("birthday", "anniversary_within_days", days=365),
    "birthday-lt": A("birthday", "lt", "1985-01-01"),
    "list-contains": A("interests", "contains", "tea"),
    "list-is-set": A("interests", "is_set"),
    "unknown-eq": A("nope", "eq", 1),
    "unknown-ne": A("nope", "ne", 1),
    "unknown-not-set": A("nope", "not_set"),
}
TAG_CASES = {
    "any": T(["vip"]),
    "any-of-two": T(["interest/tea", "interest/coffee"]),
    "all": T(["interest/tea", "interest/coffee"], "all"),
    "all-duplicate-keys": T(["vip", "vip"], "all"),
    "none": T(["vip"], "none"),
    "any-min": T(["vip"], min_weight=1.0),
    "all-min": T(["vip", "interest/tea"], "all", min_weight=0.5),
    "none-min": T(["interest/coffee"], "none", min_weight=1.0),
    "decay-any": T(["engaged"], min_weight=0.5),
    "decay-high": T(["engaged"], min_weight=2.0),
    "decay-all-mixed": T(["engaged", "vip"], "all", min_weight=0.4),
    "decay-none": T(["engaged"], "none", min_weight=1.0),
}
EVENT_CASES = {
    "default-once": E(),
    "count-gte-3": E(count={"op": "gte", "value": 3}),
    "count-lte-1": E(count={"op": "lte", "value": 1}),
    "count-eq-0": E(count={"op": "eq", "value": 0}),
    "count-eq-2": E(count={"op": "eq", "value": 2}),
    "count-gte-0": E(count={"op": "gte", "value": 0}),
    "count-lt-2": E(count={"op": "lt", "value": 2}),
    "count-ne-1": E(count={"op": "ne", "value": 1}),
    "within-30": E(count={"op": "gte", "value": 1}, within={"days": 30}),
    "within-30-gte2": E(count={"op": "gte", "value": 2}, within={"days": 30}),
    "within-7-eq0": E(count={"op": "eq", "value": 0}, within={"days": 7}),
    "from-to": E(within=FROM_TO),
    "from-only": E(within={"from": "2025-01-01"}),
    "to-only": E(within={"to": "2025-02-01T00:00:00+08:00"}),
    "sum-gte": E(sum={"property": AMOUNT, "op": "gte", "value": 100}),
    "sum-lt": E(sum={"property": AMOUNT, "op": "lt", "value": 50}),
    "sum-eq-0": E(sum={"property": AMOUNT, "op": "eq", "value": 0}),
    "sum-within": E(sum={"property": AMOUNT, "op": "gte", "value": 50}, within={"days": 30}),
    "sum-where": E(where=[W("currency", "eq", "CNY")], sum={"property": AMOUNT, "op": "gt", "value": 60}),
    "avg-gt": E(avg={"property": AMOUNT, "op": "gt", "value": 60}),
    "avg-lte": E(avg={"property": AMOUNT, "op": "lte", "value": 40}),
    "avg-ne": E(avg={"property": AMOUNT, "op": "ne", "value": 10}),
    "first-before-date": E(first={"op": "before", "date": "2024-12-01"}),
    "first-after-days": E(first={"op": "after", "days_ago": 30}),
    "first-after-date": E(first={"op": "after", "date": "2025-01-15"}),
    "last-after-days": E(last={"op": "after", "days_ago": 10}),
    "last-before-days": E(last={"op": "before", "days_ago": 60}),
    "last-after-date-tz": E(last={"op": "after", "date": "2025-02-10T00:00:00+08:00"}),
    "last-before-date-window": E(last={"op": "before", "date": "2025-01-20"}, within=FROM_TO),
    "where-ne": E(where=[W("currency", "ne", "USD")]),
    "where-not-set": E(where=[W("currency", "not_set")], count={"op": "gte", "value": 2}),
    "where-in": E(where=[W("currency", "in", ["CNY", "USD"])]),
    "where-gt-junk-skipped": E(where=[W(AMOUNT, "gt", 50)]),
    "where-not-in": E(where=[W("sku", "not_in", ["A1"])]),
    "where-is-set": E(where=[W(AMOUNT, "is_set")], count={"op": "gte", "value": 2}),
    "where-between": E(where=[W(AMOUNT, "between", [10, 100])]),
    "where-contains": E(where=[W(AMOUNT, "contains", "K")]),
    "where-eq-bool": E(where=[W(AMOUNT, "eq", True)]),
    "where-two": E(where=[W("currency", "eq", "CNY"), W(AMOUNT, "lte", 100)], within={"days": 60}),
    "page-name": E("Product", count={"op": "gte", "value": 2}),
    "screen-name": E("Cart"),
    "system-by-name": E("tag.added"),
    "unknown-event-none": E("No Such Event"),
    "unknown-event-eq0": E("No Such Event", count={"op": "eq", "value": 0}),
    "any-within-30": E("*", count={"op": "gte", "value": 3}, within={"days": 30}),
    "any-within-7-eq0": E("*", count={"op": "eq", "value": 0}, within={"days": 7}),
    "any-last-after": E("*", last={"op": "after", "days_ago": 3}),
    "any-first-before": E("*", first={"op": "before", "date": "2024-11-01"}),
    "any-where": E("*", where=[W("path", "eq", "/p/1")]),
}
OTHER_CASES = {
    "channel-one": {"type": "channel", "channels": ["wecom"]},
    "channel-two": {"type": "channel", "channels": ["shop", "ads"]},
    "first-channel": {"type": "first_touch", "channels": ["ads"]},
    "first-code": {"type": "first_touch", "entry_codes": ["wc-a"]},
    "first-both": {"type": "first_touch", "channels": ["wecom"], "entry_codes": ["wc-b", "shop-1"]},
    "consent-star-granted": C("marketing", "*", "granted"),
    "consent-star-withdrawn": C("marketing", "*", "withdrawn"),
    "consent-star-unknown": C("marketing", "*", "unknown"),
    "consent-star-not-granted": C("marketing", "*", "not_granted"),
    "consent-sms-granted": C("marketing", "sms", "granted"),
    "consent-sms-withdrawn": C("marketing", "sms", "withdrawn"),
    "consent-wecom-unknown": C("marketing", "wecom", "unknown"),
    "consent-wecom-not-granted": C("marketing", "wecom", "not_granted"),
    "consent-service-sms": C("service", "sms", "granted"),
    "consent-analytics-unknown": C("analytics", "*", "unknown"),
    "stage-one": {"type": "stage", "stages": ["acquisition"]},
    "stage-two": {"type": "stage", "stages": ["dormant", "churned"]},
    "rfm-segment": {"type": "rfm", "segments": ["champions"]},
    "rfm-r": {"type": "rfm", "r": [4, 5]},
    "rfm-f-m": {"type": "rfm", "f": [1, 2], "m": [3, 5]},
    "rfm-segments-r": {"type": "rfm", "segments": ["at_risk", "hibernating"], "r": [1, 2]},
    "segment-member": {"type": "segment", "segment": "other"},
    "segment-not-member": {"type": "segment", "segment": "other", "member": False},
}
NESTED_CASES = {
    "not-not": {"type": "not", "condition": {"type": "not", "condition": T(["vip"])}},
    "not-event": {"type": "not", "condition": E(within={"days": 30})},
    "not-ne": {"type": "not", "condition": A("plan", "ne", "gold")},
    "and-or": {
        "type": "and",
        "conditions": [
            {"type": "or", "conditions": [A("plan", "eq", "gold"), T(["vip"])]},
            C("marketing", "sms", "not_granted"),
            E("*", within={"days": 60}),
        ],
    },
    "or-of-ands": {
        "type": "or",
        "conditions": [
            {
                "type": "and",
                "conditions": [
                    E(sum={"property": AMOUNT, "op": "gte", "value": 50}),
                    {"type": "rfm", "r": [3, 5]},
                ],
            },
            {
                "type": "and",
                "conditions": [
                    {"type": "channel", "channels": ["wecom"]},
                    {"type": "not", "condition": T(["engaged"])},
                ],
            },
        ],
    },
    "not-or": {"type": "not", "condition": {"type": "or", "conditions": [A("vip", "eq", True), E("Cart")]}},
    "two-event-leaves": {
        "type": "and",
        "conditions": [
            E(count={"op": "gte", "value": 1}),
            E("Product", last={"op": "after", "days_ago": 45}),
        ],
    },
}
CASES = {
    **{f"attribute/{k}": v for k, v in ATTRIBUTE_CASES.items()},
    **{f"tags/{k}": v for k, v in TAG_CASES.items()},
    **{f"event/{k}": v for k, v in EVENT_CASES.items()},
    **{f"profile/{k}": v for k, v in OTHER_CASES.items()},
    **{f"nested/{k}": v for k, v in NESTED_CASES.items()},
}
#: Cases that select nobody or everyone by design.
TRIVIAL = {
    "attribute/unknown-eq",
    "attribute/unknown-ne",
    "attribute/unknown-not-set",
    "event/count-gte-0",
    "event/unknown-event-none",
    "event/unknown-event-eq0",
    "profile/consent-analytics-unknown",
}


@pytest.mark.parametrize("definition", list(CASES.values()), ids=list(CASES))
def test_condition_selects_what_the_model_selects(world: Any, definition: dict[str, Any]) -> None:
    assert world.env.preview_ids(definition) == world.expect(definition)


def test_the_cases_discriminate(world: Any) -> None:
    """A case that selects nobody or everyone cannot catch much; only the TRIVIAL ones may."""
    everyone = len(world.everyone)
    trivial = {k for k, d in CASES.items() if len(world.expect(d)) in (0, everyone)}
    assert trivial == TRIVIAL
    assert everyone == len(world.env.live_contacts()) == 64


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2025, 2, 27, 9, tzinfo=UTC),  # 02-28 in the window of a year without 02-29
        datetime(2025, 2, 28, 23, tzinfo=UTC),
        datetime(2024, 2, 27, 9, tzinfo=UTC),  # a leap year: 02-29 is its own day
        datetime(2024, 2, 28, 9, tzinfo=UTC),
        datetime(2024, 2, 29, 9, tzinfo=UTC),
        datetime(2025, 12, 28, 9, tzinfo=UTC),  # the window crosses new year
    ],
    ids=lambda d: d.date().isoformat(),
)
@pytest.mark.parametrize("days", [0, 1, 3])
def test_anniversaries_around_february_29(world: Any, as_of: datetime, days: int) -> None:
    definition = A("birthday", "anniversary_within_days", days=days)
    assert world.env.preview_ids(definition, as_of=as_of) == world.expect(definition, as_of=as_of)


@pytest.mark.parametrize(
    "as_of", [datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 3, 20, 23, 59, tzinfo=UTC)]
)
@pytest.mark.parametrize(
    "key", ["event/within-30", "event/any-last-after", "tags/decay-any", "attribute/within-next-10"]
)
def test_relative_conditions_follow_as_of(world: Any, as_of: datetime, key: str) -> None:
    assert world.env.preview_ids(CASES[key], as_of=as_of) == world.expect(CASES[key], as_of=as_of)


@pytest.mark.parametrize(
    "key",
    [
        "attribute/ne-str-includes-missing",
        "event/sum-where",
        "nested/or-of-ands",
        "profile/consent-sms-granted",
    ],
)
def test_created_segment_holds_the_same_members(world: Any, key: str) -> None:
    """``create`` computes at the current time, so these definitions do not depend on it."""
    expected = world.expect(CASES[key])
    env = world.env
    with env.ctx.db.sessionmaker() as session:  # rolled back: the shared data set stays as it is
        svc = SegmentService(session, env.wh)
        result = svc.create({"key": "probe", "name": "Probe", "definition": CASES[key]})
        assert (result.mode, result.members, result.entered, result.exited) == (
            "full",
            len(expected),
            expected,
            [],
        )
        assert svc.members("probe", limit=1000) == expected
        session.rollback()


# --- property test: random trees over the leaves -----------------------------------------------
LEAVES = [
    CASES[k]
    for k in (
        "attribute/eq-str",
        "attribute/ne-num",
        "attribute/not-set",
        "attribute/contains-case-insensitive",
        "attribute/within-last-30",
        "attribute/anniversary-10-feb29",
        "tags/any",
        "tags/none-min",
        "tags/decay-any",
        "event/count-eq-0",
        "event/within-30-gte2",
        "event/sum-gte",
        "event/avg-lte",
        "event/first-before-date",
        "event/last-before-days",
        "event/where-not-set",
        "event/any-within-7-eq0",
        "profile/channel-two",
        "profile/first-code",
        "profile/consent-sms-withdrawn",
        "profile/consent-wecom-not-granted",
        "profile/stage-two",
        "profile/rfm-f-m",
        "profile/segment-not-member",
    )
]
trees = st.recursive(
    st.sampled_from(LEAVES),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda cs: {"type": "and", "conditions": cs}),
        st.lists(children, min_size=1, max_size=4).map(lambda cs: {"type": "or", "conditions": cs}),
        children.map(lambda c: {"type": "not", "condition": c}),
    ),
    max_leaves=14,
)


@settings(
    max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(definition=trees)
def test_random_trees_select_what_the_model_selects(world: Any, definition: dict[str, Any]) -> None:
    assert world.env.preview_ids(definition) == world.expect(definition)


@pytest.mark.parametrize(("margin", "member"), [(-1e-7, True), (1e-7, False)])
def test_decay_is_computed_in_double_precision(env: Any, margin: float, member: bool) -> None:
    """``weight * 0.5 ** (age_days / half_life_days)`` with a half-life of 0.1 days, 3 days old:
    the threshold sits 1e-7 (relative) beside the weight; a half-life rounded to single
    precision moves the weight by about 3e-7."""
    as_of = datetime(2025, 2, 20, 12, tzinfo=UTC)
    env.batch([env.call("identify", "c1", as_of, traits={})])
    cid = env.contact_ids()["c1"]
    env.add_tags([(cid, "fast", 1.0, as_of - timedelta(days=3))], {"fast": 0.1})
    weight = 1.0 * 0.5 ** (3 / 0.1)
    definition = T(["fast"], min_weight=weight * (1 + margin))
    assert env.preview_ids(definition, as_of=as_of) == ([cid] if member else [])
