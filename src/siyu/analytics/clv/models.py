"""Customer lifetime value from purchase histories: fit the models, predict per customer.

Pure NumPy/SciPy, no warehouse: ``fit_clv`` takes the per-customer summary arrays (x repeat
purchases, t_x, T, mean repeat spend) and fits BG/NBD and Gamma-Gamma (and Pareto/NBD on
request) by maximum likelihood; ``predict`` turns a fit into expected purchases, P(alive),
expected spend and discounted CLV per customer; ``holdout_check`` compares predicted with actual
purchases after the calibration period (FHL 2005 §5). The models live in ``clv.bgnbd``,
``clv.pareto`` and ``clv.gamma``; their definitions are in docs/analytics/clv.md.

CLV over a horizon of H periods of the time unit, with per-period discount rate d:

    CLV = E[spend] · Σ_{k=1..H} (E[Y(k)] − E[Y(k−1)]) / (1+d)^k

— the expected purchases in period k (the increase of the conditional expectation E[Y(t)]),
discounted to today at the end of the period, times the Gamma-Gamma expected spend per purchase.
An annual rate R becomes d = (1+R)^(days per unit / 365.25) − 1 (compounding, so 52 weekly or 12
monthly discounts make exactly one year's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from siyu.analytics.clv import bgnbd as clv_bgnbd
from siyu.analytics.clv import gamma as clv_gamma
from siyu.analytics.clv import pareto as clv_pareto
from siyu.analytics.clv.bgnbd import BgNbd
from siyu.analytics.clv.gamma import GammaGamma
from siyu.analytics.clv.optim import compress, compress_if_useful
from siyu.analytics.clv.pareto import ParetoNbd

TimeUnit = Literal["day", "week", "month"]
Model = Literal["bgnbd", "pareto-nbd"]
#: Days per time unit (a month is a twelfth of an average Gregorian year).
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
#: One year ahead, in each unit (52 weeks; 364 days so that day and week horizons agree).
DEFAULT_HORIZON: dict[str, int] = {"day": 364, "week": 52, "month": 12}
#: Calibration-frequency groups of the holdout table (0, 1, …, 6 and 7+ as in FHL 2005 fig. 4).
HOLDOUT_GROUPS = 7
#: Cells (distinct customers × periods) evaluated at once when summing a CLV horizon.
CHUNK_CELLS = 1 << 20

__all__ = [
    "DEFAULT_HORIZON",
    "UNIT_DAYS",
    "BgNbd",
    "ClvFit",
    "GammaGamma",
    "ParetoNbd",
    "Predictions",
    "fit_clv",
    "holdout_check",
    "per_unit_rate",
    "predict",
]


def per_unit_rate(annual_rate: float, time_unit: str) -> float:
    """The discount rate per time unit equivalent to ``annual_rate`` per year (compounded)."""
    return float((1.0 + annual_rate) ** (UNIT_DAYS[time_unit] / 365.25) - 1.0)


@dataclass(frozen=True)
class ClvFit:
    """The fitted models. ``gamma_gamma`` is None when no customer has a repeat purchase with a
    positive value; ``pareto_nbd`` is None unless asked for."""

    bgnbd: BgNbd
    gamma_gamma: GammaGamma | None
    pareto_nbd: ParetoNbd | None
    #: (x, t_x, T) rows the purchase models were fitted on (distinct rows when merging paid)
    distinct_rows: int


def fit_clv(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    monetary: np.ndarray | None = None,
    *,
    pareto: bool = False,
    pareto_max_rows: int = 0,
) -> ClvFit:
    """Fit BG/NBD on (x, t_x, T), Gamma-Gamma on (x, monetary) of customers with x > 0 and
    monetary > 0, and Pareto/NBD when ``pareto`` or when there are at most ``pareto_max_rows``
    distinct (x, t_x, T) rows. Arrays are per customer, times in one unit.

    Identical (x, t_x, T) rows are merged once and shared by both purchase models.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    (ux, ut, uT), w = compress_if_useful(x, t_x, T)
    bg = clv_bgnbd.fit(ux, ut, uT, weights=w)
    gg = None
    if monetary is not None:
        m = np.asarray(monetary, dtype=float)
        keep = (x > 0) & (m > 0)
        if np.any(keep):
            (gx, gm), gw = compress_if_useful(x[keep], m[keep])
            gg = clv_gamma.fit(gx, gm, weights=gw)
    pn = clv_pareto.fit(ux, ut, uT, weights=w) if pareto or len(ux) <= pareto_max_rows else None
    return ClvFit(bg, gg, pn, len(ux))


@dataclass(frozen=True)
class Predictions:
    """Per customer, in the input order."""

    expected_purchases: np.ndarray
    p_alive: np.ndarray
    expected_spend: np.ndarray
    clv: np.ndarray


def _purchase_model(fit: ClvFit, model: Model) -> tuple[Any, np.ndarray]:
    if model == "pareto-nbd":
        if fit.pareto_nbd is None:
            raise ValueError("the Pareto/NBD model was not fitted")
        return clv_pareto, fit.pareto_nbd.params
    return clv_bgnbd, fit.bgnbd.params


def predict(
    fit: ClvFit,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    monetary: np.ndarray,
    *,
    horizon: int,
    rate_per_unit: float,
    model: Model = "bgnbd",
) -> Predictions:
    """Expected purchases in the next ``horizon`` units, P(alive), expected spend per purchase
    and CLV (formula in the module docstring) for every customer.

    The purchase curve depends on (x, T) only (P(alive) carries t_x), so the horizon's H
    evaluations run once per distinct (x, T), in chunks of at most ``CHUNK_CELLS`` cells.
    """
    module, params = _purchase_model(fit, model)
    x, t_x, T, m = (np.asarray(v, dtype=float) for v in (x, t_x, T, monetary))
    alive = module.p_alive(params, x, t_x, T)
    (ux, uT), _, inverse = compress(x, T)
    steps = np.arange(1, horizon + 1, dtype=float)
    discount = (1.0 + rate_per_unit) ** -steps
    discounted = np.empty(len(ux))
    total = np.empty(len(ux))
    per_chunk = max(1, CHUNK_CELLS // max(horizon, 1))
    for lo in range(0, len(ux), per_chunk):
        part = slice(lo, lo + per_chunk)
        curve = module.purchase_curve(params, ux[part, None], uT[part, None], steps[None, :])
        discounted[part] = np.einsum("ij,j->i", np.diff(curve, axis=1, prepend=0.0), discount)
        total[part] = curve[:, -1]
    if fit.gamma_gamma is None:
        spend = np.full(len(x), np.nan)
    else:
        spend = clv_gamma.expected_spend(fit.gamma_gamma, x, np.where(x > 0, m, 0.0))
    return Predictions(total[inverse] * alive, alive, spend, spend * alive * discounted[inverse])


def holdout_check(
    fit: ClvFit,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    actual: np.ndarray,
    length: float,
    model: Model = "bgnbd",
) -> tuple[dict[str, Any], np.ndarray]:
    """Predicted E[Y(length) | x, t_x, T] against the actual repeat purchases in the holdout
    period: totals, mean absolute error per customer, and the means by calibration frequency
    (0, 1, …, 6, 7+) — the conditional-expectation check of FHL 2005. Returns the summary and the
    per-customer predictions."""
    module, params = _purchase_model(fit, model)
    x = np.asarray(x, dtype=float)
    actual = np.asarray(actual, dtype=float)
    predicted = module.expected_purchases(params, length, x, t_x, T)
    group = np.minimum(x, HOLDOUT_GROUPS).astype(int)
    rows = []
    for g in range(HOLDOUT_GROUPS + 1):
        sel = group == g
        n = int(sel.sum())
        if n == 0:
            continue
        rows.append(
            {
                "x": str(g) if g < HOLDOUT_GROUPS else f"{HOLDOUT_GROUPS}+",
                "customers": n,
                "actual": float(actual[sel].mean()),
                "predicted": float(predicted[sel].mean()),
            }
        )
    summary = {
        "length": float(length),
        "customers": len(x),
        "actual": float(actual.sum()),
        "predicted": float(predicted.sum()),
        "mae": float(np.abs(predicted - actual).mean()) if len(x) else 0.0,
        "by_frequency": rows,
    }
    return summary, predicted
