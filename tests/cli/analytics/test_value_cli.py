"""`siyu analytics clv` and `siyu analytics rfm` as operators run them (Typer's runner, SIYU_*
variables pointing at the test database).

The CDNOW reproduction goes through the CLI contract: the test converts the raw CDNOW sample
(customer, id, yyyymmdd, CDs, amount) into ``customer_id,date,amount`` and expects the published
BG/NBD, Gamma-Gamma and Pareto/NBD estimates; the holdout count is worked out here from the raw
file. Warehouse cases use orders written through the Python API with numbers worked out by hand.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, cli_env, squash

from siyu.client import Siyu
from siyu.context import AppContext

_SPEC = importlib.util.find_spec("lifetimes")
CDNOW = (
    Path(_SPEC.submodule_search_locations[0]) / "datasets" / "CDNOW_sample.txt"
    if _SPEC and _SPEC.submodule_search_locations
    else None
)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def sig3(value: float) -> str:
    return f"{value:.3g}"


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings), ("analytics",))


@pytest.fixture
def cdnow_csv(tmp_path: Path) -> Path:
    if CDNOW is None:
        pytest.skip("the lifetimes package (CDNOW data) is not installed")
    lines = ["customer_id,date,amount"]
    for raw in CDNOW.read_text().splitlines():
        _customer, ident, day, _cds, amount = raw.split()
        lines.append(f"{ident},{day[:4]}-{day[4:6]}-{day[6:]},{amount}")
    path = tmp_path / "cdnow.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def holdout_purchase_days() -> int:
    """Distinct (customer, day) pairs after the 39-week calibration period, from the raw file."""
    assert CDNOW is not None
    days = {(row.split()[1], row.split()[2]) for row in CDNOW.read_text().splitlines()}
    return sum(1 for _, day in days if day > "19970930")


def test_cdnow_reproduction_through_the_cli(cli: Cli, cdnow_csv: Path) -> None:
    args = ("clv", "--transactions", str(cdnow_csv), "--calibration-end", "1997-09-30", "--time-unit", "week")
    doc = cli.json(*args)
    assert [sig3(doc[k]) for k in ("r", "alpha", "a", "b")] == ["0.243", "4.41", "0.793", "2.43"]
    assert doc["bgnbd_log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert [sig3(doc[k]) for k in ("p", "q", "v")] == ["6.25", "3.74", "15.4"]
    assert doc["gamma_gamma_log_likelihood"] < 0 and doc["gamma_gamma_customers"] == 946
    pn = doc["pareto_nbd"]
    assert [sig3(pn[k]) for k in ("r", "alpha", "s", "beta")] == ["0.553", "10.6", "0.606", "11.7"]
    assert (doc["customers"], doc["repeat_customers"], doc["model"]) == (2357, 946, "bgnbd")
    assert doc["converged"] and doc["warnings"] == []
    holdout = doc["holdout"]
    assert (holdout["start"], holdout["end"], holdout["length"]) == ("1997-10-01", "1998-06-30", 39.0)
    assert holdout["actual"] == holdout_purchase_days()
    assert sum(g["customers"] for g in holdout["by_frequency"]) == 2357
    assert len(doc["top"]) == 10
    assert [r["clv"] for r in doc["top"]] == sorted((r["clv"] for r in doc["top"]), reverse=True)

    table = cli(*args, "--csv").stdout.splitlines()
    assert (
        table[0]
        == '"customer_id","x","t_x","T","monetary","expected_purchases","p_alive","expected_spend","clv"'
    )
    assert len(table) == 1 + 2357
    assert table[1].startswith(f'"{doc["top"][0]["customer_id"]}"')

    text = cli(*args, "--top", "3").stdout
    assert "BG/NBD r=0.2426 alpha=4.414" in text and "Holdout 1997-10-01..1998-06-30" in text

    pareto = cli.json(*args, "--model", "pareto-nbd", "--top", "0", "--horizon", "10", "--discount-rate", "0")
    assert (pareto["model"], pareto["top"], pareto["horizon"], pareto["discount_rate_per_unit"]) == (
        "pareto-nbd",
        [],
        10,
        0.0,
    )
    assert pareto["r"] == pytest.approx(doc["r"])  # BG/NBD is reported either way


def test_bad_transaction_files_fail_with_the_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\na,2026-01-01,10\na,2026-01-08,ten\n")
    message = squash(cli.fails("clv", "--transactions", str(bad)), " ")
    assert f"{bad} line 3: transactions[1].amount:" in message
    bad.write_text("customer_id,date,amount\na,01/08/2026,1\n")
    message = squash(cli.fails("clv", "--transactions", str(bad)), " ")
    assert "line 2: transactions[0].date:" in message and "expected a date as YYYY-MM-DD" in message
    bad.write_text("customer,date,amount\na,2026-01-01,1\n")
    assert "missing column(s) customer_id" in squash(cli.fails("clv", "--transactions", str(bad)), " ")
    assert "No such file" in squash(cli.fails("clv", "--transactions", str(tmp_path / "nowhere.csv")), " ")
    bad.write_text("customer_id,date,amount\na,2026-01-01,1\nb,2026-01-02,1\n")
    assert "no customer has a repeat purchase" in squash(cli.fails("clv", "--transactions", str(bad)), " ")
    assert "model" in squash(cli.fails("clv", "--transactions", str(bad), "--model", "lifetimes"), " ")


def test_rfm_and_clv_from_the_warehouse(ctx: AppContext, cli: Cli) -> None:
    """u1: orders on days 0 (10 and 5, the same day), 7 (20), 14 (30); u2: day 3 (15);
    u3: days 1 (8) and 10 (12). As of day 14: u1 x = 2, recency 14, T 14, monetary 25, 4 orders."""
    orders = {"u1": [(0, 10), (0.1, 5), (7, 20), (14, 30)], "u2": [(3, 15)], "u3": [(1, 8), (10, 12)]}
    calls = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": uid,
            "properties": {"amount": amount},
            "timestamp": (T0 + timedelta(days=d)).isoformat(),
            "messageId": f"{uid}-{k}",
        }
        for uid, rows in orders.items()
        for k, (d, amount) in enumerate(rows)
    ]
    assert Siyu(ctx).batch(calls).rejected == []
    doc = cli.json("rfm")
    assert (doc["as_of"], doc["customers"], doc["repeat_customers"], doc["orders"]) == ("2026-03-16", 3, 2, 7)
    summary = sorted(
        (c["frequency"], c["recency"], c["T"], c["monetary"], c["orders"]) for c in doc["contacts"]
    )
    assert summary == [(0, 0.0, 11.0, 0.0, 1), (1, 9.0, 13.0, 12.0, 2), (2, 14.0, 14.0, 25.0, 4)]
    weeks = cli.json("rfm", "--as-of", "2026-03-09", "--time-unit", "week")
    assert sorted(c["frequency"] for c in weeks["contacts"]) == [0, 0, 1]  # day 7: u1 days 0 and 7
    csv = cli("rfm", "--csv").stdout.splitlines()
    assert csv[0].startswith('"contact_id","first_order","last_order","orders","revenue","frequency"')
    assert len(csv) == 4

    clv = cli.json("clv", "--time-unit", "day", "--calibration-end", "2026-03-12")
    assert clv["customers"] == 3 and clv["holdout"]["actual"] == 1  # u1's day 14
    assert clv["warnings"][0] == "only 3 customers: the estimates are unreliable"
    assert "calibration_end: is before the first purchase" in squash(
        cli.fails("clv", "--calibration-end", "2020-01-01"), " "
    )
