"""`siyu analytics attribution` and `siyu analytics experiment` as scripts use them: the JSON
contracts of the issue, files in and clean errors out. Expected numbers are worked out here
(by hand, or with SciPy for the test statistics)."""

from __future__ import annotations

import base64
import csv
import math
from pathlib import Path

import pytest
from scipy import stats
from tests.cli.conftest import Cli, cli_env, squash
from tests.conftest import SHARED_DATA

from siyu.analytics.base import AnalyticsError
from siyu.analytics.experiments.inputs import read_values_csv
from siyu.config import Settings

KEY = base64.b64encode(b"a" * 32).decode()


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    settings = Settings(data_dir=tmp_path / "cli-data", database_url=db_url, secret_key=KEY)
    return Cli(cli_env(settings), ("analytics",))


def test_attribution_markov_json_contract(cli: Cli, tmp_path: Path) -> None:
    # two channels, solvable by hand (see tests/analytics/test_attribution.py): effects 1/3 and 1
    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path;total_conversions;total_conversion_value;total_null\na > b;1;10;0\na;0;0;1\nb;1;6;1\n"
    )
    got = cli.json("attribution", "--paths", str(paths), "--model", "markov")
    assert [(e["channel"], e["conversions"], e["value"]) for e in got] == [
        ("b", pytest.approx(1.5), pytest.approx(12)),
        ("a", pytest.approx(0.5), pytest.approx(4)),
    ]


def test_attribution_on_the_reference_paths(cli: Cli) -> None:
    reference = SHARED_DATA / "attribution_paths.csv"
    with reference.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    conversions = sum(float(r["total_conversions"]) for r in rows)
    value = sum(float(r["total_conversion_value"]) for r in rows)
    channels = {c.strip() for r in rows for c in r["path"].split(">")}
    got = cli.json("attribution", "--paths", str(reference), "--model", "markov")
    assert {e["channel"] for e in got} == channels
    assert sum(e["conversions"] for e in got) == pytest.approx(conversions)
    assert sum(e["value"] for e in got) == pytest.approx(value)
    everything = cli.json("attribution", "--paths", str(reference), "--model", "all")
    assert everything["models"]["markov"] == got
    table = cli("attribution", "--paths", str(reference), "--model", "all", "--csv").stdout.splitlines()
    assert table[0].startswith('"channel","first_touch_conversions"') and len(table) == len(channels) + 1


def test_attribution_bad_file_names_the_row(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,total_conversions\na > b,1\nc,lots\n")
    assert "bad.csvrow2(line3).total_conversions" in squash(cli.fails("attribution", "--paths", str(bad)))
    good = tmp_path / "good.csv"
    good.write_text("path,total_conversions\na > b,1\n")
    assert "model:" in squash(cli.fails("attribution", "--paths", str(good), "--model", "random"))
    missing = squash(cli.fails("attribution", "--paths", str(tmp_path / "missing.csv")))
    assert "missing.csv" in missing


def test_attribution_from_an_empty_warehouse(cli: Cli) -> None:
    assert cli.json("attribution", "--model", "linear", "--from", "2026-01-01") == []


def test_experiment_json_contract_matches_scipy(cli: Cli) -> None:
    got = cli.json("experiment", "--control", "1000,100", "--treatment", "1000,130")
    p1, p2 = 0.1, 0.13
    ref = stats.ttest_ind_from_stats(
        p2, math.sqrt(p2 * (1 - p2)), 1000, p1, math.sqrt(p1 * (1 - p1)), 1000, equal_var=False
    )
    assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    var = p2 * (1 - p2) / (1000 * p1**2) + p1 * (1 - p1) * p2**2 / (1000 * p1**4)
    assert got["chance_to_win"] == pytest.approx(stats.norm.cdf(0.3 / math.sqrt(var)), rel=1e-10)
    lo, hi = got["ci"]
    assert (lo + hi) / 2 == pytest.approx(0.3)
    assert got["srm_p_value"] == pytest.approx(1.0)
    assert [v["name"] for v in got["variants"]] == ["control", "treatment"]


def test_experiment_mean_metric_arms_weights_and_prior(cli: Cli) -> None:
    got = cli.json("experiment", "--metric", "mean", "--control", "400,52,20", "--treatment", "B:380,55.5,26")
    ref = stats.ttest_ind_from_stats(55.5, 26, 380, 52, 20, 400, equal_var=False)
    assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert got["variants"][1]["name"] == "B"
    multi = cli.json(
        "experiment",
        "--control",
        "5000,500",
        "--treatment",
        "2600,280",
        "--treatment",
        "2400,250",
        "--weights",
        "50,25,25",
        "--alpha",
        "0.1",
        "--proper-prior",
    )
    assert "p_value" not in multi
    assert [v["name"] for v in multi["variants"]] == ["control", "treatment_1", "treatment_2"]
    assert multi["srm_p_value"] == pytest.approx(
        stats.chisquare([5000, 2600, 2400], [5000, 2500, 2500]).pvalue
    )
    assert multi["prior"]["proper"] is True and multi["alpha"] == 0.1


def test_experiment_from_a_file_with_cuped(cli: Cli, tmp_path: Path) -> None:
    values = tmp_path / "users.csv"
    rows = ["variant,value,pre_value"]
    for i in range(40):
        pre = 10 + (i % 7)
        rows.append(f"control,{pre * 0.9 + (i % 3)},{pre}")
        rows.append(f"new,{pre * 0.9 + (i % 3) + 1},{pre + (i % 2)}")
    values.write_text("\n".join(rows) + "\n")
    got = cli.json("experiment", "--file", str(values))
    assert got["metric"] == "mean" and got["cuped"]["theta"] != 0
    assert got["cuped"]["variance_reduction"] > 0
    text = cli("experiment", "--file", str(values)).stdout
    assert "SRM p-value" in text and "CUPED" in text


def test_experiment_table_says_significant_only_when_the_intervals_exclude_zero(cli: Cli) -> None:
    text = squash(cli("experiment", "--control", "1000,100", "--treatment", "1000,130").stdout, " ")
    assert "treatment: not significant 不显著 at alpha 0.05" in text and "includes 0" in text
    assert "30.0%" in text  # the lift, as a percentage
    clear = squash(cli("experiment", "--control", "1000,100", "--treatment", "1000,160").stdout, " ")
    assert "treatment: significant 显著" in clear


def test_experiment_errors(cli: Cli) -> None:
    assert "variants[0].conversions" in squash(
        cli.fails("experiment", "--control", "100,120", "--treatment", "100,5")
    )
    assert "--control" in squash(cli.fails("experiment", "--control", "abc", "--treatment", "100,5"))
    assert "--treatment" in squash(cli.fails("experiment", "--control", "100,10"))
    assert "weights" in squash(
        cli.fails("experiment", "--control", "100,10", "--treatment", "100,5", "--weights", "1,1,1")
    )


def test_reading_per_user_values() -> None:
    text = "variant,value,pre_value\nB,1.5,1\ncontrol,2,1.5\nB,3,2\ncontrol,1,0.5\n"
    variants = read_values_csv(text)
    assert variants == [
        {"name": "control", "values": [2.0, 1.0], "pre_values": [1.5, 0.5]},
        {"name": "B", "values": [1.5, 3.0], "pre_values": [1.0, 2.0]},
    ]
    with pytest.raises(AnalyticsError) as err:
        read_values_csv("variant,value\nA,x\n")
    assert err.value.field == "values row 1 (line 2).value"
