"""Funnels against a brute-force reference on random small histories, on every engine.

The reference applies the definitions literally: every order of the events that share a
timestamp is tried, every chain of distinct events is enumerated (sequential), every run of
consecutive events (strict), every window starting at a step event (any order); per contact the
best candidate is the furthest step, then the earliest time it was reached, then the latest
start, then the earliest intermediate steps. It shares no code with the SQL. The histories are
small (≤ 6 events, timestamps on a coarse grid so that ties and the window's edge are common).
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import run_analysis

W = timedelta(days=1)
LO, HI = day(0), day(1)  # the range: day 0 only
#: Offsets from day 0 (hours): ties, the window's exact end (24 h after 0) and just past it.
GRID = [0.0, 0.0, 6.0, 6.0, 12.0, 24.0, 24.0 + 1 / 3600, 30.0, -1.0]


@dataclass(frozen=True)
class Ev:
    id: int
    name: str
    ts: datetime
    props: tuple[tuple[str, str], ...] = ()


def matches(step: dict[str, Any], e: Ev) -> bool:
    props = dict(e.props)
    return e.name == step["event"] and all(
        props.get(f["property"]) == f["value"] for f in step.get("where", [])
    )


def orders(events: list[Ev]) -> Iterator[list[Ev]]:
    """Every total order of the events that keeps time order (ties in every order)."""
    groups = [list(g) for _, g in itertools.groupby(sorted(events, key=lambda e: e.ts), key=lambda e: e.ts)]
    for perm in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield [e for g in perm for e in g]


def chains(mode: str, steps: list[dict[str, Any]], events: list[Ev]) -> Iterator[list[datetime]]:
    n = len(steps)
    if mode == "any_order":
        for e in events:
            if LO <= e.ts < HI and any(matches(s, e) for s in steps):
                firsts = [
                    min((f.ts for f in events if e.ts <= f.ts <= e.ts + W and matches(s, f)), default=None)
                    for s in steps
                ]
                yield sorted(t for t in firsts if t is not None)
        return
    for order in orders(events):
        for i, e in enumerate(order):
            if not (matches(steps[0], e) and LO <= e.ts < HI):
                continue
            if mode == "strict":
                times = [e.ts]
                for p in range(i + 1, len(order)):
                    f = order[p]
                    if len(times) == n or f.ts > e.ts + W or not matches(steps[len(times)], f):
                        break
                    times.append(f.ts)
                yield from (times[:k] for k in range(1, len(times) + 1))
                continue
            stack = [(i, [e.ts])]
            while stack:
                pos, times = stack.pop()
                yield times
                if len(times) < n:
                    for p in range(pos + 1, len(order)):
                        f = order[p]
                        if f.ts <= e.ts + W and matches(steps[len(times)], f):
                            stack.append((p, [*times, f.ts]))


def best(mode: str, steps: list[dict[str, Any]], events: list[Ev]) -> list[datetime] | None:
    found = list(chains(mode, steps, events))
    if not found:
        return None
    top = max((len(t), -(t[-1] - LO).total_seconds(), (t[0] - LO).total_seconds()) for t in found)
    tied = [t for t in found if (len(t), -(t[-1] - LO).total_seconds(), (t[0] - LO).total_seconds()) == top]
    return min(tied)


def excluded(times: list[datetime], events: list[Ev], exclusion: dict[str, Any] | None, n: int) -> bool:
    if exclusion is None:
        return False
    after, before = exclusion["from_step"], exclusion.get("to_step", n - 1)
    if len(times) <= after:
        return False
    lo = times[after]
    for e in events:
        if e.name != exclusion["event"] or e.ts <= lo:
            continue
        if (len(times) > before and e.ts < times[before]) or (len(times) <= before and e.ts <= times[0] + W):
            return True
    return False


def expected(
    mode: str, steps: list[dict[str, Any]], history: dict[int, list[Ev]], exclusion: dict[str, Any] | None
) -> list[tuple[int, float | None, float | None]]:
    n = len(steps)
    counted = []
    for events in history.values():
        times = best(mode, steps, events)
        if times is not None and not excluded(times, events, exclusion, n):
            counted.append(times)
    out: list[tuple[int, float | None, float | None]] = []
    for j in range(n):
        reached = [t for t in counted if len(t) > j]
        gaps = [(t[j] - t[j - 1]).total_seconds() for t in reached] if j else []
        out.append(
            (
                len(reached),
                statistics.median(gaps) if gaps else None,
                statistics.fmean(gaps) if gaps else None,
            )
        )
    return out


def history(seed: int, names: list[str], contacts: int = 40) -> dict[int, list[Ev]]:
    rng = random.Random(seed)
    out: dict[int, list[Ev]] = {}
    next_id = 1
    for cid in range(1, contacts + 1):
        events = []
        for _ in range(rng.randint(1, 6)):
            props = (("category", rng.choice(["tea", "coffee"])),)
            events.append(Ev(next_id, rng.choice(names), day(0, rng.choice(GRID)), props))
            next_id += 1
        out[cid] = events
    return out


def load(warehouse: Warehouse, hist: dict[int, list[Ev]]) -> Any:
    # Events are inserted in id order, so the warehouse ids are the reference's ids.
    rows = sorted(((e.id, cid, e) for cid, evs in hist.items() for e in evs), key=lambda r: r[0])
    return warehouse.load([(cid, e.name, e.ts, dict(e.props)) for _, cid, e in rows])


def observed(src: Any, params: dict[str, Any]) -> list[tuple[int, float | None, float | None]]:
    out = run_analysis("funnel", params, src, use_cache=False).to_dict()
    return [
        (s["count"], s["median_seconds_to_convert"], s["average_seconds_to_convert"]) for s in out["steps"]
    ]


def same(
    a: list[tuple[int, float | None, float | None]], b: list[tuple[int, float | None, float | None]]
) -> bool:
    return all(
        x[0] == y[0]
        and all(
            (u is None and v is None) or (u is not None and v == pytest.approx(u))
            for u, v in zip(x[1:], y[1:], strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


TEA = [{"property": "category", "op": "eq", "value": "tea"}]
CASES = [
    # (mode, steps, exclusion)
    ("sequential", [{"event": "V"}, {"event": "C"}, {"event": "O"}], None),
    (
        "sequential",
        [{"event": "V", "where": TEA}, {"event": "C"}, {"event": "O"}],
        {"event": "X", "from_step": 0, "to_step": 1},
    ),
    ("sequential", [{"event": "V"}, {"event": "V"}, {"event": "O"}], None),
    ("sequential", [{"event": "V"}, {"event": "C"}, {"event": "V"}], None),
    ("sequential", [{"event": "V"}, {"event": "C"}, {"event": "V"}, {"event": "C"}], None),
    ("strict", [{"event": "V"}, {"event": "C"}, {"event": "O"}], None),
    ("strict", [{"event": "V"}, {"event": "V"}, {"event": "O"}], None),
    ("strict", [{"event": "V"}, {"event": "C"}, {"event": "V"}, {"event": "O"}], None),
    ("strict", [{"event": "V"}, {"event": "C"}], {"event": "X", "from_step": 0}),
    ("any_order", [{"event": "V"}, {"event": "C"}, {"event": "O"}], None),
    ("any_order", [{"event": "V", "where": TEA}, {"event": "O"}], {"event": "X", "from_step": 0}),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_matches_the_brute_force_reference(warehouse: Warehouse, seed: int) -> None:
    hist = history(seed, ["V", "C", "O", "X"])
    src = load(warehouse, hist)
    for mode, steps, exclusion in CASES:
        params: dict[str, Any] = {
            "steps": steps,
            "mode": mode,
            "window_days": 1,
            "from": "2026-01-05",
            "to": "2026-01-05",
        }
        if exclusion is not None:
            params["exclusions"] = [exclusion]
        want = expected(mode, steps, hist, exclusion)
        got = observed(src, params)
        assert same(want, got), (mode, steps, exclusion, want, got)
