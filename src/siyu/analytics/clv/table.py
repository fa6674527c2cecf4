"""The tables and JSON documents of the ``clv`` and ``rfm`` results (kept apart from the runners
so each file reads in one sitting)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.analytics.clv.data import Summary
from siyu.analytics.clv.models import ClvFit, Predictions

CLV_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("x", pa.int64()),
        ("t_x", pa.float64()),
        ("T", pa.float64()),
        ("monetary", pa.float64()),
        ("expected_purchases", pa.float64()),
        ("p_alive", pa.float64()),
        ("expected_spend", pa.float64()),
        ("clv", pa.float64()),
    ]
)
#: Fewer customers than this earn a warning: the models have 4 (3) parameters to estimate from
#: mostly one or two numbers per customer.
FEW_CUSTOMERS = 200
RFM_SCORES = pa.schema(
    [
        ("contact_id", pa.int64()),
        ("r", pa.int32()),
        ("f", pa.int32()),
        ("m", pa.int32()),
        ("segment", pa.string()),
    ]
)


def _finite(values: np.ndarray) -> pa.Array:
    """NaN and ±inf (no Gamma-Gamma fit, q ≤ 1) become nulls, not numbers a spreadsheet sums."""
    values = np.asarray(values, dtype=float)
    return pa.array(values, mask=~np.isfinite(values))


def clv_table(
    names: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, monetary: np.ndarray, pred: Predictions
) -> pa.Table:
    """Per customer, highest CLV first (then most expected purchases, then customer id)."""
    clv = np.where(np.isfinite(pred.clv), pred.clv, -np.inf)
    order = np.lexsort((names, -pred.expected_purchases, -clv))
    columns = [
        pa.array(names[order], pa.string()),
        pa.array(x[order].astype(np.int64)),
        pa.array(t_x[order]),
        pa.array(T[order]),
        pa.array(np.asarray(monetary, dtype=float)[order]),
        _finite(pred.expected_purchases[order]),
        _finite(pred.p_alive[order]),
        _finite(pred.expected_spend[order]),
        _finite(pred.clv[order]),
    ]
    return pa.Table.from_arrays(columns, schema=CLV_SCHEMA)


def _total(values: np.ndarray) -> float | None:
    finite = np.isfinite(values)
    return float(values[finite].sum()) if finite.any() else None


def clv_payload(
    settings: dict[str, Any],
    fit: ClvFit,
    s: Summary,
    pred: Predictions,
    holdout: dict[str, Any] | None,
    table: pa.Table,
    top: int,
) -> dict[str, Any]:
    """The ``--json`` document: settings, the fitted parameters (top-level r, alpha, a, b, p, q,
    v as in the CLI contract), totals, the holdout check and the top customers by CLV."""
    bg, gg, pn = fit.bgnbd, fit.gamma_gamma, fit.pareto_nbd
    converged = bool(bg.converged and (gg is None or gg.converged) and (pn is None or pn.converged))
    warnings = []
    if len(s.codes) < FEW_CUSTOMERS:
        warnings.append(f"only {len(s.codes)} customers: the estimates are unreliable")
    if not converged:
        warnings.append("a maximum-likelihood fit did not converge")
    if gg is None:
        warnings.append("no repeat purchase has a positive amount: no spend model, CLV is null")
    elif gg.q <= 1:
        warnings.append(
            "Gamma-Gamma q <= 1: the mean spend is infinite for customers without repeat purchases"
        )
    return {
        **settings,
        "customers": len(s.codes),
        "repeat_customers": int((s.x > 0).sum()),
        "r": bg.r,
        "alpha": bg.alpha,
        "a": bg.a,
        "b": bg.b,
        "bgnbd_log_likelihood": bg.log_likelihood,
        "p": gg.p if gg else None,
        "q": gg.q if gg else None,
        "v": gg.gamma if gg else None,
        "gamma_gamma_log_likelihood": gg.log_likelihood if gg else None,
        "gamma_gamma_customers": gg.customers if gg else 0,
        "pareto_nbd": (
            {"r": pn.r, "alpha": pn.alpha, "s": pn.s, "beta": pn.beta, "log_likelihood": pn.log_likelihood}
            if pn
            else None
        ),
        "converged": converged,
        "warnings": warnings,
        "totals": {
            "expected_purchases": _total(pred.expected_purchases),
            "clv": _total(pred.clv),
            "mean_p_alive": float(pred.p_alive.mean()),
        },
        "holdout": holdout,
        "top": table.slice(0, top).to_pylist(),
    }


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32)).cast(pa.date32())


def rfm_table(s: Summary, unit_days: float, scores: pa.Table) -> pa.Table:
    """Per contact with orders: first/last order day, orders and revenue, frequency (repeat
    purchase days), recency (t_x) and T in the unit, monetary (mean repeat value), and the RFM
    scores and segment of the ``contact_rfm`` mirror (null when not scored)."""
    summary = pa.table(
        {
            "contact_id": pa.array(s.codes.astype(np.int64)),
            "first_order": _dates(s.first_day),
            "last_order": _dates(s.last_day),
            "orders": pa.array(s.orders.astype(np.int64)),
            "revenue": pa.array(s.revenue.astype(float)),
            "frequency": pa.array(s.x.astype(np.int64)),
            "recency": pa.array(s.t_x / unit_days),
            "T": pa.array(s.T / unit_days),
            "monetary": pa.array(s.monetary.astype(float)),
        }
    )
    scores = pa.Table.from_arrays(
        [pc.cast(scores.column(f.name), f.type) for f in RFM_SCORES], schema=RFM_SCORES
    )
    joined = summary.join(scores, keys="contact_id", join_type="left outer")
    return joined.sort_by("contact_id").select([*summary.column_names, "r", "f", "m", "segment"])
