"""The CLV models against the literature and against independent evaluations.

Expected values come from the published CDNOW estimates (Fader, Hardie & Lee 2005; Fader &
Hardie's Pareto/NBD and Gamma-Gamma notes) or are computed here another way: the likelihoods
term by term with ``math.lgamma``, the hypergeometric function by its plain power series, and
the conditional expectations by integrating the individual-level model over the posterior
with ``scipy.integrate.quad`` (no hypergeometric function at all).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import check_grad

from siyu.analytics.clv import bgnbd as clv_bgnbd
from siyu.analytics.clv import gamma as clv_gamma
from siyu.analytics.clv import pareto as clv_pareto
from siyu.analytics.clv.models import ClvFit, fit_clv, holdout_check, per_unit_rate, predict
from siyu.analytics.clv.optim import compress, compress_if_useful

_SPEC = importlib.util.find_spec("lifetimes")
DATASETS = (
    Path(_SPEC.submodule_search_locations[0]) / "datasets"
    if _SPEC and _SPEC.submodule_search_locations
    else None
)
needs_cdnow = pytest.mark.skipif(
    DATASETS is None, reason="the lifetimes package (CDNOW data) is not installed"
)

BG = (0.243, 4.414, 0.793, 2.426)  # FHL 2005
GG = (6.25, 3.74, 15.44)  # Fader & Hardie 2013
PN = (0.553, 10.578, 0.606, 11.669)  # Fader & Hardie 2005 (Pareto/NBD note)


def sig3(value: float) -> str:
    return f"{value:.3g}"


def cdnow() -> dict[str, np.ndarray]:
    assert DATASETS is not None
    d = np.genfromtxt(DATASETS / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True)
    return {"x": d["x"], "t_x": d["t_x"], "T": d["T"], "m": d["zbar"]}


# --- independent evaluations -----------------------------------------------------------------------
def hyp2f1_series(a: float, b: float, c: float, z: float) -> float:
    total, term, n = 0.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total) or n < 5:
        total += term
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        n += 1
    return total


def bg_loglik(p: tuple[float, ...], x: float, t_x: float, T: float) -> float:
    """FHL 2005 eq. 6, written out."""
    r, al, a, b = p
    lg = math.lgamma
    common = lg(r + x) - lg(r) + r * math.log(al)
    one = lg(a + b) + lg(b + x) - lg(b) - lg(a + b + x) + common - (r + x) * math.log(al + T)
    value = math.exp(one)
    if x > 0:
        two = lg(a + b) + lg(a + 1) + lg(b + x - 1) - lg(a) - lg(b) - lg(a + b + x)
        value += math.exp(two + common - (r + x) * math.log(al + t_x))
    return math.log(value)


def bg_expected(p: tuple[float, ...], t: float, x: float, t_x: float, T: float) -> float:
    """FHL 2005 eq. 10 with the hypergeometric function as its power series."""
    r, al, a, b = p
    z = t / (al + T + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    alive = 1 + (a / (b + x - 1) * ((al + T) / (al + t_x)) ** (r + x) if x > 0 else 0.0)
    return head * body / alive


def bg_expected_by_integration(p: tuple[float, ...], t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t)] = ∫ E[Y(t) | λ, p] posterior; λ integrated in closed form, p numerically.
    Given λ, p and alive at T: E[Y(t)] = (1 − e^{−λpt}) / p."""
    r, al, a, b = p
    lb = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def lam(s: float) -> float:  # ∫ λ^x e^{−λs} Gamma(λ; r, α) dλ
        return math.exp(math.lgamma(r + x) - math.lgamma(r) + r * math.log(al) - (r + x) * math.log(al + s))

    def beta(q: float) -> float:
        return math.exp((a - 1) * math.log(q) + (b - 1) * math.log1p(-q) - lb)

    def joint(q: float) -> float:
        dead = q * (1 - q) ** (x - 1) * lam(t_x) if x > 0 else 0.0
        return ((1 - q) ** x * lam(T) + dead) * beta(q)

    def future(q: float) -> float:
        return (1 - q) ** x / q * (lam(T) - lam(T + q * t)) * beta(q)

    opts = {"epsabs": 0, "epsrel": 1e-12, "limit": 500}
    return quad(future, 0, 1, **opts)[0] / quad(joint, 0, 1, **opts)[0]


def pareto_parts(p: tuple[float, ...], x: int, t_x: float, T: float) -> tuple[float, float]:
    """The two parts of the Pareto/NBD likelihood bracket: alive at T, and died in (t_x, T]."""
    r, al, s, be = p
    alive = (al + T) ** -(r + x) * (be + T) ** -s
    died = s * quad(lambda u: (al + u) ** -(r + x) * (be + u) ** -(s + 1), t_x, T, epsabs=0, epsrel=1e-13)[0]
    return alive, died


def pareto_loglik(p: tuple[float, ...], x: int, t_x: float, T: float) -> float:
    r, al, s, be = p
    const = math.lgamma(r + x) - math.lgamma(r) + r * math.log(al) + s * math.log(be)
    return const + math.log(sum(pareto_parts(p, x, t_x, T)))


# --- the CDNOW reproductions -----------------------------------------------------------------------
@needs_cdnow
def test_bgnbd_reproduces_the_published_cdnow_fit() -> None:
    d = cdnow()
    fit = clv_bgnbd.fit(d["x"], d["t_x"], d["T"])
    assert [sig3(v) for v in (fit.r, fit.alpha, fit.a, fit.b)] == [sig3(v) for v in BG]
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert fit.converged
    # the likelihood itself, written out term by term, at the published estimates
    at_published = sum(bg_loglik(BG, *row) for row in zip(d["x"], d["t_x"], d["T"], strict=True))
    assert at_published == pytest.approx(-9582.4, abs=0.1)
    assert fit.log_likelihood >= at_published - 1e-9  # the optimum is at least as good
    rows = clv_bgnbd.loglik_rows(np.array(BG), d["x"], d["t_x"], d["T"])
    assert rows.sum() == pytest.approx(at_published, rel=1e-12)


@needs_cdnow
def test_gamma_gamma_reproduces_the_published_cdnow_fit() -> None:
    d = cdnow()
    fit = clv_gamma.fit(d["x"], d["m"])
    assert fit.customers == int((d["x"] > 0).sum()) == 946
    assert [sig3(v) for v in (fit.p, fit.q, fit.gamma)] == [sig3(v) for v in GG]
    keep = d["x"] > 0
    p, q, g = GG

    def density(x: float, m: float) -> float:
        return (
            math.lgamma(p * x + q)
            - math.lgamma(p * x)
            - math.lgamma(q)
            + q * math.log(g)
            + (p * x - 1) * math.log(m)
            + p * x * math.log(x)
            - (p * x + q) * math.log(g + x * m)
        )

    at_published = sum(density(x, m) for x, m in zip(d["x"][keep], d["m"][keep], strict=True))
    assert clv_gamma.loglik_rows(np.array(GG), d["x"][keep], d["m"][keep]).sum() == pytest.approx(
        at_published
    )
    assert fit.log_likelihood >= at_published


@needs_cdnow
def test_pareto_nbd_reproduces_the_published_cdnow_fit() -> None:
    d = cdnow()
    fit = clv_pareto.fit(d["x"], d["t_x"], d["T"])
    assert [sig3(v) for v in (fit.r, fit.alpha, fit.s, fit.beta)] == [sig3(v) for v in PN]
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.05)
    # the closed form (2F1) against the integral it comes from, on a spread of customers
    picks = np.argsort(d["x"])[:: len(d["x"]) // 25]
    for i in picks:
        row = (int(d["x"][i]), float(d["t_x"][i]), float(d["T"][i]))
        got = clv_pareto.loglik_rows(np.array(PN), *(np.array([v]) for v in row))[0]
        assert got == pytest.approx(pareto_loglik(PN, *row), rel=1e-10)


# --- gradients -------------------------------------------------------------------------------------------
def _grad_error(fun, grad, theta: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    err = check_grad(fun, grad, theta, epsilon=1e-6 * float(np.min(theta)))
    return err / float(np.linalg.norm(grad(theta)))


@needs_cdnow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_analytic_gradients_match_finite_differences(seed: int) -> None:
    d = cdnow()
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(d["x"]), 400, replace=False)
    x, t_x, T, m = d["x"][sub], d["t_x"][sub], d["T"][sub], d["m"][sub]
    theta = np.array([rng.uniform(0.1, 2), rng.uniform(1, 20), rng.uniform(0.2, 3), rng.uniform(0.5, 5)])
    assert (
        _grad_error(
            lambda p: clv_bgnbd.loglik(p, x, t_x, T)[0], lambda p: clv_bgnbd.loglik(p, x, t_x, T)[1], theta
        )
        < 1e-5
    )
    # Pareto/NBD has two branches (α ≥ β, α < β): the seeds alternate between them
    pn_theta = theta.copy()
    pn_theta[3] = theta[1] * (0.3 if seed % 2 else 3.0)
    assert (
        _grad_error(
            lambda p: clv_pareto.loglik(p, x, t_x, T)[0],
            lambda p: clv_pareto.loglik(p, x, t_x, T)[1],
            pn_theta,
        )
        < 1e-5
    )
    keep = x > 0
    gg_theta = np.array([rng.uniform(0.5, 10), rng.uniform(1.5, 8), rng.uniform(1, 50)])
    assert (
        _grad_error(
            lambda p: clv_gamma.loglik(p, x[keep], m[keep])[0],
            lambda p: clv_gamma.loglik(p, x[keep], m[keep])[1],
            gg_theta,
        )
        < 1e-5
    )


# --- per-customer expressions -----------------------------------------------------------------------------
CASES = [
    (0, 0.0, 38.86, 39.0),
    (2, 30.43, 38.86, 39.0),
    (5, 10.0, 30.0, 52.0),
    (1, 38.0, 38.0, 10.0),
    (0, 0.0, 0.0, 52.0),
]


@pytest.mark.parametrize(("x", "t_x", "T", "t"), CASES)
def test_bgnbd_expected_purchases_match_the_series_and_the_posterior_integral(
    x: int, t_x: float, T: float, t: float
) -> None:
    got = clv_bgnbd.expected_purchases(np.array(BG), t, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert got == pytest.approx(bg_expected(BG, t, x, t_x, T), rel=1e-10)
    assert got == pytest.approx(bg_expected_by_integration(BG, t, x, t_x, T), rel=1e-4)


def test_bgnbd_expected_purchases_at_a_equal_one() -> None:
    """a = 1 makes the closed form 0/0; the integral has no such problem."""
    p = (0.5, 6.0, 1.0, 2.0)
    got = clv_bgnbd.expected_purchases(np.array(p), 20.0, np.array([3]), np.array([15.0]), np.array([30.0]))[
        0
    ]
    assert got == pytest.approx(bg_expected_by_integration(p, 20.0, 3, 15.0, 30.0), rel=1e-4)


def test_bgnbd_curve_survives_degenerate_fits() -> None:
    """Three customers drive the MLE to r, α, a → ∞ and b → 0 (every customer buys as a Poisson
    process and drops out right after a repeat purchase); SciPy's 2F1 gives NaN there and the
    quadrature fallback takes over. Given alive, p ≈ 1 and λ ≈ (r+x)/(α+T) almost surely, so
    E[purchases in t | alive] = E[(1 − e^{−λpt})/p] ≈ 1 − e^{−λt}."""
    p = np.array([5.5e6, 1.57e7, 5.6e5, 5e-6])
    x, T, t = np.array([0.0, 1.0]), np.array([2.7, 3.0]), np.array([1.0, 4.0])
    got = clv_bgnbd.purchase_curve(p, x, T, t)
    want = -np.expm1(-(p[0] + x) / (p[1] + T) * t)
    assert got == pytest.approx(want, rel=1e-5)
    # and where both work, the quadrature is the closed form (t_x = T: P(alive) = 1/(1 + a/(b+x−1)))
    a, b = BG[2], BG[3]
    for x_, T_, t_ in [(0, 38.86, 39.0), (5, 30.0, 52.0), (30, 75.0, 52.0)]:
        args = (np.array([x_]), np.array([T_]), np.array([t_]))
        alive = 1.0 if x_ == 0 else 1 / (1 + a / (b + x_ - 1))
        got = clv_bgnbd.curve_by_quadrature(*BG, *args)[0] * alive
        assert got == pytest.approx(bg_expected(BG, t_, x_, T_, T_), rel=1e-9)


def test_bgnbd_p_alive_hand_cases() -> None:
    r, al, a, b = BG
    # x = 0: the model only lets a customer drop out right after a repeat purchase
    assert clv_bgnbd.p_alive(np.array(BG), np.array([0]), np.array([0.0]), np.array([38.86]))[0] == 1.0
    # customer 1 of CDNOW: x = 2, t_x = 30.43, T = 38.86 (FHL eq. 13)
    want = 1 / (1 + a / (b + 2 - 1) * ((al + 38.86) / (al + 30.43)) ** (r + 2))
    got = clv_bgnbd.p_alive(np.array(BG), np.array([2]), np.array([30.43]), np.array([38.86]))[0]
    assert got == pytest.approx(want, rel=1e-12)
    assert 0.5 < want < 1


@pytest.mark.parametrize(("x", "t_x", "T", "t"), CASES[:4])
def test_pareto_nbd_p_alive_and_expected_purchases_by_integration(
    x: int, t_x: float, T: float, t: float
) -> None:
    r, al, s, be = PN
    alive, died = pareto_parts(PN, x, t_x, T)
    want_alive = alive / (alive + died)
    # E[Y(t) | alive, λ, μ] = λ/μ (1 − e^{−μt}); given alive, λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T)
    rate = (r + x) / (al + T)
    shape, scale = s, be + T

    def integrand(mu: float) -> float:
        log_density = shape * math.log(scale) + (shape - 1) * math.log(mu) - scale * mu - math.lgamma(shape)
        return -math.expm1(-mu * t) / mu * math.exp(log_density)

    want = want_alive * rate * quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-11, limit=500)[0]
    args = (np.array([x]), np.array([t_x]), np.array([T]))
    assert clv_pareto.p_alive(np.array(PN), *args)[0] == pytest.approx(want_alive, rel=1e-9)
    assert clv_pareto.expected_purchases(np.array(PN), t, *args)[0] == pytest.approx(want, rel=1e-7)


def test_gamma_gamma_conditional_expectation_hand_case() -> None:
    model = clv_gamma.GammaGamma(*GG)
    p, q, g = GG
    got = clv_gamma.expected_spend(model, np.array([2, 0]), np.array([22.35, 0.0]))
    assert got[0] == pytest.approx((g + 2 * 22.35) * p / (p * 2 + q - 1))
    assert got[0] == pytest.approx(60.14 * 6.25 / 15.24)  # = 24.6637…
    assert got[1] == pytest.approx(p * g / (q - 1))  # no repeat purchase: the population mean


def test_clv_is_the_discounted_sum_of_expected_purchases_times_spend() -> None:
    fit = ClvFit(clv_bgnbd.BgNbd(*BG), clv_gamma.GammaGamma(*GG), None, 0)
    x, t_x, T, m = np.array([2, 0]), np.array([30.43, 0.0]), np.array([38.86, 38.86]), np.array([22.35, 0.0])
    pred = predict(fit, x, t_x, T, m, horizon=3, rate_per_unit=0.01)
    p, q, g = GG
    for i, spend in enumerate([(g + 2 * 22.35) * p / (2 * p + q - 1), p * g / (q - 1)]):
        e = [0.0] + [bg_expected(BG, k, x[i], t_x[i], T[i]) for k in (1, 2, 3)]
        want = spend * sum((e[k] - e[k - 1]) / 1.01**k for k in (1, 2, 3))
        assert pred.clv[i] == pytest.approx(want, rel=1e-9)
        assert pred.expected_purchases[i] == pytest.approx(e[3], rel=1e-10)
        assert pred.expected_spend[i] == pytest.approx(spend)
    assert per_unit_rate(0.1, "week") == pytest.approx(1.1 ** (7 / 365.25) - 1)
    assert (1 + per_unit_rate(0.1, "month")) ** 12 == pytest.approx(1.1)


@needs_cdnow
def test_holdout_check_totals_and_groups() -> None:
    d = cdnow()
    fit = ClvFit(clv_bgnbd.BgNbd(*BG), None, None, 0)
    actual = np.arange(len(d["x"])) % 3  # any numbers: the check only compares
    summary, predicted = holdout_check(fit, d["x"], d["t_x"], d["T"], actual, 39.0)
    want = [bg_expected(BG, 39.0, *row) for row in zip(d["x"][:50], d["t_x"][:50], d["T"][:50], strict=True)]
    assert predicted[:50] == pytest.approx(want, rel=1e-9)
    assert summary["actual"] == actual.sum()
    assert summary["mae"] == pytest.approx(np.abs(predicted - actual).mean())
    groups = {row["x"]: row for row in summary["by_frequency"]}
    assert list(groups) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert groups["0"]["customers"] == int((d["x"] == 0).sum()) == 1411
    assert groups["7+"]["customers"] == int((d["x"] >= 7).sum())


# --- the fit on simulated data; the merge of identical rows ------------------------------------------------
def test_fit_recovers_simulated_parameters_and_merging_rows_changes_nothing() -> None:
    rng = np.random.default_rng(11)
    n = 40_000
    r, al, a, b = 0.8, 6.0, 0.6, 3.0
    lam, p = rng.gamma(r, 1 / al, n), rng.beta(a, b, n)
    T = np.ceil(rng.uniform(0, 78, n) * 7) / 7  # whole days, in weeks
    purchases = rng.poisson(lam * T)
    x = np.minimum(purchases, rng.geometric(p))
    t_x = np.where(x > 0, rng.beta(np.maximum(x, 1), np.maximum(purchases - x + 1, 1)) * T, 0.0)
    t_x = np.floor(t_x * 7) / 7
    nu = rng.gamma(3.0, 1 / 20.0, n)
    m = np.where(x > 0, rng.gamma(np.maximum(4.0 * x, 1e-9), 1 / (nu * np.maximum(x, 1))), 0.0)
    fit = fit_clv(x, t_x, T, m)
    got = np.array([fit.bgnbd.r, fit.bgnbd.alpha, fit.bgnbd.a, fit.bgnbd.b])
    assert got == pytest.approx([r, al, a, b], rel=0.15)
    assert [fit.gamma_gamma.p, fit.gamma_gamma.q, fit.gamma_gamma.gamma] == pytest.approx(
        [4.0, 3.0, 20.0], rel=0.15
    )
    plain = clv_bgnbd.fit(x, t_x, T, weights=np.ones(n))  # no merging
    assert plain.params == pytest.approx(fit.bgnbd.params, rel=1e-5)
    assert plain.log_likelihood == pytest.approx(fit.bgnbd.log_likelihood, rel=1e-10)


def test_rows_are_merged_only_when_that_pays() -> None:
    n = 30_000
    days = np.arange(n) % 500  # day-granular: few distinct rows
    (T,), w = compress_if_useful(days.astype(float))
    assert len(T) == 500 and w.sum() == n
    spread = np.linspace(0, 1, n)  # continuous: merging would save nothing
    (T,), w = compress_if_useful(spread)
    assert len(T) == n and np.all(w == 1)


def test_compress_reconstructs_every_row() -> None:
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    t = np.array([2.0, 0.0, 2.0, 3.0, 0.0])
    (ux, ut), w, inverse = compress(x, t)
    assert list(zip(ux, ut, w, strict=True)) == [(0.0, 0.0, 2.0), (1.0, 2.0, 2.0), (1.0, 3.0, 1.0)]
    assert np.array_equal(ux[inverse], x) and np.array_equal(ut[inverse], t)
