"""The incremental recompute against the full one.

Two dynamic segments share one definition: ``inc`` is recomputed incrementally, ``copy`` in
full. After every kind of change (events, new contacts, tags, attributes, consent, merges, the
calendar moving so events slide out of relative windows) both must hold the same members;
``inc``'s entered/exited lists must be exactly the change of its membership, and the
``segment.entered`` / ``segment.exited`` events in the system of record must name exactly those
contacts, once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from siyu.client import Siyu
from siyu.segments.service import Recompute

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
PEOPLE = 60
DEVICES = 4


def E(event: str, **kw: Any) -> dict[str, Any]:
    return {"type": "event", "event": event, **kw}


DEFINITION = {
    "type": "or",
    "conditions": [
        {
            "type": "and",
            "conditions": [
                E("Order Completed", count={"op": "gte", "value": 2}, within={"days": 30}),
                {"type": "consent", "purpose": "marketing", "state": "granted"},
            ],
        },
        {
            "type": "and",
            "conditions": [
                {"type": "tags", "tags": ["vip"]},
                {
                    "type": "not",
                    "condition": {"type": "attribute", "name": "plan", "op": "eq", "value": "churned"},
                },
            ],
        },
        E("Page Viewed", last={"op": "after", "days_ago": 7}),
        {
            "type": "and",
            "conditions": [{"type": "segment", "segment": "base"}, E("Signed Up", within={"days": 14})],
        },
    ],
}
BASE = {"type": "attribute", "name": "plan", "op": "eq", "value": "gold"}


def uid(i: int) -> str:
    return f"u-{i:02d}"


def seed(env: Any) -> dict[str, int]:
    """60 customers with sparse events over 90 days, a few planted near window edges, four
    device-only visitors (for merges), tags, consent; then the segments, computed at T0."""
    rng = random.Random(7)
    calls = []
    for i in range(PEOPLE):
        plan = {5: "silver", 28: "gold"}.get(i) or rng.choice(["gold", "silver", "churned", None])
        calls.append(
            env.call("identify", uid(i), T0 - timedelta(days=100), traits={"plan": plan} if plan else {})
        )
        for _ in range(rng.choice([0, 0, 1, 2])):
            name = rng.choice(["Order Completed", "Page Viewed", "Signed Up"])
            at = T0 - timedelta(days=rng.choice([45, 60, 75]), hours=rng.randint(0, 200))
            calls.append(env.call("track", uid(i), at, event=name, properties={"amount": rng.randint(1, 99)}))
    planted = [
        (1, "Order Completed", T0 - timedelta(days=29, hours=5)),  # slides out of the 30 days after 3 days
        (1, "Order Completed", T0 - timedelta(days=10)),
        (2, "Page Viewed", T0 - timedelta(days=6, hours=5)),  # no longer within 7 days after 3 days
        (3, "Page Viewed", T0 - timedelta(days=1)),
        (4, "Order Completed", T0 - timedelta(days=3)),
        (4, "Order Completed", T0 - timedelta(days=2)),
        (5, "Signed Up", T0 - timedelta(days=2)),
    ]
    for i, name, at in planted:
        calls.append(env.call("track", uid(i), at, event=name))
    for d in range(DEVICES):
        calls.append(
            {
                **env.call("track", "x", T0 - timedelta(days=2 if d < 3 else 40), event="Page Viewed"),
                "userId": None,
                "anonymousId": f"dev-{d}",
            }
        )
    env.batch(calls)
    ids = env.contact_ids()
    env.add_tags([(ids[uid(i)], "vip", 1.0, T0 - timedelta(days=5)) for i in range(0, PEOPLE, 7)])
    env.consent(
        [(ids[uid(i)], "marketing", "*", i % 3 != 0, T0 - timedelta(days=20)) for i in range(1, PEOPLE, 2)]
    )
    with env.service() as svc:
        for key, definition in (("base", BASE), ("inc", DEFINITION), ("copy", DEFINITION)):
            svc.create({"key": key, "name": key, "definition": definition})
    with env.service() as svc:  # create() computes at the current time; start every cursor at T0
        for key in ("base", "inc", "copy"):
            svc.recompute(key, full=True, as_of=T0)
    return ids


def members(env: Any, key: str) -> list[int]:
    with env.service() as svc:
        return svc.members(key, limit=1_000_000)


def check_step(env: Any, as_of: datetime, mode: str | None = "incremental") -> Recompute:
    """Recompute ``base`` (and commit, feed), then ``inc`` incrementally and ``copy`` in full,
    and check them."""
    with env.service() as svc:
        svc.recompute("base", as_of=as_of)
    before, before_copy = members(env, "inc"), members(env, "copy")
    mark = env.max_event_id()
    with env.service() as svc:
        inc = svc.recompute("inc", as_of=as_of)
        full = svc.recompute("copy", full=True, as_of=as_of)
    after, after_copy = members(env, "inc"), members(env, "copy")
    assert full.mode == "full"
    assert after == after_copy, f"incremental {after} != full {after_copy}"
    if mode is not None:
        assert inc.mode == mode
    for result, old, new in ((inc, before, after), (full, before_copy, after_copy)):
        assert result.entered == sorted(set(new) - set(old))
        assert result.exited == sorted(set(old) - set(new))
        assert result.members == len(new)
    written = sorted((e, c) for _, e, c, props in env.system_events(mark) if props.get("segment") == "inc")
    assert written == sorted(
        [("segment.entered", c) for c in inc.entered] + [("segment.exited", c) for c in inc.exited]
    )
    return inc


# --- the changes ----------------------------------------------------------------------------
def new_events(env: Any, ids: dict[str, int]) -> datetime:
    env.batch(
        [
            env.call("track", uid(6), T0 - timedelta(hours=5), event="Order Completed"),
            env.call("track", uid(6), T0 - timedelta(hours=4), event="Order Completed"),
            env.call("track", uid(8), T0 - timedelta(hours=3), event="Page Viewed"),
            env.call("track", uid(10), T0 - timedelta(hours=2), event="Order Completed"),
        ]
    )
    env.consent([(ids[uid(6)], "marketing", "*", True, T0 - timedelta(days=1))])
    return T0


def new_contacts(env: Any, ids: dict[str, int]) -> datetime:
    env.batch(
        [
            env.call("track", "new-1", T0 - timedelta(hours=3), event="Page Viewed"),
            env.call("identify", "new-2", T0 - timedelta(hours=2), traits={"plan": "gold"}),
            env.call("track", "new-2", T0 - timedelta(hours=1), event="Signed Up"),
        ]
    )
    return T0


def tags(env: Any, ids: dict[str, int]) -> datetime:
    env.add_tags([(ids[uid(9)], "vip", 2.0, T0), (ids[uid(11)], "vip", 1.0, T0)])
    env.remove_tag(ids[uid(7)], "vip")
    return T0


def attributes(env: Any, ids: dict[str, int]) -> datetime:
    env.batch(
        [
            env.call("identify", uid(14), T0, traits={"plan": "churned"}),  # a vip leaves
            env.call("identify", uid(5), T0, traits={"plan": "gold"}),  # enters base, then inc
            env.call("identify", uid(21), T0, traits={"plan": "silver"}),
        ]
    )
    return T0


def consent(env: Any, ids: dict[str, int]) -> datetime:
    env.consent(
        [
            (ids[uid(4)], "marketing", "*", True, T0 - timedelta(hours=1)),  # two orders: enters
            (ids[uid(1)], "marketing", "*", False, T0 - timedelta(hours=1)),
        ]
    )
    return T0


def merge(env: Any, ids: dict[str, int]) -> datetime:
    """Device-only visitors (members: a page view two days ago) are identified as customers; the
    merge that absorbs dev-3 (an old page view) also brings a newer plan that takes vip u-28 out."""
    env.batch(
        [
            {**env.call("identify", uid(12), T0, traits={}), "anonymousId": "dev-0"},
            {**env.call("identify", uid(13), T0, traits={}), "anonymousId": "dev-1"},
            {**env.call("identify", uid(28), T0, traits={"plan": "churned"}), "anonymousId": "dev-3"},
        ]
    )
    live = set(env.live_contacts())
    assert {ids[uid(12)], ids[uid(13)], ids[uid(28)]} <= live and len(live) == PEOPLE + DEVICES - 3
    return T0


def time_passes(env: Any, ids: dict[str, int]) -> datetime:
    return T0 + timedelta(days=3)


def nothing(env: Any, ids: dict[str, int]) -> datetime:
    return T0


CHANGES: dict[str, Callable[[Any, dict[str, int]], datetime]] = {
    "new-events": new_events,
    "new-contacts": new_contacts,
    "tags": tags,
    "attributes": attributes,
    "consent": consent,
    "merge": merge,
    "time-passes": time_passes,
    "nothing": nothing,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_incremental_recompute_matches_full(env: Any, change: str) -> None:
    ids = seed(env)
    before = members(env, "inc")
    assert before == members(env, "copy")
    as_of = CHANGES[change](env, ids)
    result = check_step(env, as_of)
    if change == "nothing":
        assert (result.entered, result.exited) == ([], [])
    else:
        assert result.entered or result.exited, "the change should move someone"
    if change == "merge":  # the survivors carry the absorbed visitors' page views
        assert {ids[uid(12)], ids[uid(13)]} <= set(members(env, "inc"))
        assert ids[uid(28)] in result.exited
    # Running it again changes nothing and writes nothing.
    again = check_step(env, as_of)
    assert (again.entered, again.exited) == ([], [])


def test_a_sequence_of_changes_keeps_both_paths_equal(env: Any) -> None:
    ids = seed(env)
    moved = 0
    for change in ("new-events", "tags", "merge", "attributes", "consent", "new-contacts"):
        result = check_step(env, CHANGES[change](env, ids))
        moved += len(result.entered) + len(result.exited)
    for day in (1, 2, 3, 10, 40):
        result = check_step(env, T0 + timedelta(days=day))
        moved += len(result.entered) + len(result.exited)
    assert moved > 5


def test_time_dependent_definitions_recompute_in_full(env: Any) -> None:
    ids = seed(env)
    env.add_tags([(ids[uid(1)], "engaged", 1.0, T0)], {"engaged": 7.0})
    with env.service() as svc:
        for key, definition in (
            ("decaying", {"type": "tags", "tags": ["engaged"], "min_weight": 0.5}),
            ("dates", {"type": "attribute", "name": "birthday", "op": "anniversary_within_days", "days": 7}),
        ):
            svc.create({"key": key, "name": key, "definition": definition})
    with env.service() as svc:
        assert svc.recompute("decaying", as_of=T0).mode == "full"
        assert svc.recompute("dates", as_of=T0).mode == "full"
        assert (
            svc.preview({"type": "tags", "tags": ["engaged"], "min_weight": 0.5}, as_of=T0).incremental
            is False
        )


# --- edges of the windows -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "offset", "definition"),
    [
        # the last page view is exactly 7 days before the new as_of: no longer "after 7 days ago"
        ("last-after-edge", timedelta(days=-4), E("Page Viewed", last={"op": "after", "days_ago": 7})),
        ("first-after-edge", timedelta(days=-4), E("Page Viewed", first={"op": "after", "days_ago": 7})),
        # an event timestamped after the old as_of comes into a "last 30 days" window
        ("future-event", timedelta(days=2), E("Page Viewed", within={"days": 30})),
    ],
)
def test_time_passing_moves_contacts_on_window_edges(
    env: Any, name: str, offset: timedelta, definition: dict[str, Any]
) -> None:
    """as_of moves from T0 to T0 + 3 days; one contact's only event is at T0 + offset."""
    ids = seed(env)
    env.batch([env.call("track", "edge", T0 + offset, event="Page Viewed")])
    with env.service() as svc:
        svc.create({"key": "edge", "name": "edge", "definition": definition})
    with env.service() as svc:
        svc.create({"key": "edge-copy", "name": "edge", "definition": definition})
    for full in (True, False):  # the second run consumes the change log entries of the first
        with env.service() as svc:
            svc.recompute("edge", full=full, as_of=T0)
            svc.recompute("edge-copy", full=True, as_of=T0)
    with env.service() as svc:
        inc = svc.recompute("edge", as_of=T0 + timedelta(days=3))
        svc.recompute("edge-copy", full=True, as_of=T0 + timedelta(days=3))
    assert inc.mode == "incremental"
    edge = env.contact_ids()["edge"]
    assert edge not in ids.values()
    assert members(env, "edge") == members(env, "edge-copy")
    assert edge in inc.entered + inc.exited


def test_moving_as_of_back_gives_the_full_answer(env: Any) -> None:
    """Recomputing for an earlier date (a re-run, a back-fill) brings events back into windows."""
    seed(env)
    check_step(env, T0 + timedelta(days=20))
    check_step(env, T0 + timedelta(days=20))  # consumes the change log entries of the first run
    check_step(env, T0, mode=None)


def test_recompute_all_evaluates_references_with_the_new_members(env: Any) -> None:
    """Recomputing every segment does referenced segments first, each its own unit of work: a
    segment that refers to another sees the other's members of this run, not of the previous one."""
    ids = seed(env)
    env.batch([env.call("identify", uid(5), T0, traits={"plan": "gold"})])  # u-05 signed up 2 days ago
    results = {r["segment"]: r for r in Siyu(env.ctx).segments.recompute(as_of=T0)}
    assert results["base"]["entered"] == [ids[uid(5)]]
    assert ids[uid(5)] in env.preview_ids(DEFINITION, as_of=T0)  # what a run after the feed finds
    assert results["inc"]["entered"] == [ids[uid(5)]]
