"""Funnel breakdowns on hand-made events, on every engine: by first-touch channel (names from the
system of record, ids without one, "(none)"), by an attribute with the most common values and
"(other)", and an empty funnel. Days are counted from T0 = Monday 2026-01-05."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from tests.analytics.conftest import Warehouse, day
from tests.analytics.funnels.test_funnels import STEPS, WEEK, C, O, V, counts, funnel, medians, run

from siyu.store.models import Channel


@pytest.fixture
def channels() -> Iterator[Session]:
    """A system of record holding two channel names (the runner reads names from it)."""
    engine = create_engine("sqlite://")
    Channel.__table__.create(engine)  # type: ignore[attr-defined]
    with Session(engine) as s:
        s.add_all(
            [
                Channel(id=10, key="wecom", name="WeCom 企业微信", kind="wecom", config={}),
                Channel(id=20, key="sms", name="SMS 短信", kind="sms", config={}),
            ]
        )
        s.commit()
        yield s
    engine.dispose()


def steps_of(out: dict[str, Any]) -> dict[str, list[int]]:
    return {v["value"]: counts(v) for v in out["breakdown"]["values"]}


def test_breakdown_by_first_channel(warehouse: Warehouse, channels: Session, snapshot: Any) -> None:
    src = warehouse.load(
        [
            (1, V, day(0)),
            (1, C, day(0, 1)),
            (2, V, day(0)),
            (3, V, day(0)),
            (3, C, day(0, 2)),
            (3, O, day(0, 3)),
            (4, V, day(0)),
            (4, C, day(0, 1)),
            (5, V, day(0)),
        ],
        contacts=[
            {"id": 1, "created_at": day(0), "first_channel_id": 10},
            {"id": 2, "created_at": day(0), "first_channel_id": 10},
            {"id": 3, "created_at": day(0), "first_channel_id": 20},
            {"id": 4, "created_at": day(0)},
            {"id": 5, "created_at": day(0), "first_channel_id": 30},  # not in the system of record
        ],
    )
    out = funnel(src, channels, breakdown={"by": "first_channel"})
    assert counts(out) == [5, 3, 1]
    assert steps_of(out) == {
        "WeCom 企业微信": [2, 1, 0],
        "SMS 短信": [1, 1, 1],
        "30": [1, 0, 0],
        "(none)": [1, 1, 0],
    }
    wecom = out["breakdown"]["values"][0]
    assert (wecom["channel_id"], wecom["key"]) == (10, "wecom")
    assert wecom["steps"][1]["conversion_from_first"] == 0.5
    assert out["breakdown"]["by"] == "first_channel"
    # Without a system of record the values are the channel ids.
    assert set(steps_of(funnel(src, breakdown={"by": "first_channel"}))) == {"10", "20", "30", "(none)"}
    result = run({"steps": STEPS, **WEEK, "breakdown": {"by": "first_channel"}}, src)
    frame = result.to_pandas()
    assert frame.columns[0] == "breakdown" and len(frame) == 12
    if src.engine == "duckdb":
        snapshot("funnel_breakdown_channel", result.sql)


def test_breakdown_by_attribute(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, V, day(0)),
            (1, C, day(0, 1)),
            (2, V, day(0)),
            (3, V, day(0)),
            (3, C, day(0, 1)),
            (4, V, day(0)),
        ],
        attributes=[(1, "city", "Shanghai"), (2, "city", "Shanghai"), (3, "city", "Beijing"), (4, "tier", 2)],
    )
    out = funnel(src, breakdown={"by": "attribute", "name": "city"})
    assert steps_of(out) == {"Shanghai": [2, 1, 0], "Beijing": [1, 1, 0], "(none)": [1, 0, 0]}
    assert [v["value"] for v in out["breakdown"]["values"]] == ["Shanghai", "Beijing", "(none)"]
    # Only the most common value by name; the rest together.
    limited = funnel(src, breakdown={"by": "attribute", "name": "city", "limit": 1})
    assert steps_of(limited) == {"Shanghai": [2, 1, 0], "(other)": [1, 1, 0], "(none)": [1, 0, 0]}
    assert steps_of(funnel(src, breakdown={"by": "attribute", "name": "tier"})) == {
        "2": [1, 0, 0],
        "(none)": [3, 2, 0],
    }


def test_empty(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, C, day(0)), (2, V, day(30))])
    out = funnel(src)
    assert counts(out) == [0, 0, 0]
    assert [s["conversion_from_first"] for s in out["steps"]] == [None, None, None]
    assert medians(out) == [None, None, None]
    with_breakdown = funnel(src, breakdown={"by": "first_channel"})
    assert counts(with_breakdown) == [0, 0, 0] and with_breakdown["breakdown"]["values"] == []
