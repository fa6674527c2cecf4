"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys at rate λ ~ Gamma(r, α); after every purchase she drops out with
probability p ~ Beta(a, b). From a customer's summary (x repeat purchases, the last at t_x,
observed for T since her first purchase) the likelihood is (FHL 2005, eq. 6)

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)).

It is evaluated here in logs as ``A + log(e^A3 + [x>0] e^A4)`` with ``A3``/``A4`` the two
time-dependent parts, so no term under- or overflows for heavy buyers. Terms that depend on x
alone are summed once per distinct x (x takes few values), so a likelihood evaluation costs
two logarithms and one exponential per distinct (x, t_x, T) row. The gradient is analytic:
with w4 = e^A4 / (e^A3 + e^A4) the posterior weight of "dropped out after the last purchase",

    ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−w4) ln(α+T) − w4 ln(α+t_x)
    ∂/∂α = r/α − (r+x) [(1−w4)/(α+T) + w4/(α+t_x)]
    ∂/∂a = ψ(a+b) − ψ(a+b+x) + w4/a
    ∂/∂b = ψ(a+b) + ψ(b+x) − ψ(b) − ψ(a+b+x) − w4/(b+x−1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.special import digamma, expit, gammaln, hyp2f1

from siyu.analytics.clv.optim import FitResult, compress, distinct_counts, dot, maximise

#: Gauss nodes of the fallback quadrature of the purchase curve.
QUAD_NODES = 64
#: Within this distance of a = 1 the closed form for expected purchases is 0/0 in floating
#: point; it is smooth in a, so the value is interpolated between a = 1 ± A_ONE_STEP.
A_ONE_STEP = 1e-4


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters and the log-likelihood (summed over customers) at them."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    iterations: int = 0
    converged: bool = True

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])


def loglik_rows(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005 eq. 6), for reports and tests."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    base = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x)
        - gammaln(b)
        - gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    pos = x > 0
    delta = np.where(
        pos,
        np.log(a)
        - np.log(np.where(pos, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
        -np.inf,
    )
    return base + a3 + np.logaddexp(0.0, delta)


class _LogLik:
    """The weighted log-likelihood and its gradient over fixed data (built once per fit).

    Evaluated with preallocated buffers and in-place NumPy operations: at a million rows the
    cost of a naive expression is in allocating its temporaries, not in the arithmetic.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        x = np.asarray(x, dtype=float)
        self.ux, xi = distinct_counts(x)
        self.wx = np.bincount(xi, weights=w, minlength=len(self.ux))
        self.total = float(w.sum())
        zero = x == 0
        self.w0, self.T0 = w[zero], np.asarray(T, dtype=float)[zero]
        pos = ~zero
        self.wp, self.xp, self.xi = w[pos], x[pos], xi[pos]
        self.wxp = self.wp * self.xp
        self.tp, self.Tp = np.asarray(t_x, dtype=float)[pos], np.asarray(T, dtype=float)[pos]
        self.buf = np.empty((8, len(self.xp)))
        self.buf0 = np.empty((2, len(self.T0)))

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = (float(v) for v in params)
        ux, wx, total = self.ux, self.wx, self.total
        # terms of x alone, once per distinct x
        ll = dot(
            wx,
            gammaln(r + ux)
            - gammaln(r)
            + gammaln(a + b)
            + gammaln(b + ux)
            - gammaln(b)
            - gammaln(a + b + ux),
        )
        ll += total * r * np.log(alpha)
        d_r = dot(wx, digamma(r + ux) - digamma(r)) + total * np.log(alpha)
        d_alpha = total * r / alpha
        psi_ab = digamma(a + b)
        d_a = dot(wx, psi_ab - digamma(a + b + ux))
        d_b = dot(wx, psi_ab + digamma(b + ux) - digamma(b) - digamma(a + b + ux))
        # x = 0: L's time part is (α+T)^-r
        if len(self.T0):
            lt0, inv0 = self.buf0
            np.add(alpha, self.T0, out=inv0)
            np.log(inv0, out=lt0)
            np.reciprocal(inv0, out=inv0)
            s_lt0 = dot(self.w0, lt0)
            ll -= r * s_lt0
            d_r -= s_lt0
            d_alpha -= r * dot(self.w0, inv0)
        # x > 0: log(e^A3 + e^A4) = A3 + softplus(Δ), Δ = A4 − A3 = c_x + (r+x)(ln(α+T) − ln(α+t_x))
        if len(self.xp):
            ll, d_r, d_alpha, d_a, d_b = self._repeat(r, alpha, a, b, ll, d_r, d_alpha, d_a, d_b)
        return float(ll), np.array([d_r, d_alpha, d_a, d_b])

    def _repeat(
        self, r: float, alpha: float, a: float, b: float, *acc: float
    ) -> tuple[float, float, float, float, float]:
        ll, d_r, d_alpha, d_a, d_b = acc
        wp, wxp = self.wp, self.wxp
        big, small, gap, delta, e, w4, inv_big, tmp = self.buf
        np.add(alpha, self.Tp, out=inv_big)
        np.log(inv_big, out=big)
        np.reciprocal(inv_big, out=inv_big)
        np.add(alpha, self.tp, out=tmp)
        np.log(tmp, out=small)
        np.reciprocal(tmp, out=tmp)
        np.subtract(tmp, inv_big, out=tmp)  # 1/(α+t_x) − 1/(α+T)
        np.subtract(big, small, out=gap)
        np.add(r, self.xp, out=delta)
        np.multiply(delta, gap, out=delta)
        c_x = np.log(a) - np.log(np.maximum(b + self.ux - 1.0, 1e-300))
        delta += c_x[self.xi]
        # softplus(Δ) = max(Δ, 0) + log1p(e^−|Δ|); w4 = σ(Δ) = (Δ ≥ 0 ? 1 : e^−|Δ|) / (1 + e^−|Δ|)
        np.abs(delta, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.log1p(e, out=small)  # ln(α+t_x) is no longer needed
        ll += dot(wp, small) + dot(wp, np.maximum(delta, 0.0, out=delta)) - r * dot(wp, big) - dot(wxp, big)
        np.copyto(w4, e)
        w4[delta > 0] = 1.0  # Δ was clipped at 0 above; Δ = 0 gives 1/2 either way
        np.add(1.0, e, out=e)
        np.divide(w4, e, out=w4)
        np.multiply(w4, wp, out=w4)  # from here on w·w4
        d_r += dot(w4, gap) - dot(wp, big)
        np.multiply(tmp, w4, out=tmp)
        d_alpha -= r * dot(wp, inv_big) + dot(wxp, inv_big) + r * tmp.sum() + dot(tmp, self.xp)
        d_a += w4.sum() / a
        per_x = np.bincount(self.xi, weights=w4, minlength=len(self.ux))
        d_b -= dot(per_x, np.where(self.ux > 0, 1.0 / np.maximum(b + self.ux - 1.0, 1e-300), 0.0))
        return ll, d_r, d_alpha, d_a, d_b


def loglik(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """The (weighted) total log-likelihood and its analytic gradient in (r, α, a, b)."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    return _LogLik(x, t_x, T, w)(np.asarray(params, dtype=float))


def start_values(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    """r = 1 and α from the mean purchase rate (Σx / ΣT), a = 1, b = 3 (a mean drop-out
    probability of 1/4): close enough that L-BFGS-B needs a few dozen steps."""
    rate = max(dot(w, x), 1.0) / max(dot(w, T), 1e-9)
    return np.array([1.0, 1.0 / rate, 1.0, 3.0])


def fit(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> BgNbd:
    """Maximum-likelihood BG/NBD over customers' (x, t_x, T); identical rows are merged first."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if weights is None:
        (ux, ut, uT), w, _ = compress(x, t_x, T)
    else:
        ux, ut, uT, w = x, t_x, T, np.asarray(weights, dtype=float)
    res: FitResult = maximise(
        _LogLik(ux, ut, uT, w), start_values(ux, uT, w) if start is None else start, w.sum()
    )
    r, alpha, a, b = (float(v) for v in res.params)
    return BgNbd(r, alpha, a, b, res.log_likelihood, res.iterations, res.converged)


# --- per-customer predictions -------------------------------------------------------------------------
def p_alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + [x>0] a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)) (FHL eq. 13).
    A customer without repeat purchases is alive by construction of the model (drop-out only
    happens right after a purchase)."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    pos = x > 0
    term = (
        np.log(a)
        - np.log(np.where(pos, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(pos, expit(-term), 1.0)


def _curve(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    # FHL eq. 10 without its P(alive) denominator, through Euler's transformation
    # 2F1(r+x, b+x; c; z) = (1−z)^(a−1−r−x) 2F1(a+b−1−r, a−1; c; z), which keeps the
    # hypergeometric series well conditioned (its c−A−B = r+x+1−a is usually positive).
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    one_minus = np.power((alpha + T) / (alpha + T + t), a - 1.0)
    return c / (a - 1.0) * (1.0 - one_minus * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z))


def beta_nodes(shape_p: float, shape_q: float, n: int = QUAD_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes and weights (summing to 1) for expectations over p ~ Beta(shape_p, shape_q):
    Golub-Welsch on the Jacobi recurrence, with the weights from the eigenvectors alone.
    (``scipy.special.roots_jacobi`` scales them by 2^(α+β+1)·B(α+1, β+1), which overflows for
    the extreme shapes a degenerate fit produces.)"""
    al, be = shape_q - 1.0, shape_p - 1.0  # Jacobi weight (1−u)^al (1+u)^be, p = (1+u)/2
    k = np.arange(1, n, dtype=float)
    s = 2 * k + al + be
    diag = np.empty(n)
    diag[0] = (be - al) / (al + be + 2.0)
    diag[1:] = (be * be - al * al) / (s * (s + 2.0))
    off2 = 4 * k * (k + al) * (k + be) * (k + al + be) / (s * s * (s + 1.0) * (s - 1.0))
    # k = 1 with the (1+α+β) factor cancelled (it may be 0)
    off2[0] = 4 * (1 + al) * (1 + be) / ((2 + al + be) ** 2 * (3 + al + be))
    u, vectors = eigh_tridiagonal(diag, np.sqrt(off2))
    weights = vectors[0] ** 2
    return (1.0 + u) / 2.0, weights / weights.sum()


def curve_by_quadrature(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The same curve as an integral over the drop-out probability: given alive at T, λ ~
    Gamma(r+x, α+T) and p ~ Beta(a, b+x), and E[Y(t) | λ, p] = (1 − e^−λpt)/p; integrating λ
    in closed form leaves E_p[(1 − (1 + p t/(α+T))^−(r+x)) / p], taken by Gauss quadrature for
    the Beta density. Used where the hypergeometric form fails, e.g. for the degenerate fits
    (r, α or a → ∞) of very small data sets."""
    xb, Tb, tb = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, T, t)))
    out = np.empty(xb.shape)
    for xv in np.unique(xb):
        sel = xb == xv
        p, w = beta_nodes(a, b + xv)
        scale = (tb[sel] / (alpha + Tb[sel]))[:, None]
        values = -np.expm1(-(r + xv) * np.log1p(p[None, :] * scale)) / p[None, :]
        out[sel] = np.einsum("ij,j->i", values, w)
    return out


def purchase_curve(params: np.ndarray, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Expected purchases in (T, T+t] for a customer alive at T: the part of the conditional
    expectation that does not depend on t_x, so ``expected_purchases = purchase_curve · p_alive``
    and a horizon of many periods costs hypergeometric calls per distinct (x, T) only.
    Broadcasts over its array arguments.

    A value must lie in [0, (r+x) t/(α+T)] (no more than a customer who never drops out would
    buy); cells where the hypergeometric evaluation is not finite or falls outside are
    recomputed by :func:`curve_by_quadrature`."""
    r, alpha, a, b = (float(v) for v in params)
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    with np.errstate(all="ignore"):
        if abs(a - 1.0) >= A_ONE_STEP:
            value = _curve(r, alpha, a, b, x, T, t)
        else:
            lo = _curve(r, alpha, 1.0 - A_ONE_STEP, b, x, T, t)
            hi = _curve(r, alpha, 1.0 + A_ONE_STEP, b, x, T, t)
            value = lo + (a - (1.0 - A_ONE_STEP)) / (2 * A_ONE_STEP) * (hi - lo)
    value = np.array(np.broadcast_to(value, np.broadcast_shapes(x.shape, T.shape, t.shape)), dtype=float)
    bound = (r + x) * t / (alpha + T)
    bad = ~np.isfinite(value) | (value < -1e-12) | (value > bound * (1 + 1e-8) + 1e-12)
    if bad.any():
        xb, Tb, tb = np.broadcast_arrays(x, T, t)
        value[bad] = curve_by_quadrature(r, alpha, a, b, xb[bad], Tb[bad], tb[bad])
    return value


def expected_purchases(
    params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (FHL 2005 eq. 10)."""
    return purchase_curve(params, x, T, np.asarray(t, dtype=float)) * p_alive(params, x, t_x, T)
