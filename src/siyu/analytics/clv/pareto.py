"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in Fader & Hardie's likelihood form
("A Note on Deriving the Pareto/NBD Model and Related Expressions", 2005).

While alive a customer buys at rate λ ~ Gamma(r, α); her lifetime is exponential with rate
μ ~ Gamma(s, β). Integrating the individual likelihood over both gives

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^−(r+x) (β+T)^−s + s (I(t_x) − I(T)) ],
    I(t) = ∫_t^∞ (α+τ)^−(r+x) (β+τ)^−(s+1) dτ.

With m = max(α, β), K = r+s+x and A the exponent of the smaller of α, β (s+1 when α ≥ β,
r+x otherwise), I(t) = (m+t)^−K / K · 2F1(K, A; K+1; z), z = |α−β| / (m+t) ∈ [0, 1): this is
Fader & Hardie's A0 with its two branches. SciPy's ``hyp2f1`` is evaluated after Euler's
transformation, 2F1(K, A; K+1; z) = (1−z)^(1−A) 2F1(1, K+1−A; K+1; z), a series of positive
terms with ratio below z (no cancellation, finite at z → 1 in the α ≥ β branch), and everything
is combined in logs; I(t_x) − I(T) is formed as I(t_x)·(−expm1(ln I(T) − ln I(t_x))) so that
customers with t_x close to T lose no precision.

Gradient: ∂/∂α and ∂/∂β are analytic — differentiating under the integral shifts an exponent
by one, which is again a 2F1 (∂I/∂α = −(r+x) I with r+x → r+x+1; ∂I/∂β likewise with
s+1 → s+2). ∂/∂r and ∂/∂s are NUMERIC (central differences in log r, log s of the same
vectorised log-likelihood): they need ∂2F1/∂a, ∂2F1/∂b and ∂2F1/∂c, which SciPy does not provide
and whose series converge as slowly as z^n when α and β differ by orders of magnitude, so a
central difference (relative error ~1e-9 here) is both simpler and more robust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, hyp2f1

from siyu.analytics.clv.optim import compress, dot, maximise

#: Step of the central differences in log r and log s.
LOG_STEP = 1e-5


@dataclass(frozen=True)
class ParetoNbd:
    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float = float("nan")
    iterations: int = 0
    converged: bool = True

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.s, self.beta])


def log_tail(apow: np.ndarray, bpow: np.ndarray, t: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """ln ∫_t^∞ (α+τ)^−apow (β+τ)^−bpow dτ (apow + bpow > 1), through 2F1 as above."""
    k = apow + bpow - 1.0
    if alpha >= beta:
        m, small = alpha, bpow
        z = (alpha - beta) / (alpha + t)
    else:
        m, small = beta, apow
        z = (beta - alpha) / (beta + t)
    series = hyp2f1(1.0, k + 1.0 - small, k + 1.0, z)
    return -k * np.log(m + t) - np.log(k) + (1.0 - small) * np.log1p(-z) + np.log(series)


def _log_sum(first: np.ndarray, tail_tx: np.ndarray, tail_T: np.ndarray, s: float) -> np.ndarray:
    """ln(e^first + s (e^tail_tx − e^tail_T)), stable."""
    gap = np.minimum(tail_T - tail_tx, 0.0)
    with np.errstate(divide="ignore"):
        second = np.log(s) + tail_tx + np.log(-np.expm1(gap))  # −inf when t_x = T
    return np.logaddexp(first, second)


def _rows(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, ...]:
    r, alpha, s, beta = params
    rx = r + x
    first = -rx * np.log(alpha + T) - s * np.log(beta + T)
    tail_tx = log_tail(rx, s + 1.0, t_x, alpha, beta)
    tail_T = log_tail(rx, s + 1.0, T, alpha, beta)
    log_d = _log_sum(first, tail_tx, tail_T, s)
    const = gammaln(rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return const + log_d, first, log_d


def loglik_rows(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return _rows(np.asarray(params, dtype=float), x, t_x, T)[0]


class _LogLik:
    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        self.x, self.t_x, self.T, self.w = x, t_x, T, w

    def _total(self, params: np.ndarray) -> float:
        return dot(self.w, _rows(params, self.x, self.t_x, self.T)[0])

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, s, beta = params
        x, t_x, T, w = self.x, self.t_x, self.T, self.w
        rows, first, log_d = _rows(params, x, t_x, T)
        ll = dot(w, rows)
        rx = r + x

        def tail_difference(apow: np.ndarray, bpow: float) -> np.ndarray:
            # (I(t_x) − I(T)) / D for the shifted exponents, in the scale of D
            lo = log_tail(apow, bpow, t_x, alpha, beta) - log_d
            hi = log_tail(apow, bpow, T, alpha, beta) - log_d
            return np.exp(lo) - np.exp(hi)

        e_share = np.exp(first - log_d)  # E / D
        d_alpha = dot(w, r / alpha - rx * (e_share / (alpha + T) + s * tail_difference(rx + 1.0, s + 1.0)))
        d_beta = dot(w, s / beta - e_share * s / (beta + T) - s * (s + 1.0) * tail_difference(rx, s + 2.0))
        grad = np.array([0.0, d_alpha, 0.0, d_beta])
        for i in (0, 2):  # r and s: central differences in the log-parameter
            up, down = params.copy(), params.copy()
            up[i] *= np.exp(LOG_STEP)
            down[i] *= np.exp(-LOG_STEP)
            grad[i] = (self._total(up) - self._total(down)) / (2 * LOG_STEP * params[i])
        return ll, grad


def loglik(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """The (weighted) total log-likelihood and its gradient in (r, α, s, β)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    return _LogLik(x, t_x, T, w)(np.asarray(params, dtype=float))


def fit(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> ParetoNbd:
    """Maximum-likelihood Pareto/NBD; identical (x, t_x, T) rows are merged first. Starts at
    r = s = 1 with α from the mean purchase rate and β = α."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if weights is None:
        (x, t_x, T), w, _ = compress(x, t_x, T)
    else:
        w = np.asarray(weights, dtype=float)
    if start is None:
        alpha = max(dot(w, T), 1e-9) / max(dot(w, x), 1.0)
        start = np.array([1.0, alpha, 1.0, alpha])
    res = maximise(_LogLik(x, t_x, T, w), start, w.sum())
    r, alpha, s, beta = (float(v) for v in res.params)
    return ParetoNbd(r, alpha, s, beta, res.log_likelihood, res.iterations, res.converged)


# --- per-customer predictions -------------------------------------------------------------------------
def p_alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T): the share of the likelihood in which the customer is still
    alive at T, (α+T)^−(r+x)(β+T)^−s / [bracket of L]."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    _, first, log_d = _rows(np.asarray(params, dtype=float), x, t_x, T)
    return np.exp(first - log_d)


def purchase_curve(params: np.ndarray, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)]
    (Fader & Hardie 2005 eq. 22 without P(alive)); (1 − e^−(s−1)L)/(s−1) with L = ln(1 + t/(β+T))
    is computed with ``expm1`` and tends to L as s → 1."""
    r, alpha, s, beta = (float(v) for v in params)
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    span = np.log1p(t / (beta + T))
    k = s - 1.0
    factor = span if abs(k) < 1e-12 else -np.expm1(-k * span) / k
    return (r + x) * (beta + T) / (alpha + T) * factor


def expected_purchases(
    params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units."""
    return purchase_curve(params, x, T, np.asarray(t, dtype=float)) * p_alive(params, x, t_x, T)
