"""Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value").

A customer's transaction values are Gamma(p, ν) around her own mean p/ν, and ν ~ Gamma(q, γ)
across customers. The mean z̄ of her x repeat transactions then has the density

    f(z̄ | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q z̄^(px−1) x^(px) / (γ + x z̄)^(px+q),

whose logarithm, summed over customers with x > 0 and z̄ > 0, is the log-likelihood maximised
here. Its gradient is analytic:

    ∂/∂p = x [ψ(px+q) − ψ(px) + ln z̄ + ln x − ln(γ + x z̄)]
    ∂/∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ + x z̄)
    ∂/∂γ = q/γ − (px+q)/(γ + x z̄)

The digamma terms depend on x alone and are evaluated once per distinct x. The model assumes
spend is independent of the purchase process (check it: the correlation of x and z̄ should be
small) and needs positive values: customers whose repeat purchases carry no amount are left out
of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from siyu.analytics.clv.optim import compress, distinct_counts, dot, maximise


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma parameters (γ is called ``v`` in the JSON, as in lifetimes)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    customers: int = 0
    iterations: int = 0
    converged: bool = True

    @property
    def params(self) -> np.ndarray:
        return np.array([self.p, self.q, self.gamma])

    @property
    def population_mean(self) -> float:
        """E[Z] = pγ/(q−1) for a customer with no repeat purchases (infinite when q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


def loglik_rows(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each customer's log density of z̄ = ``m`` given x (x > 0, m > 0)."""
    p, q, g = params
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + x * m)
    )


class _LogLik:
    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> None:
        self.ux, xi = distinct_counts(x)
        self.wx = np.bincount(xi, weights=w, minlength=len(self.ux))
        self.total = float(w.sum())
        self.x, self.m, self.w = x, m, w
        self.w_x = w * x
        # constants of the data: Σ w x (ln m + ln x), Σ w ln m
        self.s_xlm = dot(self.w_x, np.log(m) + np.log(x))
        self.s_lm = dot(w, np.log(m))
        self.buf = np.empty((2, len(x)))

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = (float(v) for v in params)
        ux, wx, total, w, w_x = self.ux, self.wx, self.total, self.w, self.w_x
        pux = p * ux
        lgm, inv = self.buf
        np.multiply(self.x, self.m, out=inv)
        inv += g  # γ + x z̄
        np.log(inv, out=lgm)
        np.reciprocal(inv, out=inv)
        s_wx_lgm, s_w_lgm = dot(w_x, lgm), dot(w, lgm)
        ll = dot(wx, gammaln(pux + q) - gammaln(pux)) - total * gammaln(q) + total * q * np.log(g)
        ll += p * self.s_xlm - self.s_lm - p * s_wx_lgm - q * s_w_lgm
        psi_sum = digamma(pux + q)
        d_p = dot(wx * ux, psi_sum - digamma(pux)) + self.s_xlm - s_wx_lgm
        d_q = dot(wx, psi_sum) - total * digamma(q) + total * np.log(g) - s_w_lgm
        d_g = total * q / g - p * dot(w_x, inv) - q * dot(w, inv)
        return float(ll), np.array([d_p, d_q, d_g])


def loglik(
    params: np.ndarray, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """The (weighted) total log-likelihood and its analytic gradient in (p, q, γ)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    return _LogLik(x, m, w)(np.asarray(params, dtype=float))


def start_values(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> np.ndarray:
    """p = q = 4 and γ such that the population mean pγ/(q−1) is the sample's mean spend.
    (A method-of-moments start is fragile: on CDNOW it gives a negative variance slope.)"""
    mean = dot(w, m) / max(float(w.sum()), 1.0)
    return np.array([4.0, 4.0, 0.75 * max(mean, 1e-9)])


def fit(x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma over customers with x > 0 and z̄ = ``m`` > 0 (others are
    skipped); identical (x, m) rows are merged first."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w_all = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m, w_all = x[keep], m[keep], w_all[keep]
    if weights is None:
        (x, m), w, _ = compress(x, m)
    else:
        w = w_all
    res = maximise(_LogLik(x, m, w), start_values(x, m, w), w.sum())
    p, q, g = (float(v) for v in res.params)
    return GammaGamma(p, q, g, res.log_likelihood, int(w.sum()), res.iterations, res.converged)


def expected_spend(model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[Z | p, q, γ, x, z̄] = (γ + x z̄) p / (px + q − 1) (FH 2013 eq. 5): a weighted mean of the
    population mean pγ/(q−1) and the customer's own z̄, the weight of z̄ growing with x. For x = 0
    it is the population mean."""
    p, q, g = model.p, model.q, model.gamma
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    denom = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (g + x * m) * p / denom
    return np.where(denom > 0, value, np.inf)
