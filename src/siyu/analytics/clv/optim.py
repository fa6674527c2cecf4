"""What the CLV models share: weighted unique rows and one maximum-likelihood driver.

Customers with the same summary (x, t_x, T) have the same likelihood term, and real data are
day-granular, so a million customers collapse to far fewer distinct rows; every likelihood here
takes a ``weights`` vector and is summed over the distinct rows once. Fits run L-BFGS-B on the
logarithm of the (positive) parameters, so the optimiser never proposes a negative value, with the
model's analytic gradient mapped through the chain rule (d/d log θ = θ · d/dθ).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

#: Bounds of the log-parameters: e^±20 is far outside any sensible rate, spend or shape, and
#: keeps every ``lgamma``/``exp`` finite while the optimiser explores.
LOG_BOUND = 20.0

#: Rows sampled to decide whether merging identical rows is worth a sort.
SAMPLE_ROWS = 10_000
#: Largest |d(mean log-likelihood)/d(log parameter)| accepted as converged.
GRADIENT_OK = 1e-6

#: A log-likelihood with its gradient in the natural parameters (what each model provides).
LogLik = Callable[[np.ndarray], tuple[float, np.ndarray]]


def compress(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """The distinct rows of ``columns`` (sorted), how often each occurs, and for every input row
    the index of its distinct row (so per-row predictions are ``unique_result[inverse]``)."""
    n = len(columns[0])
    if n == 0:
        return tuple(c[:0] for c in columns), np.zeros(0), np.zeros(0, dtype=np.intp)
    order = np.lexsort(columns[::-1])  # the first column is the primary key
    ordered = [c[order] for c in columns]
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in ordered:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, n)).astype(float)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return tuple(c[starts] for c in ordered), counts, inverse


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b without BLAS: OpenBLAS threads its ``ddot``, and on a busy 2-core machine the
    threads' spin-waiting made each ``a @ b`` 10-30× slower than this single-threaded loop."""
    return float(np.einsum("i,i->", a, b))


def distinct_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of the purchase counts ``x`` and each row's index among them; in
    linear time through ``bincount`` when they are whole numbers (as counts are)."""
    if len(x) and x.min() >= 0 and x.max() < 1e7 and np.all(np.mod(x, 1.0) == 0):
        ints = x.astype(np.int64)
        present = np.bincount(ints) > 0
        rank = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(float), rank[ints]
    ux, inverse = np.unique(x, return_inverse=True)
    return ux, inverse


def compress_if_useful(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Distinct rows and weights when merging pays for its sort: a sample of rows (every k-th,
    deterministic) must have at most half distinct rows. Day-granular data always do; continuous
    simulated times never do, and sorting a million float rows costs more than it saves."""
    n = len(columns[0])
    step = max(1, n // SAMPLE_ROWS)
    if n > SAMPLE_ROWS:
        sample = tuple(c[::step] for c in columns)
        if len(compress(*sample)[1]) > 0.5 * len(sample[0]):
            return tuple(columns), np.ones(n)
    unique, weights, _ = compress(*columns)
    return unique, weights


def single_threaded_blas() -> AbstractContextManager[object]:
    """L-BFGS-B's few-element vector operations go through OpenBLAS, whose worker threads
    spin-wait: on a busy 2-core machine that made a CDNOW fit 5× slower in CPU time. One thread
    is always enough here (threadpoolctl comes with scikit-learn; without it, nothing changes)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit: parameters, the log-likelihood (summed over customers) there,
    and the optimiser's report (kept so a caller can tell a converged fit from a stalled one)."""

    params: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    message: str


def maximise(loglik: LogLik, start: np.ndarray, total_weight: float) -> FitResult:
    """Maximise ``loglik`` over positive parameters from ``start``.

    The objective is the negative mean log-likelihood per customer, so the tolerances mean the
    same thing for a thousand customers and for a million. ``ftol``/``gtol`` are tighter than
    SciPy's defaults: the published CDNOW estimates are quoted to 3-4 significant digits and
    the likelihood is flat along the r-α ridge.
    """
    scale = 1.0 / max(total_weight, 1.0)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        with np.errstate(all="ignore"):  # overflow far from the optimum is handled just below
            ll, grad = loglik(params)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            # Outside the region the formulas can evaluate: a wall the line search backs off from.
            return 1e300, np.zeros_like(theta)
        return -ll * scale, -grad * params * scale

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    with single_threaded_blas():
        res = minimize(
            objective,
            np.log(np.asarray(start, dtype=float)),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000, "maxcor": 20},
        )
    params = np.exp(res.x)
    ll, _ = loglik(params)
    # L-BFGS-B also stops "abnormally" when the line search cannot improve on a point that is
    # already optimal to rounding; a vanishing gradient is what convergence means.
    converged = bool(res.success) or float(np.max(np.abs(res.jac))) <= GRADIENT_OK
    return FitResult(params, float(ll), int(res.nit), converged, str(res.message))
