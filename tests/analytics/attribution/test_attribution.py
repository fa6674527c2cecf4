"""Attribution models on hand-computed journeys, the exact Markov removal effects against an
independent power iteration on the public reference paths, Shapley's closed form against the
definition, and journeys cut from the warehouse's touches on both engines."""

from __future__ import annotations

import csv
import itertools
import math
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from tests.analytics.conftest import Warehouse, day
from tests.conftest import SHARED_DATA

from siyu.analytics.attribution.models import MODELS, Paths, removal_effects, shapley
from siyu.analytics.attribution.runner import DIRECT, read_paths_csv
from siyu.analytics.base import AnalyticsError, run_analysis
from siyu.store.models import Channel

REFERENCE = SHARED_DATA / "attribution_paths.csv"


def credit(paths: list[dict[str, Any]], model: str, **params: Any) -> dict[str, tuple[float, float]]:
    result = run_analysis("attribution", {"paths": paths, "model": model, **params})
    return {r["channel"]: (r["conversions"], r["value"]) for r in result.to_dict()}


def approx(expected: dict[str, tuple[float, float]]) -> Any:
    return {k: pytest.approx(v, abs=1e-9) for k, v in expected.items()}


# --- heuristic models, by hand ---------------------------------------------------------------------
HAND = [
    {"path": ["a", "b", "c", "d"], "conversions": 1, "value": 10},
    {"path": ["a"], "conversions": 2, "value": 4},
    {"path": "b > a", "conversions": 1, "value": 6},  # a string path is split on ">"
    {"path": ["b", "a", "b"], "conversions": 1, "value": 5},
    {"path": ["c", "d"], "conversions": 0, "value": 0, "nulls": 3},
]


def test_first_and_last_touch() -> None:
    assert credit(HAND, "first_touch") == approx({"a": (3, 14), "b": (2, 11), "c": (0, 0), "d": (0, 0)})
    assert credit(HAND, "last_touch") == approx({"d": (1, 10), "a": (3, 10), "b": (1, 5), "c": (0, 0)})


def test_linear_credits_every_touch_equally() -> None:
    # a: 1/4·1 + 2 + 1/2·1 + 1/3·1 ; value 10/4 + 4 + 3 + 5/3
    a = (0.25 + 2 + 0.5 + 1 / 3, 2.5 + 4 + 3 + 5 / 3)
    b = (0.25 + 0.5 + 2 / 3, 2.5 + 3 + 10 / 3)
    c = d = (0.25, 2.5)
    assert credit(HAND, "linear") == approx({"a": a, "b": b, "c": c, "d": d})


def test_position_based_40_20_40() -> None:
    # a>b>c>d: .4/.1/.1/.4 ; a: 100 % ; b>a: 50/50 ; b>a>b: b .4+.4, a .2
    a = (0.4 + 2 + 0.5 + 0.2, 4 + 4 + 3 + 1)
    b = (0.1 + 0.5 + 0.8, 1 + 3 + 4)
    c = (0.1, 1)
    d = (0.4, 4)
    assert credit(HAND, "position_based") == approx({"a": a, "b": b, "c": c, "d": d})


def test_time_decay_by_position_without_times() -> None:
    # half-life of one touch: a>b>c weights 1/4, 1/2, 1 (ages 2, 1, 0) → 1/7, 2/7, 4/7
    got = credit([{"path": ["a", "b", "c"], "conversions": 7, "value": 14}], "time_decay", half_life_days=1)
    assert got == approx({"a": (1, 2), "b": (2, 4), "c": (4, 8)})
    # the default half-life (7 touches): a>b weights 2^(-1/7), 1
    w = 2 ** (-1 / 7)
    got = credit([{"path": ["a", "b"], "conversions": 1, "value": 0}], "time_decay")
    assert got == approx({"a": (w / (1 + w), 0), "b": (1 / (1 + w), 0)})


def test_shapley_splits_among_distinct_channels() -> None:
    # b>a>b has two distinct channels: 1/2 each, not 2/3 to b
    a = (0.25 + 2 + 0.5 + 0.5, 2.5 + 4 + 3 + 2.5)
    b = (0.25 + 0.5 + 0.5, 2.5 + 3 + 2.5)
    assert credit(HAND, "shapley") == approx({"a": a, "b": b, "c": (0.25, 2.5), "d": (0.25, 2.5)})


def brute_force_shapley(journeys: list[tuple[set[str], float]], players: list[str]) -> dict[str, float]:
    """The definition: average marginal contribution over all orderings (as subset weights)."""

    def v(coalition: frozenset[str]) -> float:
        return sum(conv for chans, conv in journeys if chans <= coalition)

    n = len(players)
    out = dict.fromkeys(players, 0.0)
    for i in players:
        others = [p for p in players if p != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                out[i] += weight * (v(s | {i}) - v(s))
    return out


def test_shapley_closed_form_equals_the_definition() -> None:
    rng = np.random.default_rng(7)
    players = ["p", "q", "r", "s", "t"]
    paths, journeys = [], []
    for _ in range(25):
        path = list(rng.choice(players, size=int(rng.integers(1, 6))))
        conv = float(rng.integers(0, 5))
        paths.append(path)
        journeys.append((set(path), conv))
    encoded = Paths.from_lists(paths, [c for _, c in journeys], [0.0] * 25, [0.0] * 25)
    got = shapley(encoded)
    expected = brute_force_shapley(journeys, players)
    assert dict(zip(got.channels, got.conversions.tolist(), strict=True)) == pytest.approx(
        {k: v for k, v in expected.items() if k in got.channels}, abs=1e-9
    )


# --- Markov ------------------------------------------------------------------------------------------
def test_markov_two_channels_by_hand() -> None:
    # start→a 2, start→b 2; a→b 1, a→null 1; b→conv 2, b→null 1.
    # x_b = 2/3, x_a = 1/2·2/3 = 1/3, P(conv) = 1/2·1/3 + 1/2·2/3 = 1/2.
    # without a: 1/2·2/3 = 1/3 → effect 1/3; without b: 0 → effect 1. Shares 1/4, 3/4.
    paths = [
        {"path": ["a", "b"], "conversions": 1, "value": 10},
        {"path": ["a"], "conversions": 0, "nulls": 1},
        {"path": ["b"], "conversions": 1, "value": 6, "nulls": 1},
    ]
    encoded = Paths.from_lists([p["path"] for p in paths], [1, 0, 1], [10, 0, 6], [0, 1, 1])
    p_conv, effects = removal_effects(encoded)
    assert p_conv == pytest.approx(0.5)
    assert effects.tolist() == pytest.approx([1 / 3, 1.0])
    assert credit(paths, "markov") == approx({"a": (0.5, 4), "b": (1.5, 12)})


def test_markov_self_loops_do_not_change_the_result() -> None:
    base = [{"path": ["a", "b"], "conversions": 2, "nulls": 1}, {"path": ["b"], "nulls": 2}]
    looped = [
        {"path": ["a", "a", "b", "b", "b"], "conversions": 2, "nulls": 1},
        {"path": ["b", "b"], "nulls": 2},
    ]
    assert credit(looped, "markov") == approx(credit(base, "markov"))


def reference_rows() -> list[dict[str, Any]]:
    with REFERENCE.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return [
        {
            "path": [c.strip() for c in r["path"].split(">")],
            "conversions": float(r["total_conversions"]),
            "value": float(r["total_conversion_value"]),
            "nulls": float(r["total_null"]),
        }
        for r in rows
    ]


def power_iteration_p_conv(rows: list[dict[str, Any]], removed: str | None) -> float:
    """P(conversion from start) by pushing probability mass through the chain built from plain
    Python transition counts; the removed channel's incoming mass is lost (sent to null)."""
    counts: dict[str, dict[str, float]] = {}

    def add(a: str, b: str, w: float) -> None:
        counts.setdefault(a, {}).setdefault(b, 0.0)
        counts[a][b] += w

    for r in rows:
        states = ["(start)", *r["path"]]
        walks = r["conversions"] + r["nulls"]
        for a, b in itertools.pairwise(states):
            add(a, b, walks)
        add(states[-1], "(conversion)", r["conversions"])
        add(states[-1], "(null)", r["nulls"])
    probs = {a: {b: w / sum(out.values()) for b, w in out.items()} for a, out in counts.items()}
    mass = {"(start)": 1.0}
    converted = 0.0
    for _ in range(100_000):
        nxt: dict[str, float] = {}
        for a, m in mass.items():
            for b, p in probs[a].items():
                if b == "(conversion)":
                    converted += m * p
                elif b != "(null)" and b != removed:
                    nxt[b] = nxt.get(b, 0.0) + m * p
        mass = nxt
        if sum(mass.values()) < 1e-15:
            break
    return converted


def test_markov_on_the_reference_paths_matches_power_iteration() -> None:
    rows = reference_rows()
    result = run_analysis("attribution", {"paths": rows, "model": "all"}).to_dict()
    total_conv = sum(r["conversions"] for r in rows)
    total_value = sum(r["value"] for r in rows)
    for model in MODELS:  # every model shares out exactly the input totals
        entries = result["models"][model]
        assert sum(e["conversions"] for e in entries) == pytest.approx(total_conv, rel=1e-12)
        assert sum(e["value"] for e in entries) == pytest.approx(total_value, rel=1e-12)
    p_conv = power_iteration_p_conv(rows, None)
    channels = sorted({c for r in rows for c in r["path"]})
    expected = {c: 1 - power_iteration_p_conv(rows, c) / p_conv for c in channels}
    assert result["removal_effects"] == pytest.approx(expected, abs=1e-10)
    share = {c: e / sum(expected.values()) for c, e in expected.items()}
    markov = {e["channel"]: e for e in result["models"]["markov"]}
    for c in channels:
        assert markov[c]["conversions"] == pytest.approx(share[c] * total_conv, rel=1e-9)
        assert markov[c]["value"] == pytest.approx(share[c] * total_value, rel=1e-9)
    # sorted by conversions, descending
    conversions = [e["conversions"] for e in result["models"]["markov"]]
    assert conversions == sorted(conversions, reverse=True)


# --- reading aggregated paths -------------------------------------------------------------------------
def test_reading_the_reference_csv_and_a_comma_separated_file() -> None:
    rows = read_paths_csv(REFERENCE)
    assert len(rows) == 10_000
    assert rows[0] == {"path": ["eta", "iota", "alpha", "eta"], "conversions": 1, "value": 0.244, "nulls": 3}
    text = "path,total_conversions,total_conversion_value,total_null\n a >b,2,3.5,0\n\nc,0,0,4\n"
    assert read_paths_csv(text) == [
        {"path": ["a", "b"], "conversions": 2, "value": 3.5, "nulls": 0},
        {"path": ["c"], "conversions": 0, "value": 0, "nulls": 4},
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("path;total_conversions\na > b;x\n", "paths row 1 (line 2).total_conversions"),
        ("path;total_conversions\na;1\na > > b;1\n", "paths row 2 (line 3).path"),
        ("path;total_conversions;total_null\na;1;-2\n", "paths row 1 (line 2).total_null"),
        ("route;total_conversions\na;1\n", "paths"),
    ],
)
def test_bad_rows_name_the_row_and_the_field(text: str, field: str) -> None:
    with pytest.raises(AnalyticsError) as err:
        read_paths_csv(text)
    assert err.value.field == field


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(AnalyticsError) as err:
        run_analysis("attribution", {"paths": [{"path": ["a"], "conversions": -1}]})
    assert err.value.field == "paths[0].conversions"
    with pytest.raises(AnalyticsError) as err:
        run_analysis("attribution", {"paths": [{"path": []}]})
    assert err.value.field == "paths[0].path"
    with pytest.raises(AnalyticsError) as err:
        run_analysis("attribution", {"paths": [{"path": ["a"]}], "model": "random"})
    assert err.value.field == "model"
    with pytest.raises(AnalyticsError):  # journeys from the warehouse need one
        run_analysis("attribution", {"model": "markov"})


def test_result_tables_and_figure() -> None:
    result = run_analysis("attribution", {"paths": HAND, "model": "all"})
    frame = result.to_pandas()
    assert list(frame.columns[:3]) == ["channel", "first_touch_conversions", "first_touch_value"]
    assert set(frame["channel"]) == {"a", "b", "c", "d"}
    assert len(result.figure().data) == len(MODELS)
    single = run_analysis("attribution", {"paths": HAND, "model": "markov"})
    assert list(single.to_pandas().columns) == ["channel", "conversions", "value", "share", "removal_effect"]
    assert single.to_pandas()["share"].sum() == pytest.approx(1)


# --- journeys from the warehouse ----------------------------------------------------------------------
ORDER = "Order Completed"


def load_journeys(warehouse: Warehouse) -> Any:
    """Contact 1: ch1 d0, ch2 d5, order d10 (100); ch3 d12, order d20 (50).
    Contact 2: ch1 d0, order d40 (30) — the touch is older than the 30-day lookback.
    Contact 3: ch2 d1, ch3 d2, never orders (a null path).
    Contact 4: ch1 and an order at the same instant d3 (the touch counts); amount not a number.
    Contact 5: ch2 and ch1 at the same instant d1 (ordered by channel id), order d2 (20).
    Contact 6: order d2 (10) with no touch; ch3 d3 after it, no later order (a null path).
    """
    events = [
        (1, ORDER, day(10), {"amount": 100}),
        (1, ORDER, day(20), {"amount": 50}),
        (2, ORDER, day(40), {"amount": 30}),
        (3, "Page Viewed", day(2)),
        (4, ORDER, day(3), {"amount": "n/a"}),
        (5, ORDER, day(2), {"amount": 20}),
        (6, ORDER, day(2), {"amount": 10}),
        (6, "Page Viewed", day(5)),
    ]
    touches = [
        (1, 1, day(0)),
        (1, 2, day(5)),
        (1, 3, day(12)),
        (2, 1, day(0)),
        (3, 2, day(1)),
        (3, 3, day(2)),
        (4, 1, day(3)),
        (5, 2, day(1)),
        (5, 1, day(1)),
        (6, 3, day(3)),
    ]
    return warehouse.load(events, touches=touches)


def test_warehouse_journeys_match_the_same_paths_given_by_hand(warehouse: Warehouse, snapshot: Any) -> None:
    src = load_journeys(warehouse)
    got = run_analysis("attribution", {"model": "all"}, src)
    c1, c2, c3 = "channel 1", "channel 2", "channel 3"
    by_hand = [
        {"path": [c1, c2], "conversions": 1, "value": 100},
        {"path": [c3], "conversions": 1, "value": 50},
        {"path": [DIRECT], "conversions": 1, "value": 30},
        {"path": [c1], "conversions": 1, "value": 0},
        {"path": [c1, c2], "conversions": 1, "value": 20},
        {"path": [DIRECT], "conversions": 1, "value": 10},
        {"path": [c2, c3], "nulls": 1},
        {"path": [c3], "nulls": 1},
    ]
    expected = run_analysis("attribution", {"paths": by_hand, "model": "all"}).to_dict()
    payload = got.to_dict()
    assert payload["total"] == {"conversions": 6, "value": 210}
    assert payload["paths"] == 8
    for model in MODELS:
        if model == "time_decay":  # uses real times here, positions by hand: checked below
            continue
        assert {e["channel"]: (e["conversions"], e["value"]) for e in payload["models"][model]} == approx(
            {e["channel"]: (e["conversions"], e["value"]) for e in expected["models"][model]}
        )
    assert payload["models"]["first_touch"][0] == {
        "channel": c1,
        "conversions": 3,
        "value": 120,
        "share": 0.5,
    }
    # time decay (7 days): contact 1's first order has ch1 10 days and ch2 5 days before it
    w1, w2 = 2 ** (-10 / 7), 2 ** (-5 / 7)
    decay = {e["channel"]: e["conversions"] for e in payload["models"]["time_decay"]}
    assert decay[c1] == pytest.approx(w1 / (w1 + w2) + 1 + 0.5)  # contact 5's touches are simultaneous
    assert decay[c2] == pytest.approx(w2 / (w1 + w2) + 0.5)
    if warehouse.engine == "duckdb":
        snapshot("attribution_journeys", got.sql)


def test_warehouse_range_and_lookback(warehouse: Warehouse) -> None:
    src = load_journeys(warehouse)
    start = (day(15)).date()
    got = run_analysis("attribution", {"model": "first_touch", "from": start.isoformat()}, src).to_dict()
    # only the orders on days 20 and 40; ch3 (day 12) is before `from` but within the lookback;
    # null journeys are the touches from `from` on, and there are none
    assert {e["channel"]: (e["conversions"], e["value"]) for e in got} == approx(
        {"channel 3": (1, 50), DIRECT: (1, 30)}
    )
    # a lookback of 5 days drops ch1 (10 days before contact 1's first order) but keeps ch2 (5
    # days exactly); `to` ends with day 10, so contact 2's old touch becomes a null journey; ch3
    # is only on null journeys (contacts 3 and 6) and gets nothing
    got = run_analysis(
        "attribution", {"model": "linear", "lookback_days": 5, "to": day(10).date().isoformat()}, src
    ).to_dict()
    assert {e["channel"]: (e["conversions"], e["value"]) for e in got} == approx(
        {"channel 1": (1.5, 10), "channel 2": (1.5, 110), DIRECT: (1, 10), "channel 3": (0, 0)}
    )
    with pytest.raises(AnalyticsError) as err:
        run_analysis("attribution", {"from": "2026-02-01", "to": "2026-01-01"}, src)
    assert err.value.field == "to"


def test_channel_names_from_the_system_of_record(warehouse: Warehouse) -> None:
    src = load_journeys(warehouse)
    engine = create_engine("sqlite://")
    Channel.__table__.create(engine)  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.add_all(
            [
                Channel(id=1, key="ads", name="广告投放", kind="ads", config={}),
                Channel(id=2, key="wecom", name="企业微信", kind="wecom", config={}),
            ]
        )
        session.commit()
        got = run_analysis("attribution", {"model": "last_touch"}, src, session).to_dict()
    assert {e["channel"] for e in got} == {"广告投放", "企业微信", "channel 3", DIRECT}
    engine.dispose()


def test_no_conversions_in_the_warehouse(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, "Page Viewed", day(1))], touches=[(1, 4, day(0))])
    got = run_analysis("attribution", {"model": "all"}, src).to_dict()
    assert got["total"] == {"conversions": 0, "value": 0}
    assert got["models"]["markov"] == [{"channel": "channel 4", "conversions": 0, "value": 0, "share": 0}]
