"""Churn risk (``churn``): the probability that a contact shows no activity in the next
``horizon_days``, from recency / frequency / monetary / engagement features.

The model is validated the way it is used, forward in time. With cutoffs at the end of the
``as_of`` day (``C``), ``C − horizon`` and ``C − 2 × horizon``:

* **train** on features at ``C − 2h`` with labels from ``(C − 2h, C − h]``;
* **evaluate** the same model on features at ``C − h`` with labels from ``(C − h, C]`` (AUC);
* **score** every contact with features at ``C`` (its label lies in the future).

A random split would let the model learn from the same weeks it is tested on; the time-based
holdout never does. The model is a logistic regression on standardised, log-scaled features
(deterministic, readable weights, and sound on the small populations of a young brand, where
boosted trees cannot split); see docs/analytics/churn.md for the exact features.

Scores are stored only through :func:`score_and_store`, which a committing unit of work calls
(``siyu analytics churn --store``, ``s.scores.churn(store=True)``). It rewrites only rows whose
score changed and logs those contacts with ``note_changed``, so the warehouse mirror follows and
a segment ``{"type": "churn_risk", "op": "gte", "value": 0.85}`` picks them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, ValidationError
from sqlalchemy import Double, and_, cast, delete, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.types import Date

from siyu.analytics.activity.base import OrderParams, is_activity
from siyu.analytics.base import (
    AnalyticsError,
    Day,
    QueryRunner,
    Source,
    in_sane_range,
    params_error,
    register,
)
from siyu.analytics.result import AnalysisResult
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked
from siyu.store.models import ContactScore, utcnow
from siyu.warehouse.query import CONTACTS, EVENTS, AgeSeconds

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Features in model order; every one is ≥ 0 and enters the model as log(1 + x).
FEATURES = (
    "recency_days",
    "order_recency_days",
    "orders",
    "active_days_30",
    "active_days_90",
    "revenue",
    "mean_order_value",
    "events_7",
    "events_30",
    "events_90",
    "event_types",
    "tenure_days",
)
MODEL = "logistic_regression"
#: Standardised features are clipped to this many standard deviations of the training window:
#: tenure (for one) grows by 2 × horizon between training and scoring, and a linear model would
#: otherwise extrapolate far outside what it saw.
CLIP_SD = 3.0
#: Scores are rounded to 0.01 percentage points: finer differences mean nothing for a decision,
#: and neither engines' floating-point differences nor tiny day-to-day drift should count as a
#: change that rewrites a stored score (and makes every segment re-evaluate the contact).
DECIMALS = 4


def model_label(horizon_days: int) -> str:
    """What ``contact_scores.model`` records: the model and the horizon it predicts."""
    return f"churn-logreg/h{horizon_days}"


class ChurnParams(OrderParams):
    as_of: Day | None = Field(default=None, description="Scoring day (default: the last event day).")
    horizon_days: int = Field(default=30, ge=1, le=365)
    threshold: float = Field(default=0.85, ge=0.0, le=1.0, description="At-risk when churn_risk ≥ this.")
    inactive_days: int | None = Field(
        default=None, ge=1, le=3660, description="Leave out contacts inactive this long at a cutoff."
    )
    store: bool = Field(default=False, description="Write the scores (only through a committing call).")
    top: int = Field(default=20, ge=0, le=1000, description="Contacts listed in the payload.")


@dataclass
class Population:
    """Features (and labels, where known) of the contacts active before one cutoff."""

    cutoff: datetime
    contact_ids: np.ndarray
    features: np.ndarray  # contacts × FEATURES
    churned: np.ndarray | None  # 1 = no activity in the horizon after the cutoff


class ChurnResult(AnalysisResult):
    """Scores ranked by risk (highest first, then contact id), kept as arrays: a million scored
    contacts are a million rows of the frame, not a million dicts."""

    kind = "churn"

    def __init__(
        self, info: dict[str, Any], contact_ids: np.ndarray, risks: np.ndarray, features: np.ndarray, top: int
    ) -> None:
        super().__init__()
        self.info = info
        self.contact_ids = contact_ids
        self.risks = risks
        self.features = features
        self.top = top
        #: Counts of the scores written, when stored (``score_and_store``).
        self.stored: dict[str, int] | None = None

    def frame(self) -> pa.Table:
        columns = {"contact_id": pa.array(self.contact_ids, pa.int64()), "churn_risk": pa.array(self.risks)}
        columns |= {f: pa.array(self.features[:, j]) for j, f in enumerate(FEATURES)}
        return pa.table(columns)

    def head(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` riskiest contacts with their features."""
        return self.frame().slice(0, n).to_pylist()

    def payload(self) -> dict[str, Any]:
        return {**self.info, "stored": self.stored, "top": self.head(self.top)}

    def scores(self) -> list[tuple[int, float]]:
        return list(zip(self.contact_ids.tolist(), self.risks.tolist(), strict=True))

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        fig = go.Figure(go.Histogram(x=self.risks, xbins={"start": 0, "end": 1, "size": 0.05}))
        fig.add_vline(x=self.info["threshold"], line_dash="dash", annotation_text="threshold")
        fig.update_layout(title=f"Churn risk as of {self.info['as_of']}", xaxis_title="churn risk")
        return fig


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time())


def _days(seconds: Any) -> Any:
    return seconds / literal(86_400.0, Double())


def _transform(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))


@register
class ChurnRunner(QueryRunner[ChurnParams, ChurnResult]):
    """Train on one window, evaluate on the next, score at ``as_of``."""

    kind: ClassVar[str] = "churn"
    params_model = ChurnParams

    def calculate(self) -> ChurnResult:
        p = self.params
        if p.store:
            raise AnalyticsError(
                "store",
                "this call is read-only; store scores with `siyu analytics churn --store` "
                "or s.scores.churn(store=True)",
            )
        as_of = p.as_of or self._last_event_day()
        h = timedelta(days=p.horizon_days)
        score_at = _day_end(as_of)
        train, holdout, scored = self.populations([score_at - 2 * h, score_at - h, score_at])
        if len(train.contact_ids) == 0:
            first = (score_at - 2 * h).date().isoformat()
            raise AnalyticsError(
                "as_of",
                f"nobody was active before {first} (as_of − 2 × horizon_days): too little history to train",
            )
        predict, weights = _fit(train)
        auc, reason = _auc(holdout, predict)
        risks = np.round(predict(scored.features), DECIMALS) if len(scored.contact_ids) else np.zeros(0)
        order = np.lexsort((scored.contact_ids, -risks))
        assert train.churned is not None and holdout.churned is not None
        info = {
            "as_of": as_of.isoformat(),
            "horizon_days": p.horizon_days,
            "threshold": p.threshold,
            "model": MODEL,
            "cutoffs": {
                "train": train.cutoff.isoformat(),
                "holdout": holdout.cutoff.isoformat(),
                "score": score_at.isoformat(),
            },
            "auc": auc,
            "auc_reason": reason,
            "train_contacts": len(train.contact_ids),
            "train_churn_rate": _rate(train.churned),
            "holdout_contacts": len(holdout.contact_ids),
            "holdout_churn_rate": _rate(holdout.churned),
            "scored_contacts": len(order),
            "at_risk": int(np.sum(risks >= p.threshold)),
            "weights": weights,
        }
        return ChurnResult(info, scored.contact_ids[order], risks[order], scored.features[order], p.top)

    # --- the warehouse -----------------------------------------------------------------------
    def _last_event_day(self) -> date:
        stmt = select(cast(func.max(EVENTS.c.timestamp), Date()).label("day")).where(
            is_activity(), in_sane_range(EVENTS.c.timestamp)
        )
        last = self.fetch(stmt).column(0)[0].as_py()
        if last is None:
            raise AnalyticsError("as_of", "the warehouse has no activity to learn from")
        return last if not isinstance(last, datetime) else last.date()

    def populations(self, cutoffs: list[datetime]) -> list[Population]:
        """Features at each cutoff (midnights, ascending) of every live contact active before
        it, and whether it was inactive in the horizon after it (labels are known for all but
        the last cutoff). One query: events are rolled up per contact and day (and per contact
        and event name, for the distinct names) once, and every cutoff is a filter on the days;
        distinct-day counts straight off the events were several times slower in DuckDB."""
        p = self.params
        ts = EVENTS.c.timestamp
        is_order = p.is_order()
        amount = p.amount()
        live = (
            select(EVENTS.c.contact_id, EVENTS.c.event, EVENTS.c.type, EVENTS.c.properties, ts)
            .select_from(EVENTS.join(CONTACTS, CONTACTS.c.id == EVENTS.c.contact_id))
            .where(is_activity(), CONTACTS.c.merged_into_id.is_(None), ts < cutoffs[-1])
        )
        day = cast(ts, Date())
        daily = (
            live.with_only_columns(
                EVENTS.c.contact_id.label("contact_id"),
                day.label("d"),
                func.count().label("n"),
                func.min(ts).label("first_at"),
                func.max(ts).label("last_at"),
                func.count().filter(is_order).label("orders"),
                func.max(ts).filter(is_order).label("last_order_at"),
                func.sum(amount).filter(is_order).label("revenue"),
            )
            .group_by(EVENTS.c.contact_id, day)
            .subquery("daily")
        )
        name = func.coalesce(EVENTS.c.event, EVENTS.c.type)
        named = (
            live.with_only_columns(EVENTS.c.contact_id.label("contact_id"), func.min(day).label("d"))
            .group_by(EVENTS.c.contact_id, name)
            .subquery("named")
        )
        d = daily.c.d
        cols: list[Any] = [daily.c.contact_id]
        kinds: list[Any] = [named.c.contact_id]
        for i, cutoff in enumerate(cutoffs):
            first_day = cutoff.date()
            before = d < first_day

            def since(days: int, before: Any = before, first_day: date = first_day) -> Any:
                return and_(before, d >= first_day - timedelta(days=days))

            cols += [
                func.count().filter(before).label(f"active_{i}"),
                _days(AgeSeconds(func.max(daily.c.last_at).filter(before), cutoff)).label(
                    f"recency_days_{i}"
                ),
                _days(AgeSeconds(func.max(daily.c.last_order_at).filter(before), cutoff)).label(
                    f"order_recency_days_{i}"
                ),
                func.coalesce(func.sum(daily.c.orders).filter(before), 0).label(f"orders_{i}"),
                func.count().filter(since(30)).label(f"active_days_30_{i}"),
                func.count().filter(since(90)).label(f"active_days_90_{i}"),
                func.coalesce(func.sum(daily.c.revenue).filter(before), 0.0).label(f"revenue_{i}"),
                *(
                    func.coalesce(func.sum(daily.c.n).filter(since(n)), 0).label(f"events_{n}_{i}")
                    for n in (7, 30, 90)
                ),
                _days(AgeSeconds(func.min(daily.c.first_at).filter(before), cutoff)).label(
                    f"tenure_days_{i}"
                ),
            ]
            if i + 1 < len(cutoffs):
                after = and_(d >= first_day, d < cutoffs[i + 1].date())
                cols.append(func.coalesce(func.sum(daily.c.n).filter(after), 0).label(f"future_events_{i}"))
            kinds.append(func.count().filter(named.c.d < first_day).label(f"event_types_{i}"))
        per_contact = select(*cols).group_by(daily.c.contact_id).subquery("per_contact")
        per_name = select(*kinds).group_by(named.c.contact_id).subquery("per_name")
        stmt = (
            select(per_contact, *(c for c in per_name.c if c.name != "contact_id"))
            .select_from(per_contact.join(per_name, per_name.c.contact_id == per_contact.c.contact_id))
            .order_by(per_contact.c.contact_id)
        )
        table = self.fetch(stmt)
        return [self._population(table, i, cutoff, i + 1 < len(cutoffs)) for i, cutoff in enumerate(cutoffs)]

    def _population(self, table: pa.Table, i: int, cutoff: datetime, labelled: bool) -> Population:
        keep = _floats(table.column(f"active_{i}")) > 0 if table.num_rows else np.zeros(0, dtype=bool)
        if self.params.inactive_days is not None and table.num_rows:
            keep &= _floats(table.column(f"recency_days_{i}")) <= self.params.inactive_days
        n = int(keep.sum())
        matrix = np.zeros((n, len(FEATURES)))
        for j, feature in enumerate(FEATURES):
            if feature != "mean_order_value" and n:
                matrix[:, j] = _floats(table.column(f"{feature}_{i}"))[keep]
        o, r = FEATURES.index("orders"), FEATURES.index("revenue")
        matrix[:, FEATURES.index("mean_order_value")] = np.divide(
            matrix[:, r], matrix[:, o], out=np.zeros(n), where=matrix[:, o] > 0
        )
        # never ordered: as if the last order were the first activity (orders = 0 tells them apart)
        rec = FEATURES.index("order_recency_days")
        missing = np.isnan(matrix[:, rec])
        matrix[missing, rec] = matrix[missing, FEATURES.index("tenure_days")]
        churned = None
        if labelled:
            churned = (
                (_floats(table.column(f"future_events_{i}"))[keep] == 0).astype(int)
                if n
                else np.zeros(0, int)
            )
        ids = pc.cast(table.column("contact_id"), pa.int64()).to_numpy()[keep] if n else np.zeros(0, np.int64)
        return Population(cutoff, ids, matrix, churned)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    """A column as float64 with NaN for NULL (PostgreSQL hands back Decimals for some sums)."""
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


def _rate(labels: np.ndarray) -> float | None:
    return round(float(labels.mean()), DECIMALS) if len(labels) else None


def _fit(train: Population) -> tuple[Any, dict[str, float] | None]:
    """The fitted model as a function of features; with one class only, that class's rate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    assert train.churned is not None
    if len(set(train.churned.tolist())) < 2:
        rate = float(train.churned[0])
        return (lambda x: np.full(len(x), rate)), None
    clip = FunctionTransformer(np.clip, kw_args={"a_min": -CLIP_SD, "a_max": CLIP_SD})
    model = make_pipeline(StandardScaler(), clip, LogisticRegression(C=1.0, max_iter=1000, random_state=0))
    model.fit(_transform(train.features), train.churned)
    coef = model[-1].coef_[0]
    weights = {f: round(float(c), 4) for f, c in zip(FEATURES, coef, strict=True)}
    return (lambda x: model.predict_proba(_transform(x))[:, 1]), weights


def _auc(holdout: Population, predict: Any) -> tuple[float | None, str | None]:
    from sklearn.metrics import roc_auc_score

    assert holdout.churned is not None
    if len(holdout.contact_ids) == 0:
        return None, "nobody was active before the holdout cutoff"
    kinds = set(holdout.churned.tolist())
    if len(kinds) < 2:
        which = "churned" if kinds == {1} else "stayed active"
        return None, f"every holdout contact {which}: AUC needs both outcomes"
    return round(float(roc_auc_score(holdout.churned, predict(holdout.features))), DECIMALS), None


# --- storing -----------------------------------------------------------------------------------------
class ChurnScoreService:
    """Keeps ``contact_scores`` equal to the latest scoring run, writing only what changed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def store(
        self, scores: list[tuple[int, float]], model: str, at: datetime | None = None
    ) -> dict[str, int]:
        """Insert new scores, update changed ones, delete scores of contacts no longer scored;
        logs every contact touched so the warehouse mirror and segments follow."""
        now = at or utcnow()
        old = {
            int(c): (float(r), m)
            for c, r, m in self.session.execute(
                select(ContactScore.contact_id, ContactScore.churn_risk, ContactScore.model)
            ).all()
        }
        new = dict(scores)
        inserts = [c for c in new if c not in old]
        updates = [
            c for c in new if c in old and (abs(old[c][0] - new[c]) > 10**-DECIMALS / 2 or old[c][1] != model)
        ]
        gone = sorted(c for c in old if c not in new)
        for chunk in chunked(sorted({*updates, *gone})):
            self.session.execute(delete(ContactScore).where(ContactScore.contact_id.in_(chunk)))
        rows = [
            {"contact_id": c, "churn_risk": new[c], "computed_at": now, "model": model}
            for c in sorted({*inserts, *updates})
        ]
        for chunk in chunked(rows, 5_000):
            self.session.execute(ContactScore.__table__.insert(), list(chunk))
        note_changed(self.session, [*inserts, *updates, *gone])
        return {
            "inserted": len(inserts),
            "updated": len(updates),
            "deleted": len(gone),
            "unchanged": len(new) - len(inserts) - len(updates),
        }


def score_and_store(session: Session, source: Source, params: dict[str, Any] | ChurnParams) -> ChurnResult:
    """Score and (when ``store``) write the scores into ``session``; the caller commits."""
    if isinstance(params, dict):
        try:
            params = ChurnParams.model_validate(params)
        except ValidationError as exc:
            raise params_error(exc) from exc
    store = params.store
    result = ChurnRunner(params.model_copy(update={"store": False}), source, session).run(use_cache=False)
    if store:
        result.stored = ChurnScoreService(session).store(result.scores(), model_label(params.horizon_days))
    return result


__all__ = ["FEATURES", "ChurnParams", "ChurnResult", "ChurnRunner", "ChurnScoreService", "score_and_store"]
