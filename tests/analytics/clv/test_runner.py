"""The ``rfm`` and ``clv`` runners on hand-made orders, on both warehouse engines.

The fixture's summaries are worked out by hand below (days after T0 = Monday 2026-01-05):

contact 1: orders day 0 (10), day 0 at 05:00 (5), day 7 (20), day 14 (30), day 30 (40)
contact 2: one order, day 3 (15)
contact 3: day 1 (8), day 10 (12), day 10 at 03:00 (amount "abc", not a number), day 21 (6)
contact 4: one order, day 25 (after the calibration end used below)
contact 5: merged into contact 1, one order day 5 (99): not a live contact, ignored
plus a page view (not an order) and an order of contact 2 named differently.

Calibration end day 20 (2026-01-25), holdout end day 30 (2026-02-04):
  1: purchase days 0, 7, 14 → x = 2, t_x = 14, T = 20, z̄ = (20 + 30) / 2 = 25; holdout 1 (day 30)
  2: x = 0, t_x = 0, T = 17, z̄ = 0; holdout 0
  3: days 1, 10 → x = 1, t_x = 9, T = 19, z̄ = 12 (the text amount adds nothing); holdout 1
  4: first purchase after the calibration end: not in the cohort
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, DuckDBSource, Source, run_analysis
from siyu.analytics.clv.models import fit_clv, per_unit_rate

ORDER = "Order Completed"
EVENTS: list[tuple[Any, ...]] = [
    (1, ORDER, day(0), {"amount": 10}),
    (1, ORDER, day(0, 5), {"amount": 5}),
    (1, ORDER, day(7), {"amount": 20}),
    (1, ORDER, day(14), {"amount": 30}),
    (1, ORDER, day(30), {"amount": 40}),
    (1, "Page Viewed", day(2)),
    (2, ORDER, day(3), {"amount": 15}),
    (2, "Order Placed", day(5), {"amount": 1000}),
    (3, ORDER, day(1), {"amount": 8}),
    (3, ORDER, day(10), {"amount": 12}),
    (3, ORDER, day(10, 3), {"amount": "abc"}),
    (3, ORDER, day(21), {"amount": 6}),
    (4, ORDER, day(25), {"amount": 9}),
    (5, ORDER, day(5), {"amount": 99}),
]
CONTACTS = [{"id": 5, "created_at": day(0), "merged_into_id": 1}]
CAL_END, HOLD_END = "2026-01-25", "2026-02-04"


def load(warehouse: Warehouse) -> Source:
    return warehouse.load(events=EVENTS, contacts=CONTACTS)


def rows_by_id(result: Any, key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in result.frame().to_pylist()}


def test_clv_from_warehouse_orders(warehouse: Warehouse) -> None:
    src = load(warehouse)
    params = {"calibration_end": CAL_END, "holdout_end": HOLD_END, "time_unit": "day", "horizon": 30}
    result = run_analysis("clv", params, src, use_cache=False)
    rows = rows_by_id(result, "customer_id")
    assert sorted(rows) == ["1", "2", "3"]
    got = {k: (r["x"], r["t_x"], r["T"], r["monetary"]) for k, r in rows.items()}
    assert got == {"1": (2, 14.0, 20.0, 25.0), "2": (0, 0.0, 17.0, 0.0), "3": (1, 9.0, 19.0, 12.0)}
    doc = result.to_dict()
    want = fit_clv(
        np.array([2, 0, 1]), np.array([14.0, 0, 9]), np.array([20.0, 17, 19]), np.array([25.0, 0, 12])
    )
    assert [doc[k] for k in ("r", "alpha", "a", "b")] == pytest.approx(list(want.bgnbd.params), rel=1e-9)
    assert doc["bgnbd_log_likelihood"] == pytest.approx(want.bgnbd.log_likelihood, rel=1e-9)
    assert doc["customers"] == 3 and doc["repeat_customers"] == 2 and doc["gamma_gamma_customers"] == 2
    assert doc["discount_rate_per_unit"] == pytest.approx(1.1 ** (1 / 365.25) - 1)
    assert (doc["calibration_end"], doc["holdout_end"], doc["horizon"]) == (CAL_END, HOLD_END, 30)
    holdout = doc["holdout"]
    assert (holdout["start"], holdout["end"], holdout["length"]) == ("2026-01-26", HOLD_END, 10.0)
    assert (holdout["customers"], holdout["actual"]) == (3, 2.0)
    assert [(g["x"], g["customers"], g["actual"]) for g in holdout["by_frequency"]] == [
        ("0", 1, 0.0),
        ("1", 1, 1.0),
        ("2", 1, 1.0),
    ]
    assert doc["pareto_nbd"] is not None  # a handful of distinct rows: fitted as well
    assert [r["customer_id"] for r in doc["top"]] == [r["customer_id"] for r in result.frame().to_pylist()]
    clv = [r["clv"] for r in result.frame().to_pylist()]
    assert clv == sorted(clv, reverse=True)
    assert result.figure().data  # the holdout chart
    if warehouse.engine == "duckdb":
        assert "CAST(events.timestamp AS DATE)" in result.sql[0]


def test_clv_defaults_to_all_orders_and_no_holdout(warehouse: Warehouse) -> None:
    src = load(warehouse)
    doc = run_analysis("clv", {"time_unit": "week"}, src, use_cache=False).to_dict()
    # calibration end = the last order day (day 30); everyone is in the cohort
    assert doc["calibration_end"] == "2026-02-04" and doc["holdout"] is None and doc["holdout_end"] is None
    assert doc["customers"] == 4 and doc["horizon"] == 52


def test_order_days_sql_snapshot(snapshot: Any) -> None:
    import duckdb

    conn = duckdb.connect()
    from siyu.warehouse.state import STATE_SCHEMA
    from siyu.warehouse.store import SCHEMA

    conn.execute(SCHEMA)
    conn.execute(STATE_SCHEMA)
    conn.execute("INSERT INTO contacts (id, created_at) VALUES (1, TIMESTAMP '2026-01-05')")
    conn.execute(
        "INSERT INTO events (id, message_id, contact_id, type, event, properties, timestamp, received_at) "
        "VALUES (1, 'm1', 1, 'track', 'Order Completed', '{\"amount\": 3}', TIMESTAMP '2026-01-05 10:00', "
        "TIMESTAMP '2026-01-05 10:00'), (2, 'm2', 1, 'track', 'Order Completed', '{\"amount\": 4}', "
        "TIMESTAMP '2026-01-07 10:00', TIMESTAMP '2026-01-07 10:00')"
    )
    result = run_analysis("rfm", {"as_of": "2026-01-07"}, DuckDBSource(conn), use_cache=False)
    snapshot("clv_order_days", result.sql)


def _score(warehouse: Warehouse, src: Source) -> None:
    """A contact_rfm mirror row for contact 1 (as the RFM service writes it)."""
    insert = "INSERT INTO contact_rfm VALUES (1, 1.0, 5, 105.0, 5, 4, 3, 'Champions')"
    if isinstance(src, DuckDBSource):
        src.conn.execute(insert)
    else:
        with src.db.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f'SET LOCAL search_path TO "{src.schema}"'))  # type: ignore[attr-defined]
            conn.execute(text(insert))


def test_rfm_summary_with_scores(warehouse: Warehouse) -> None:
    src = load(warehouse)
    _score(warehouse, src)
    result = run_analysis("rfm", {}, src, use_cache=False)
    doc = result.to_dict()
    # as of the last order day (day 30 = 2026-02-04): everyone
    assert doc["as_of"] == "2026-02-04" and doc["customers"] == 4 and doc["repeat_customers"] == 2
    rows = rows_by_id(result, "contact_id")
    got = {
        k: (r["frequency"], r["recency"], r["T"], r["monetary"], r["orders"], r["revenue"])
        for k, r in rows.items()
    }
    assert got == {
        1: (3, 30.0, 30.0, 30.0, 5, 105.0),  # repeat days 7, 14, 30: (20 + 30 + 40) / 3
        2: (0, 0.0, 27.0, 0.0, 1, 15.0),
        3: (2, 20.0, 29.0, 9.0, 4, 26.0),  # repeat days 10 (12) and 21 (6); "abc" counts as an order
        4: (0, 0.0, 5.0, 0.0, 1, 9.0),
    }
    assert (rows[1]["r"], rows[1]["f"], rows[1]["m"], rows[1]["segment"]) == (5, 4, 3, "Champions")
    assert rows[2]["segment"] is None and rows[2]["r"] is None
    assert (str(rows[3]["first_order"]), str(rows[3]["last_order"])) == ("2026-01-06", "2026-01-26")
    assert doc["contacts"][0]["contact_id"] == 1
    assert result.figure().data


def test_rfm_as_of_and_weeks(warehouse: Warehouse) -> None:
    src = load(warehouse)
    result = run_analysis("rfm", {"as_of": "2026-01-25", "time_unit": "week"}, src, use_cache=False)
    rows = rows_by_id(result, "contact_id")
    assert sorted(rows) == [1, 2, 3]  # contact 4's first order is later
    assert (rows[1]["frequency"], rows[1]["recency"], rows[1]["T"]) == (2, 2.0, pytest.approx(20 / 7))
    assert (rows[1]["orders"], rows[1]["revenue"]) == (4, 65.0)
    assert result.to_dict()["as_of"] == "2026-01-25"


def test_clv_from_transactions_without_a_warehouse() -> None:
    """Same-day purchases count once with their amounts summed; no warehouse needed."""
    tx = [
        {"customer_id": "a", "date": "2026-01-01", "amount": 10},
        {"customer_id": "a", "date": "2026-01-01", "amount": 5},
        {"customer_id": "a", "date": "2026-01-08", "amount": 20},
        {"customer_id": "a", "date": "2026-01-29", "amount": 40},
        {"customer_id": "b", "date": "2026-01-03", "amount": 15},
        {"customer_id": "c", "date": "2026-01-02", "amount": 8},
        {"customer_id": "c", "date": "2026-01-16", "amount": 12},
        {"customer_id": "c", "date": "2026-01-16", "amount": 3},
    ]
    params = {"transactions": tx, "calibration_end": "2026-01-22", "time_unit": "week", "discount_rate": 0.2}
    result = run_analysis("clv", params, None)
    rows = rows_by_id(result, "customer_id")
    got = {k: (r["x"], r["t_x"] * 7, r["T"] * 7, r["monetary"]) for k, r in rows.items()}
    assert got == {
        "a": (1, pytest.approx(7.0), pytest.approx(21.0), 20.0),
        "b": (0, 0.0, pytest.approx(19.0), 0.0),
        "c": (1, pytest.approx(14.0), pytest.approx(20.0), 15.0),
    }
    doc = result.to_dict()
    assert doc["holdout_end"] == "2026-01-29" and doc["holdout"]["actual"] == 1.0
    assert doc["discount_rate_per_unit"] == pytest.approx(per_unit_rate(0.2, "week"))
    csv = result.to_csv().splitlines()
    assert (
        csv[0]
        == '"customer_id","x","t_x","T","monetary","expected_purchases","p_alive","expected_spend","clv"'
    )
    assert len(csv) == 4


BASE = [
    {"customer_id": "a", "date": "2026-01-01", "amount": 1},
    {"customer_id": "a", "date": "2026-01-05", "amount": 2},
]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"transactions": [*BASE, {"customer_id": "b", "date": "2026-01-02", "amount": -1}]},
            "transactions[2].amount",
        ),
        (
            {"transactions": [*BASE, {"customer_id": "b", "date": "2026/01/02", "amount": 1}]},
            "transactions[2].date",
        ),
        (
            {"transactions": [*BASE, {"customer_id": "b", "date": "2026-02-30", "amount": 1}]},
            "transactions[2].date",
        ),
        (
            {"transactions": [{"customer_id": "", "date": "2026-01-02", "amount": 1}]},
            "transactions[0].customer_id",
        ),
        (
            {"transactions": [{"customer_id": "a", "date": "2026-01-02", "amount": "nan"}]},
            "transactions[0].amount",
        ),
        ({"transactions": []}, "transactions"),
        ({"transactions": BASE[:1]}, "transactions"),  # no repeat purchase: nothing to fit
        ({"transactions": BASE, "calibration_end": "2025-12-31"}, "calibration_end"),
        ({"transactions": BASE, "calibration_end": "2026-01-05", "holdout_end": "2026-01-04"}, "holdout_end"),
        ({"transactions": BASE, "time_unit": "year"}, "time_unit"),
        ({"transactions": BASE, "model": "lifetimes"}, "model"),
        ({"transactions": BASE, "horizon": 0}, "horizon"),
        ({"transactions": BASE, "discount_rate": -0.1}, "discount_rate"),
        ({"transactions": BASE, "limit": 3}, "limit"),
    ],
)
def test_bad_clv_input_names_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(AnalyticsError) as err:
        run_analysis("clv", params, None)
    assert err.value.field == field


def test_clv_without_orders_and_rfm_bad_date(warehouse: Warehouse) -> None:
    src = warehouse.load(events=[(1, "Page Viewed", day(0))])
    with pytest.raises(AnalyticsError, match="no orders"):
        run_analysis("clv", {}, src, use_cache=False)
    assert run_analysis("rfm", {}, src, use_cache=False).to_dict()["customers"] == 0
    with pytest.raises(AnalyticsError) as err:
        run_analysis("rfm", {"as_of": "20260101"}, src)
    assert err.value.field == "as_of"


def test_order_amounts_count_only_in_json_number_syntax(warehouse: Warehouse) -> None:
    """Testers found "05", "+5", ".5", "5." and " 5" summed as numbers (docs/segments.md: a text
    is a number only in JSON's syntax); "1e400" must neither be infinite nor fail PostgreSQL."""
    junk = ["05", "+5", ".5", "5.", " 5", "1e400", "1e-400"]
    events = [(1, "Order Completed", day(0), {"amount": 10})]
    events += [(1, "Order Completed", day(i + 1), {"amount": text}) for i, text in enumerate(junk)]
    events += [(2, "Order Completed", day(1), {"amount": "2.5e1"})]
    result = run_analysis("rfm", {"as_of": "2026-01-20"}, warehouse.load(events), use_cache=False)
    rows = rows_by_id(result, "contact_id")
    assert (rows[1]["orders"], rows[1]["revenue"]) == (8, 10.0)
    assert rows[2]["revenue"] == 25.0
