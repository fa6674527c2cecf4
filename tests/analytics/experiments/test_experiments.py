"""A/B statistics against independent references: SciPy's Welch test and chi-square, the
delta-method formula written out, Monte Carlo for chance to win and risk, and CUPED on simulated
correlated data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from siyu.analytics.base import AnalyticsError
from siyu.analytics.experiments.runner import (
    ExperimentParams,
    ExperimentRunner,
    compare_variants,
)


def run(params: dict[str, Any]) -> dict[str, Any]:
    return ExperimentRunner(params).run().to_dict()


def test_conversion_metric_welch_p_value_and_absolute_ci_match_scipy() -> None:
    report = compare_variants(
        [{"name": "control", "n": 1000, "conversions": 100}, {"name": "new", "n": 1050, "conversions": 136}]
    )
    p1, p2 = 100 / 1000, 136 / 1050
    ref = stats.ttest_ind_from_stats(
        p2, math.sqrt(p2 * (1 - p2)), 1050, p1, math.sqrt(p1 * (1 - p1)), 1000, equal_var=False
    )
    assert report["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert report["absolute_effect"] == pytest.approx(p2 - p1)
    # Welch–Satterthwaite df and the CI of the difference, written out
    va, vb = p1 * (1 - p1) / 1000, p2 * (1 - p2) / 1050
    df = (va + vb) ** 2 / (va**2 / 999 + vb**2 / 1049)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert report["absolute_ci"] == pytest.approx([p2 - p1 - half, p2 - p1 + half], rel=1e-10)
    assert report["variants"][1]["df"] == pytest.approx(df)
    # significant needs the lift's interval to exclude 0 too (see the test below)
    assert report["significant"] == bool(ref.pvalue < 0.05 and report["ci"][0] > 0)


def test_mean_metric_from_summaries_and_from_raw_values_match_scipy() -> None:
    report = run(
        {
            "metric": "mean",
            "variants": [
                {"name": "control", "n": 400, "mean": 52.0, "sd": 20.0},
                {"name": "t", "n": 380, "mean": 55.5, "sd": 26.0},
            ],
        }
    )
    ref = stats.ttest_ind_from_stats(55.5, 26.0, 380, 52.0, 20.0, 400, equal_var=False)
    assert report["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)

    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, 10.0, 300), rng.gamma(2.2, 10.0, 250)
    raw = run(
        {
            "metric": "mean",
            "variants": [{"name": "a", "values": a.tolist()}, {"name": "b", "values": b.tolist()}],
        }
    )
    ref_raw = stats.ttest_ind(b, a, equal_var=False)
    assert raw["p_value"] == pytest.approx(ref_raw.pvalue, rel=1e-8)
    ci = ref_raw.confidence_interval(0.95)
    assert raw["absolute_ci"] == pytest.approx([ci.low, ci.high], rel=1e-8)
    # sufficient statistics give the same answer as the values
    sums = run(
        {
            "metric": "mean",
            "variants": [
                {"name": "a", "n": 300, "sum": float(a.sum()), "sum_squares": float((a**2).sum())},
                {"name": "b", "n": 250, "sum": float(b.sum()), "sum_squares": float((b**2).sum())},
            ],
        }
    )
    assert sums["p_value"] == pytest.approx(raw["p_value"], rel=1e-8)


def test_relative_ci_by_the_delta_method() -> None:
    report = run(
        {
            "metric": "mean",
            "alpha": 0.1,
            "variants": [
                {"name": "control", "n": 200, "mean": 10.0, "sd": 4.0},
                {"name": "t", "n": 250, "mean": 11.0, "sd": 5.0},
            ],
        }
    )
    # var(m_b/m_a) ≈ s_b²/(n_b m_a²) + s_a² m_b²/(n_a m_a⁴)
    var = 25 / (250 * 100) + 16 * 121 / (200 * 10_000)
    df = (16 / 200 + 25 / 250) ** 2 / ((16 / 200) ** 2 / 199 + (25 / 250) ** 2 / 249)
    half = stats.t.ppf(0.95, df) * math.sqrt(var)
    assert report["lift"] == pytest.approx(0.1)
    assert report["ci"] == pytest.approx([0.1 - half, 0.1 + half], rel=1e-10)


def test_chance_to_win_and_risk_against_monte_carlo() -> None:
    n_a, x_a, n_b, x_b = 5000, 400, 5000, 445
    report = compare_variants(
        [{"name": "A", "n": n_a, "conversions": x_a}, {"name": "B", "n": n_b, "conversions": x_b}]
    )
    pa_, pb_ = x_a / n_a, x_b / n_b
    rng = np.random.default_rng(11)
    draws = 400_000
    # sampling distributions of the two rates; the lift is their ratio minus one
    ma = rng.normal(pa_, math.sqrt(pa_ * (1 - pa_) / n_a), draws)
    mb = rng.normal(pb_, math.sqrt(pb_ * (1 - pb_) / n_b), draws)
    lift = mb / ma - 1
    assert report["chance_to_win"] == pytest.approx(float(np.mean(lift > 0)), abs=0.01)
    # and the Gaussian approximation's closed form exactly
    var = pb_ * (1 - pb_) / (n_b * pa_**2) + pa_ * (1 - pa_) * pb_**2 / (n_a * pa_**4)
    mu = pb_ / pa_ - 1
    assert report["chance_to_win"] == pytest.approx(stats.norm.cdf(mu / math.sqrt(var)), rel=1e-12)
    # risk = expected loss under that Gaussian: E[max(−Δ, 0)] shipping B, E[max(Δ, 0)] keeping A
    delta = rng.normal(mu, math.sqrt(var), draws)
    assert report["risk"] == pytest.approx(float(np.mean(np.maximum(-delta, 0))), rel=0.02)
    assert report["risk_control"] == pytest.approx(float(np.mean(np.maximum(delta, 0))), rel=0.01)


def test_proper_prior_shrinks_the_lift() -> None:
    variants = [{"name": "A", "n": 800, "conversions": 80}, {"name": "B", "n": 800, "conversions": 100}]
    flat = compare_variants(variants)
    proper = compare_variants(variants, prior={"proper": True, "mean": 0.0, "variance": 0.01})
    lift = 0.25
    var = 0.125 * 0.875 / (800 * 0.01) + 0.1 * 0.9 * 0.125**2 / (800 * 0.1**4)
    post_var = 1 / (1 / var + 1 / 0.01)
    post_mean = post_var * (lift / var + 0.0)
    assert flat["variants"][1]["expected_lift"] == pytest.approx(lift)
    assert proper["variants"][1]["expected_lift"] == pytest.approx(post_mean)
    assert proper["chance_to_win"] == pytest.approx(stats.norm.cdf(post_mean / math.sqrt(post_var)))
    z = stats.norm.ppf(0.975)
    assert proper["credible_interval"] == pytest.approx(
        [post_mean - z * math.sqrt(post_var), post_mean + z * math.sqrt(post_var)]
    )
    assert proper["chance_to_win"] < flat["chance_to_win"]


def test_sample_ratio_mismatch_against_scipy() -> None:
    variants = [
        {"name": "A", "n": 5000, "conversions": 500},
        {"name": "B", "n": 5300, "conversions": 520},
        {"name": "C", "n": 4700, "conversions": 480},
    ]
    report = compare_variants(variants)
    ref = stats.chisquare([5000, 5300, 4700])
    assert report["srm_p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert report["srm_flag"] is True  # p ≈ 1e-6
    # the planned split 1:1:2 (as percentages)
    report = compare_variants(
        [*variants[:2], {"name": "C", "n": 10_100, "conversions": 900}], weights=[25, 25, 50]
    )
    ref = stats.chisquare([5000, 5300, 10_100], f_exp=[5100, 5100, 10_200])
    assert report["srm_p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert report["srm_flag"] is False
    # three arms: each treatment against the control, no top-level comparison
    assert "p_value" not in report
    assert [v["name"] for v in report["variants"]] == ["A", "B", "C"]
    assert report["variants"][0].get("p_value") is None
    assert report["variants"][2]["lift"] == pytest.approx((900 / 10_100) / 0.1 - 1)


def simulate(rng: np.random.Generator, n: int, effect: float) -> list[dict[str, Any]]:
    """Pre-period metric and a post-period metric correlated with it (ρ ≈ 0.85)."""
    out = []
    for name, lift in (("control", 0.0), ("treatment", effect)):
        pre = rng.normal(100, 20, n)
        post = 0.8 * pre + rng.normal(0, 10, n) + lift
        out.append({"name": name, "values": post.tolist(), "pre_values": pre.tolist()})
    return out


def test_cuped_reduces_the_variance_without_bias() -> None:
    rng = np.random.default_rng(2024)
    variants = simulate(rng, 2000, 2.0)
    adjusted = compare_variants(variants, metric="mean")
    plain = compare_variants([{"name": v["name"], "values": v["values"]} for v in variants], metric="mean")
    pre = np.concatenate([v["pre_values"] for v in variants])
    post = np.concatenate([v["values"] for v in variants])
    theta = np.cov(pre, post)[0, 1] / np.var(pre, ddof=1)
    assert adjusted["cuped"]["theta"] == pytest.approx(theta, rel=1e-9)
    width = adjusted["absolute_ci"][1] - adjusted["absolute_ci"][0]
    plain_width = plain["absolute_ci"][1] - plain["absolute_ci"][0]
    assert width < 0.6 * plain_width
    assert adjusted["cuped"]["variance_reduction"] == pytest.approx(1 - (width / plain_width) ** 2, rel=1e-3)
    # the adjusted estimate: difference of post means minus θ times the difference of pre means
    a, b = variants
    by_hand = (np.mean(b["values"]) - np.mean(a["values"])) - theta * (
        np.mean(b["pre_values"]) - np.mean(a["pre_values"])
    )
    assert adjusted["absolute_effect"] == pytest.approx(by_hand, rel=1e-9)
    # unbiased: averaged over many experiments, the adjusted effect is the true one
    effects = [
        compare_variants(simulate(rng, 200, 2.0), metric="mean")["absolute_effect"] for _ in range(200)
    ]
    se = np.std(effects) / math.sqrt(len(effects))
    assert abs(np.mean(effects) - 2.0) < 4 * se


def test_cuped_from_sufficient_statistics_equals_raw_values() -> None:
    rng = np.random.default_rng(5)
    variants = simulate(rng, 300, 1.0)
    raw = compare_variants(variants, metric="mean")
    sums = []
    for v in variants:
        x, y = np.array(v["values"]), np.array(v["pre_values"])
        sums.append(
            {
                "name": v["name"],
                "n": len(x),
                "sum": float(x.sum()),
                "sum_squares": float((x * x).sum()),
                "pre_sum": float(y.sum()),
                "pre_sum_squares": float((y * y).sum()),
                "sum_products": float((x * y).sum()),
            }
        )
    agg = compare_variants(sums, metric="mean")
    for key in ("p_value", "absolute_effect", "lift", "chance_to_win"):
        assert agg[key] == pytest.approx(raw[key], rel=1e-7)


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        (
            [{"name": "A", "n": 100, "conversions": 10}, {"name": "B", "n": 100, "conversions": 120}],
            "variants[1].conversions",
        ),
        (
            [{"name": "A", "n": -5, "conversions": 0}, {"name": "B", "n": 100, "conversions": 1}],
            "variants[0].n",
        ),
        ([{"name": "A", "n": 100, "conversions": 10}], "variants"),
        ([{"name": "A", "n": 100, "conversions": 10}, {"name": "A", "n": 90, "conversions": 9}], "variants"),
        ([{"name": "A", "values": [0, 1, 2]}, {"name": "B", "values": [1, 0]}], "variants[0].values"),
        ([{"name": "A", "n": 100}, {"name": "B", "n": 100, "conversions": 3}], "variants[0].conversions"),
    ],
)
def test_bad_input_names_the_field(variants: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(AnalyticsError) as err:
        compare_variants(variants, metric="conversion")
    assert err.value.field == field


def test_other_bad_input() -> None:
    two = [{"name": "A", "n": 100, "conversions": 10}, {"name": "B", "n": 100, "conversions": 12}]
    with pytest.raises(AnalyticsError) as err:
        compare_variants(two, weights=[1, 1, 1])
    assert err.value.field == "weights"
    with pytest.raises(AnalyticsError) as err:
        compare_variants(
            [
                {"name": "A", "values": [1.0, 2.0], "pre_values": [1.0, 1.0]},
                {"name": "B", "values": [1.0, 3.0]},
            ]
        )
    assert err.value.field == "variants[1]"
    with pytest.raises(AnalyticsError) as err:
        run(
            {
                "metric": "mean",
                "variants": [{"name": "A", "n": 10, "mean": 1}, {"name": "B", "n": 10, "mean": 2}],
            }
        )
    assert err.value.field == "variants[0].sd"
    with pytest.raises(AnalyticsError) as err:
        run({"variants": two, "alpha": 1.5})
    assert err.value.field == "alpha"


def test_undefined_results_are_null_with_a_note() -> None:
    report = compare_variants(
        [{"name": "A", "n": 500, "conversions": 0}, {"name": "B", "n": 500, "conversions": 4}]
    )
    assert report["lift"] is None and report["ci"] is None and report["chance_to_win"] is None
    assert report["p_value"] is not None  # the absolute difference is still tested
    assert "control" in report["variants"][1]["note"]
    report = compare_variants(
        [{"name": "A", "n": 1, "conversions": 0}, {"name": "B", "n": 0, "conversions": 0}]
    )
    assert report["p_value"] is None and report["srm_p_value"] == pytest.approx(
        stats.chisquare([1, 0]).pvalue
    )


def test_result_frame_and_figure() -> None:
    result = ExperimentRunner(
        ExperimentParams.model_validate(
            {
                "variants": [
                    {"name": "A", "n": 1000, "conversions": 100},
                    {"name": "B", "n": 1000, "conversions": 120},
                ]
            }
        )
    ).run()
    frame = result.to_pandas()
    assert list(frame["variant"]) == ["A", "B"]
    assert frame["lift"].iloc[1] == pytest.approx(0.2)
    assert len(result.figure().data) == 1


def test_significant_only_when_the_reported_intervals_exclude_zero() -> None:
    """The case of the issue: 10% vs 13% of 1,000 each has Welch p ≈ 0.035 < 0.05, but the lift's
    delta-method interval (≈ [-0.02, 0.62]) includes 0, so it is not called significant."""
    variants = [
        {"name": "control", "n": 1000, "conversions": 100},
        {"name": "new", "n": 1000, "conversions": 130},
    ]
    report = compare_variants(variants)
    assert report["p_value"] < 0.05
    low, high = report["ci"]
    assert low < 0 < high
    assert report["absolute_ci"][0] > 0
    assert report["significant"] is False
    assert "includes 0" in report["variants"][1]["note"]
    # a clearer win: both intervals exclude 0, and it is significant
    variants[1]["conversions"] = 160
    clear = compare_variants(variants)
    assert clear["ci"][0] > 0 and clear["absolute_ci"][0] > 0 and clear["significant"] is True
    # the same rule for every treatment of a multi-arm test
    arms = compare_variants([*variants[:1], {"name": "b", "n": 1000, "conversions": 130}, variants[1]])
    assert [v["significant"] for v in arms["variants"][1:]] == [False, True]
