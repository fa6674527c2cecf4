"""A/B experiments: the statistics an operations team decides on, as pure functions plus the
``experiment`` runner (its parameters carry all the data; no warehouse).

For each treatment against the control (the first variant), on a conversion or a mean metric:

* **frequentist** — Welch's t-test on the difference of means (two-sided p-value,
  Welch–Satterthwaite degrees of freedom), the absolute effect with its CI, and the relative
  effect (lift) with a CI from the delta method, as GrowthBook's frequentist engine computes it;
* **Bayesian** — a Gaussian approximation of the relative effect (the same delta-method
  variance), with a flat (improper) prior or a proper Gaussian prior on the relative scale
  (GrowthBook's default: mean 0, variance 0.3²): chance to win ``P(lift > 0)``, the risk
  (expected loss) of shipping the treatment and of keeping the control, a credible interval;
* **sample-ratio mismatch** — a chi-square goodness-of-fit test of the users per variant
  against the planned split (flagged below p = 0.001: the assignment is broken, the results
  should not be trusted);
* **CUPED** — when pre-period data are given: ``θ = cov(pre, post) / var(pre)`` over the users
  of all variants pooled, each variant's mean adjusted by ``−θ · mean(pre)`` and its variance
  reduced to ``var(post) + θ² var(pre) − 2θ cov(pre, post)``.

Conversion metrics use the variance ``p(1 − p)`` of a proportion (population moments, as
GrowthBook); mean metrics the sample variance. Definitions: ``docs/analytics/experiments.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, ValidationError
from scipy import stats

from siyu.analytics.base import AnalyticsError, Params, QueryRunner, params_error, register
from siyu.analytics.result import AnalysisResult

if TYPE_CHECKING:
    import plotly.graph_objects as go

SRM_THRESHOLD = 0.001
#: What each treatment reports against the control (also at the top level with one treatment).
COMPARISON = (
    "p_value",
    "significant",
    "ci",
    "lift",
    "absolute_effect",
    "absolute_ci",
    "df",
    "relative_p_value",
    "chance_to_win",
    "risk",
    "risk_control",
    "expected_lift",
    "credible_interval",
)


# --- parameters ----------------------------------------------------------------------------------------
class Prior(Params):
    """Prior of the relative effect (lift) for the Bayesian results."""

    proper: bool = Field(default=False, description="False: flat (improper) prior. 无信息先验。")
    mean: float = Field(default=0.0, allow_inf_nan=False, description="Prior mean of the lift.")
    variance: float = Field(default=0.09, gt=0, allow_inf_nan=False, description="Prior variance (0.3²).")


class VariantIn(Params):
    """One variant: summary statistics, sufficient statistics or raw per-user values."""

    name: str = Field(min_length=1, description="Variant name; the first variant is the control.")
    n: int | None = Field(default=None, ge=0, description="Users in the variant. 用户数。")
    conversions: float | None = Field(default=None, ge=0, description="Converted users (conversion metric).")
    mean: float | None = Field(default=None, allow_inf_nan=False, description="Mean per user (mean metric).")
    sd: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Standard deviation.")
    sum: float | None = Field(default=None, allow_inf_nan=False, description="Sum of the metric.")
    sum_squares: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Sum of squares.")
    values: list[float] | None = Field(default=None, description="Raw per-user values.")
    pre_values: list[float] | None = Field(
        default=None, description="Per-user pre-period values (CUPED), in the order of `values`."
    )
    pre_sum: float | None = Field(default=None, allow_inf_nan=False, description="Sum of the pre metric.")
    pre_sum_squares: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    sum_products: float | None = Field(
        default=None, allow_inf_nan=False, description="Sum over users of pre × post (CUPED)."
    )


class ExperimentParams(Params):
    metric: Literal["conversion", "mean"] = Field(default="conversion", description="Metric type.")
    variants: list[VariantIn] = Field(min_length=2, description="Control first, then the treatments.")
    weights: list[float] | None = Field(
        default=None, description="Planned split (any scale, e.g. 50, 50); equal when omitted."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="1 − confidence level.")
    prior: Prior = Field(default_factory=Prior, description="Prior of the lift (Bayesian results).")


# --- statistics ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one variant (``pre*`` only with pre-period data)."""

    n: float
    sum: float
    sum_squares: float
    proportion: bool
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    sum_products: float | None = None

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def pre_mean(self) -> float:
        return (self.pre_sum or 0.0) / self.n if self.n else 0.0

    def _moment(self, ss: float, a: float, b: float) -> float:
        """Central second moment: population (proportions, as GrowthBook) or sample (means)."""
        if self.n <= 1:
            return 0.0
        if self.proportion:
            return ss / self.n - (a / self.n) * (b / self.n)
        return (ss - a * b / self.n) / (self.n - 1)

    @property
    def variance(self) -> float:
        return max(self._moment(self.sum_squares, self.sum, self.sum), 0.0)

    @property
    def pre_variance(self) -> float:
        assert self.pre_sum is not None and self.pre_sum_squares is not None
        return max(self._moment(self.pre_sum_squares, self.pre_sum, self.pre_sum), 0.0)

    @property
    def covariance(self) -> float:
        assert self.pre_sum is not None and self.sum_products is not None
        return self._moment(self.sum_products, self.sum, self.pre_sum)

    def __add__(self, other: Moments) -> Moments:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Moments(
            self.n + other.n,
            self.sum + other.sum,
            self.sum_squares + other.sum_squares,
            self.proportion,
            add(self.pre_sum, other.pre_sum),
            add(self.pre_sum_squares, other.pre_sum_squares),
            add(self.sum_products, other.sum_products),
        )


def cuped_theta(variants: list[Moments]) -> float:
    """``cov(pre, post) / var(pre)`` over every user of every variant (0 without variation)."""
    joint = variants[0]
    for v in variants[1:]:
        joint = joint + v
    if joint.pre_variance <= 0 or joint.variance <= 0:
        return 0.0
    return joint.covariance / joint.pre_variance


@dataclass(frozen=True)
class Arm:
    """A variant ready to compare: (adjusted) mean and variance, unadjusted mean."""

    n: float
    mean: float
    variance: float
    raw_mean: float


def arm(m: Moments, theta: float | None) -> Arm:
    if theta is None:
        return Arm(m.n, m.mean, m.variance, m.mean)
    variance = m.variance + theta**2 * m.pre_variance - 2 * theta * m.covariance
    return Arm(m.n, m.mean - theta * m.pre_mean, max(variance, 0.0), m.mean)


def welch(a: Arm, b: Arm, alpha: float) -> dict[str, Any]:
    """Welch's t-test of ``b − a``: effect, its variance, df, p-value and CI."""
    va, vb = a.variance / a.n, b.variance / b.n
    var = va + vb
    effect = b.mean - a.mean
    if var <= 0:
        return {"absolute_effect": effect, "p_value": None, "df": None, "absolute_ci": None, "se": 0.0}
    df = var**2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    t_stat = effect / math.sqrt(var)
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    width = crit * math.sqrt(var)
    return {
        "absolute_effect": effect,
        "p_value": float(2 * stats.t.sf(abs(t_stat), df)),
        "df": df,
        "t": t_stat,
        "absolute_ci": [effect - width, effect + width],
        "se": math.sqrt(var),
        "crit": crit,
    }


def relative_variance(a: Arm, b: Arm) -> float:
    """Delta-method variance of ``mean_b / mean_a − 1`` (independent arms; unadjusted means,
    adjusted variances, as GrowthBook): ``v_b/(n_b m_a²) + v_a m_b²/(n_a m_a⁴)``."""
    return b.variance / (b.n * a.raw_mean**2) + a.variance * b.raw_mean**2 / (a.n * a.raw_mean**4)


def bayes(lift: float, variance: float, prior: Prior, alpha: float) -> dict[str, Any]:
    """Posterior of the lift ~ N(μ, σ²) from the Gaussian likelihood N(lift, variance) and the
    prior; chance to win ``P(Δ > 0)``, risks ``E[max(−Δ, 0)]`` (shipping the treatment) and
    ``E[max(Δ, 0)]`` (keeping the control), credible interval."""
    precision = 1 / variance + (1 / prior.variance if prior.proper else 0.0)
    mu = (lift / variance + prior.mean / prior.variance) / precision if prior.proper else lift
    sigma = math.sqrt(1 / precision)
    z = mu / sigma
    pdf, cdf_neg, cdf_pos = float(stats.norm.pdf(z)), float(stats.norm.cdf(-z)), float(stats.norm.cdf(z))
    return {
        "chance_to_win": cdf_pos,
        "risk": sigma * pdf - mu * cdf_neg,
        "risk_control": sigma * pdf + mu * cdf_pos,
        "expected_lift": mu,
        "credible_interval": [
            mu - sigma * float(stats.norm.ppf(1 - alpha / 2)),
            mu + sigma * float(stats.norm.ppf(1 - alpha / 2)),
        ],
    }


def srm_p_value(observed: list[float], weights: list[float]) -> float:
    """Chi-square goodness of fit of users per variant against the planned split."""
    total = sum(observed)
    if total <= 0:
        return 1.0
    share = [w / sum(weights) for w in weights]
    chi2 = sum((o - total * s) ** 2 / (total * s) for o, s in zip(observed, share, strict=True))
    return float(stats.chi2.sf(chi2, len(observed) - 1))


def compare(a: Arm, b: Arm, alpha: float, prior: Prior) -> dict[str, Any]:
    """Every result of treatment ``b`` against control ``a`` (None where undefined, with a
    ``note`` saying why)."""
    out: dict[str, Any] = dict.fromkeys(COMPARISON)
    if a.n < 2 or b.n < 2:
        out["note"] = "needs at least 2 users in each variant"
        return out
    test = welch(a, b, alpha)
    for key in ("absolute_effect", "absolute_ci", "p_value", "df"):
        out[key] = test[key]
    if test["p_value"] is None:
        out["note"] = "no variation in either variant"
        return out
    out["significant"] = test["p_value"] < alpha
    if a.raw_mean == 0:  # no relative interval: the absolute one (p < alpha) decides
        out["note"] = "the control's mean is 0: relative effects are undefined"
        return out
    lift = (b.mean - a.mean) / a.raw_mean
    rel_var = relative_variance(a, b)
    out["lift"] = lift
    if rel_var <= 0:
        return out
    width = test["crit"] * math.sqrt(rel_var)
    out["ci"] = [lift - width, lift + width]
    # "Significant" next to an interval that includes 0 reads as a contradiction (it was shown
    # next to [-0.019, 0.619]): the call needs every interval reported to exclude 0. The
    # relative one also carries the control mean's uncertainty, so it is the stricter.
    if out["significant"] and out["ci"][0] <= 0 <= out["ci"][1]:
        out["significant"] = False
        out["note"] = f"p < {alpha:g} for the difference, but the lift's interval includes 0"
    out["relative_p_value"] = float(2 * stats.t.sf(abs(lift) / math.sqrt(rel_var), test["df"]))
    out.update(bayes(lift, rel_var, prior, alpha))
    return out


# --- from parameters to moments --------------------------------------------------------------------------
def _moments(v: VariantIn, i: int, metric: str) -> Moments:
    at = f"variants[{i}]"
    proportion = metric == "conversion"
    if v.values is not None:
        vals = v.values
        if v.n is not None and v.n != len(vals):
            raise AnalyticsError(f"{at}.n", f"{v.n} users but {len(vals)} values")
        if any(not math.isfinite(x) for x in vals):
            raise AnalyticsError(f"{at}.values", "values must be finite numbers")
        if proportion and any(x not in (0, 1) for x in vals):
            raise AnalyticsError(f"{at}.values", "a conversion metric takes values 0 or 1")
        pre: tuple[float | None, float | None, float | None] = (None, None, None)
        if v.pre_values is not None:
            if len(v.pre_values) != len(vals):
                raise AnalyticsError(
                    f"{at}.pre_values", f"{len(v.pre_values)} pre values for {len(vals)} values"
                )
            if any(not math.isfinite(x) for x in v.pre_values):
                raise AnalyticsError(f"{at}.pre_values", "values must be finite numbers")
            pv = v.pre_values
            pre = (sum(pv), sum(x * x for x in pv), sum(x * y for x, y in zip(vals, pv, strict=True)))
        return Moments(len(vals), sum(vals), sum(x * x for x in vals), proportion, *pre)
    if v.pre_values is not None:
        raise AnalyticsError(f"{at}.pre_values", "pre values need the per-user values too")
    if v.n is None:
        raise AnalyticsError(f"{at}.n", "the number of users is required (or give values)")
    n = float(v.n)
    if proportion:
        if v.conversions is None:
            raise AnalyticsError(f"{at}.conversions", "a conversion metric takes n and conversions")
        if v.conversions > n:
            raise AnalyticsError(f"{at}.conversions", f"{v.conversions:g} conversions but only {v.n} users")
        s = ss = v.conversions
    elif v.mean is not None:
        if v.sd is None:
            raise AnalyticsError(f"{at}.sd", "a mean needs its standard deviation")
        s = v.mean * n
        ss = v.sd**2 * (n - 1) + s * s / n if n else 0.0
    elif v.sum is not None and v.sum_squares is not None:
        s, ss = v.sum, v.sum_squares
    else:
        raise AnalyticsError(
            f"{at}.mean", "a mean metric takes n, mean and sd (or sum and sum_squares, or values)"
        )
    pre_fields = (v.pre_sum, v.pre_sum_squares, v.sum_products)
    if all(x is None for x in pre_fields):
        return Moments(n, s, ss, proportion)
    if v.pre_sum is None or v.sum_products is None or (v.pre_sum_squares is None and not proportion):
        raise AnalyticsError(f"{at}.pre_sum", "CUPED takes pre_sum, pre_sum_squares and sum_products")
    if not proportion and v.mean is not None:
        raise AnalyticsError(
            f"{at}.sum", "CUPED from summary statistics takes sum and sum_squares, not mean/sd"
        )
    pre_ss = v.pre_sum_squares if v.pre_sum_squares is not None else v.pre_sum
    return Moments(n, s, ss, proportion, v.pre_sum, pre_ss, v.sum_products)


def analyse(params: ExperimentParams) -> dict[str, Any]:
    """The whole experiment report (the payload of the ``experiment`` analysis)."""
    moments = [_moments(v, i, params.metric) for i, v in enumerate(params.variants)]
    names = [v.name for v in params.variants]
    if len(set(names)) != len(names):
        raise AnalyticsError("variants", "variant names must be unique")
    with_pre = [m.pre_sum is not None for m in moments]
    if any(with_pre) and not all(with_pre):
        missing = with_pre.index(False)
        raise AnalyticsError(f"variants[{missing}]", "pre-period data are given for some variants only")
    weights = params.weights or [1.0] * len(moments)
    if len(weights) != len(moments):
        raise AnalyticsError("weights", f"{len(weights)} weights for {len(moments)} variants")
    if any(w <= 0 or not math.isfinite(w) for w in weights):
        raise AnalyticsError("weights", "weights must be positive numbers")
    theta = cuped_theta(moments) if all(with_pre) else None
    arms = [arm(m, theta) for m in moments]
    rows: list[dict[str, Any]] = []
    for i, (v, m, a) in enumerate(zip(params.variants, moments, arms, strict=True)):
        row: dict[str, Any] = {"name": v.name, "n": int(m.n), "mean": m.mean, "sd": math.sqrt(m.variance)}
        if params.metric == "conversion":
            row["conversions"] = m.sum
        if theta is not None:
            row["adjusted_mean"] = a.mean
            row["adjusted_sd"] = math.sqrt(a.variance)
        if i > 0:
            row.update(compare(arms[0], a, params.alpha, params.prior))
            if theta is not None and m.n >= 2 and moments[0].n >= 2:
                raw = welch(arm(moments[0], None), arm(m, None), params.alpha)["se"]
                adj = welch(arms[0], a, params.alpha)["se"]
                row["variance_reduction"] = 1 - (adj / raw) ** 2 if raw > 0 else None
        rows.append(row)
    srm = srm_p_value([m.n for m in moments], weights)
    total_w = sum(weights)
    report: dict[str, Any] = {
        "metric": params.metric,
        "alpha": params.alpha,
        "control": names[0],
        "srm_p_value": srm,
        "srm_flag": srm < SRM_THRESHOLD,
        "weights": [w / total_w for w in weights],
        "prior": params.prior.model_dump(),
        "cuped": None if theta is None else {"theta": theta, "pooled_over": names},
        "variants": rows,
    }
    if len(rows) == 2:
        for key in COMPARISON:
            report[key] = rows[1].get(key)
        if theta is not None:
            report["cuped"]["variance_reduction"] = rows[1].get("variance_reduction")
    return report


def compare_variants(
    variants: list[dict[str, Any]],
    metric: Literal["conversion", "mean"] | None = None,
    weights: list[float] | None = None,
    alpha: float = 0.05,
    prior: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare A/B variants (the first is the control) — what a journey's A/B split report
    calls. ``variants`` are dicts as in the ``experiment`` parameters, e.g.
    ``{"name": "A", "n": 1000, "conversions": 100}``; the metric defaults to ``conversion`` when
    the variants carry conversions, else ``mean``. Returns the report (see ``analyse``)."""
    if metric is None:
        metric = "conversion" if any("conversions" in v for v in variants) else "mean"
    raw: dict[str, Any] = {"metric": metric, "variants": variants, "weights": weights, "alpha": alpha}
    if prior is not None:
        raw["prior"] = prior
    try:
        params = ExperimentParams.model_validate(raw)
    except ValidationError as exc:
        raise params_error(exc) from exc
    return analyse(params)


# --- result and runner -------------------------------------------------------------------------------------
class ExperimentResult(AnalysisResult):
    """Per variant: users, mean, and against the control: effects, CIs, p-value, chance to win."""

    kind = "experiment"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "n",
        "mean",
        "sd",
        "absolute_effect",
        "lift",
        "p_value",
        "chance_to_win",
        "risk",
    )

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__()
        self.report = report

    def frame(self) -> pa.Table:
        rows = []
        for v in self.report["variants"]:
            ci = v.get("ci") or [None, None]
            abs_ci = v.get("absolute_ci") or [None, None]
            rows.append(
                {"variant": v["name"], **{c: v.get(c) for c in self.COLUMNS}}
                | {
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "absolute_ci_low": abs_ci[0],
                    "absolute_ci_high": abs_ci[1],
                }
            )
        schema = pa.schema(
            [("variant", pa.string()), ("n", pa.int64())]
            + [(c, pa.float64()) for c in self.COLUMNS[1:]]
            + [(c, pa.float64()) for c in ("ci_low", "ci_high", "absolute_ci_low", "absolute_ci_high")]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    def payload(self) -> dict[str, Any]:
        return self.report

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        treat = [v for v in self.report["variants"][1:] if v.get("ci")]
        fig = go.Figure(
            go.Scatter(
                x=[v["lift"] for v in treat],
                y=[v["name"] for v in treat],
                mode="markers",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [v["ci"][1] - v["lift"] for v in treat],
                    "arrayminus": [v["lift"] - v["ci"][0] for v in treat],
                },
            )
        )
        fig.add_vline(x=0, line_dash="dot")
        fig.update_layout(xaxis_title=f"lift vs {self.report['control']}", xaxis_tickformat=".1%")
        return fig


@register
class ExperimentRunner(QueryRunner[ExperimentParams, ExperimentResult]):
    """A/B test: Welch t-test, delta-method lift CI, Bayesian chance to win and risk, SRM, CUPED."""

    kind: ClassVar[str] = "experiment"
    params_model = ExperimentParams
    needs_source: ClassVar[bool] = False

    def calculate(self) -> ExperimentResult:
        return ExperimentResult(analyse(self.params))
