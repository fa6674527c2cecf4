"""Churn risk: features at a cutoff on a hand fixture, the time-based holdout on a synthetic
population whose outcome is known by construction, null AUC when everyone churns, the threshold,
and stored scores end to end (client → contact_scores → warehouse mirror → segment condition →
win-back journey). Runs on DuckDB and PostgreSQL warehouses, and SQLite and PostgreSQL systems
of record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, run_analysis
from siyu.analytics.churn import FEATURES, model_label
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.triggers import TriggerFollower
from siyu.store.models import ContactChange, ContactScore, ContactTag, Identity, JourneyEnrolment, Tag, utcnow
from siyu.warehouse.store import Warehouse as Store

AS_OF = day(59).date()  # scoring cutoff: day 60, 00:00; holdout cutoff day 30; training cutoff day 0


# --- features ----------------------------------------------------------------------------------------
def test_features_at_the_cutoff(warehouse: Warehouse, snapshot: Any) -> None:
    events = [
        (1, "Page Viewed", day(-10, 9)),
        (1, "Order Completed", day(20, 12), {"amount": 100}),
        (1, "Order Completed", day(45, 6), {"amount": 50}),
        (1, "Product Viewed", day(55)),
        (1, "Product Viewed", day(55, 12)),
        (1, "Page Viewed", day(58, 18)),
        (1, "segment.entered", day(59, 12)),  # written by siyu: not activity
        (1, "Page Viewed", day(61)),  # after the cutoff
        (2, "Page Viewed", day(-5)),
        (3, "Page Viewed", day(-5)),  # merged into 1: never scored
        (4, "tag.added", day(-5)),  # only system events: not a customer
    ]
    contacts = [{"id": 3, "created_at": day(-5), "merged_into_id": 1}]
    src = warehouse.load(events, contacts=contacts)
    result = run_analysis("churn", {"as_of": AS_OF}, src)
    assert len(result.sql) == 1  # every cutoff (training, holdout, scoring) in one query
    if warehouse.engine == "duckdb":
        snapshot("churn", result.sql)
    rows = {r["contact_id"]: r for r in result.to_pandas().to_dict("records")}
    assert sorted(rows) == [1, 2]
    one = {f: rows[1][f] for f in FEATURES}
    assert one == pytest.approx(
        {
            "recency_days": 1.25,  # day 58 18:00 → day 60
            "order_recency_days": 14.75,  # day 45 06:00
            "orders": 2,
            "active_days_30": 3,  # days 45, 55, 58 (from day 30)
            "active_days_90": 5,  # and days -10, 20
            "revenue": 150,
            "mean_order_value": 75,
            "events_7": 3,  # day 55 twice, day 58 (from day 53)
            "events_30": 4,
            "events_90": 6,
            "event_types": 3,
            "tenure_days": 69.625,  # day -10 09:00
        }
    )
    two = {f: rows[2][f] for f in FEATURES}
    assert two == pytest.approx(
        {
            "recency_days": 65,
            "order_recency_days": 65,  # never ordered: counted from the first activity
            "orders": 0,
            "active_days_30": 0,
            "active_days_90": 1,
            "revenue": 0,
            "mean_order_value": 0,
            "events_7": 0,
            "events_30": 0,
            "events_90": 1,
            "event_types": 1,
            "tenure_days": 65,
        }
    )
    payload = result.to_dict()
    # training at day 0: 1 active in the next 30 days (day 20), 2 not; holdout at day 30 likewise
    assert (payload["train_contacts"], payload["train_churn_rate"]) == (2, 0.5)
    assert (payload["holdout_contacts"], payload["holdout_churn_rate"]) == (2, 0.5)
    assert payload["cutoffs"] == {
        "train": "2026-01-05T00:00:00",
        "holdout": "2026-02-04T00:00:00",
        "score": "2026-03-06T00:00:00",
    }


# --- the model ---------------------------------------------------------------------------------------
def synthetic(
    stops: tuple[int, ...], gaps: tuple[int, ...] = (1, 2, 3), copies: int = 2
) -> tuple[list, dict]:
    """Contacts active every ``gap`` days from day -60 (or -59) until their stop day, with an
    order every tenth day: whether a contact churns after a cutoff is known by construction."""
    events: list[tuple[Any, ...]] = []
    stop_of: dict[int, int] = {}
    for stop in stops:
        for gap in gaps:
            for copy in range(copies):
                cid = len(stop_of) + 1
                stop_of[cid] = stop
                for d in range(-60 + copy, min(stop, 100) + 1, gap):
                    if d % 10 == 0:
                        events.append((cid, "Order Completed", day(d, 10), {"amount": 20}))
                    else:
                        events.append((cid, "Page Viewed", day(d, 10)))
    return events, stop_of


def test_time_based_holdout_auc_and_threshold(warehouse: Warehouse) -> None:
    events, stop_of = synthetic((-40, -20, 15, 45, 100))
    src = warehouse.load(events)
    result = run_analysis("churn", {"as_of": AS_OF, "threshold": 0.5, "top": 5}, src)
    p = result.to_dict()
    # training at day 0: the 12 contacts that stopped on day -40 or -20 churn, 18 do not;
    # holdout at day 30: those that stopped by day 15 churn (18 of 30)
    assert (p["train_contacts"], p["train_churn_rate"]) == (30, 0.4)
    assert (p["holdout_contacts"], p["holdout_churn_rate"]) == (30, 0.6)
    assert p["auc"] > 0.9 and p["auc_reason"] is None
    assert p["scored_contacts"] == 30 and len(p["top"]) == 5
    ranked_rows = result.frame().to_pylist()
    risks = {r["contact_id"]: r["churn_risk"] for r in ranked_rows}
    # at day 60 everyone who stopped (14 days or more of silence) is at risk; still-active are not
    gone = {c for c, stop in stop_of.items() if stop <= 45}
    assert p["at_risk"] == len(gone) == 24
    assert {c for c, r in risks.items() if r >= 0.5} == gone
    ranked = [r["contact_id"] for r in ranked_rows]
    assert set(ranked[:18]) == {c for c, stop in stop_of.items() if stop <= 15}
    assert [r["churn_risk"] for r in ranked_rows] == sorted(risks.values(), reverse=True)
    strict = run_analysis("churn", {"as_of": AS_OF, "threshold": 0.95}, src).to_dict()
    assert strict["at_risk"] == 18 and strict["auc"] == p["auc"]
    # deterministic: the same data gives the same scores
    again = run_analysis("churn", {"as_of": AS_OF, "threshold": 0.5}, src, use_cache=False)
    assert again.scores() == result.scores()


def test_inactive_days_leaves_lapsed_contacts_out(warehouse: Warehouse) -> None:
    events, _ = synthetic((-40, -20, 15, 45, 100))
    src = warehouse.load(events)
    p = run_analysis("churn", {"as_of": AS_OF, "inactive_days": 30}, src).to_dict()
    # day 0: the day -40 stoppers are out; day 30: -20 too; day 60: the day 15 stoppers as well
    assert (p["train_contacts"], p["holdout_contacts"], p["scored_contacts"]) == (24, 18, 12)


def test_auc_is_null_when_every_contact_churns(warehouse: Warehouse) -> None:
    events, _ = synthetic((-30, -20), gaps=(2,), copies=2)
    src = warehouse.load(events)
    p = run_analysis("churn", {"as_of": AS_OF}, src).to_dict()
    assert (p["train_churn_rate"], p["holdout_churn_rate"], p["auc"]) == (1.0, 1.0, None)
    assert p["auc_reason"] == "every holdout contact churned: AUC needs both outcomes"
    assert p["weights"] is None  # one class: the score is its rate
    assert [r["churn_risk"] for r in p["top"]] == [1.0] * 4 and p["at_risk"] == 4


def test_errors_name_the_parameter(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, "Page Viewed", day(0))])
    with pytest.raises(AnalyticsError) as early:
        run_analysis("churn", {"as_of": day(10).date()}, src)  # training cutoff day -49: nobody yet
    assert early.value.field == "as_of" and "too little history" in early.value.message
    with pytest.raises(AnalyticsError) as store:
        run_analysis("churn", {"store": True}, src)
    assert store.value.field == "store" and "--store" in store.value.message
    with pytest.raises(AnalyticsError) as bad:
        run_analysis("churn", {"horizon_days": 0}, src)
    assert bad.value.field == "horizon_days"


# --- stored scores, the segment condition, a win-back journey ---------------------------------------
WIN_BACK = {
    "key": "win-back",
    "name": "Win-back 召回",
    "trigger": {"segment_entered": "at-risk"},
    "steps": [{"id": "mark", "add_tag": "win-back"}],
}


def test_stored_scores_drive_a_segment_and_a_win_back_journey(ctx: AppContext) -> None:
    client = Siyu(ctx)
    events, stop_of = synthetic((-40, -20, 100), gaps=(2, 3))
    calls = [
        {
            "type": "track",
            "event": name,
            "userId": f"u{cid}",
            "properties": props[0] if props else {},
            "timestamp": ts.isoformat() + "Z",
            "messageId": f"m{i}",
        }
        for i, (cid, name, ts, *props) in enumerate(events)
    ]
    assert client.batch(calls).rejected == []
    with ctx.db.session() as s:
        ids = dict(
            s.execute(select(Identity.value, Identity.contact_id).where(Identity.type == "customer_no")).all()
        )
    lapsed = sorted(ids[f"u{c}"] for c, stop in stop_of.items() if stop < 0)
    client.segments.create(
        {"key": "at-risk", "name": "At risk", "definition": {"type": "churn_risk", "value": 0.85}}
    )
    client.journeys.create(WIN_BACK)
    client.journeys.start("win-back")
    follow(ctx)  # the follower's cursor starts here

    result = client.scores.churn(as_of=AS_OF, store=True)
    assert result.stored == {"inserted": 12, "updated": 0, "deleted": 0, "unchanged": 0}
    assert result.to_dict()["at_risk"] == len(lapsed) == 8
    with ctx.db.session() as s:
        stored = {
            c: (r, m)
            for c, r, m in s.execute(
                select(ContactScore.contact_id, ContactScore.churn_risk, ContactScore.model)
            )
        }
    assert stored == {c: (r, model_label(30)) for c, r in result.scores()}
    wh = Store(ctx.settings.resolved_warehouse_path)
    try:
        mirrored = dict(wh.conn.execute("SELECT contact_id, churn_risk FROM contact_scores").fetchall())
    finally:
        wh.close()
    assert mirrored == {c: r for c, (r, _) in stored.items()}

    entered = client.segments.recompute("at-risk")[0]["entered"]
    assert sorted(entered) == lapsed
    assert client.segments.preview({"type": "churn_risk", "op": "lt", "value": 0.85})["count"] == 4
    assert follow(ctx) == len(lapsed)
    with ctx.db.session() as s:
        Engine(s, ctx.keyring, EngineConfig(marketing_consent_default=True)).run_due(
            100, now=utcnow() + timedelta(seconds=10)
        )
    with ctx.db.session() as s:
        enrolled = sorted(s.scalars(select(JourneyEnrolment.contact_id)))
        tagged = sorted(
            s.scalars(
                select(ContactTag.contact_id)
                .join(Tag, Tag.id == ContactTag.tag_id)
                .where(Tag.key == "win-back")
            )
        )
    assert enrolled == tagged == lapsed

    # scoring again with nothing new writes nothing and logs nobody
    changes = changes_logged(ctx)
    again = client.scores.churn(as_of=AS_OF, store=True)
    assert again.stored == {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 12}
    assert changes_logged(ctx) == changes


def changes_logged(ctx: AppContext) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(ContactChange)) or 0)


def follow(ctx: AppContext) -> int:
    """Run the trigger follower as if a few seconds had passed (events count once settled)."""
    with ctx.db.session() as s:
        return TriggerFollower(s).run(now=utcnow() + timedelta(seconds=10)).enrolled
