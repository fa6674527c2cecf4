"""The runner base: parameters validated with field paths, SQL recorded, results cached by
(kind, parameters, data version) and recomputed when the data changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pyarrow as pa
import pytest
from pydantic import Field
from sqlalchemy import func, select
from tests.analytics.conftest import Warehouse, day

from siyu.analytics import base
from siyu.analytics.base import AnalyticsError, Params, QueryRunner, run_analysis
from siyu.analytics.result import AnalysisResult
from siyu.warehouse.query import EVENTS


class CountParams(Params):
    event: str = Field(min_length=1)
    minimum: int = Field(default=0, ge=0)


class CountResult(AnalysisResult):
    kind = "test_count"

    def __init__(self, contacts: int) -> None:
        super().__init__()
        self.contacts = contacts

    def frame(self) -> pa.Table:
        return pa.table({"contacts": [self.contacts]})

    def payload(self) -> dict[str, int]:
        return {"contacts": self.contacts}


class CountRunner(QueryRunner[CountParams, CountResult]):
    """Contacts who did an event (a stand-in analysis for testing the base)."""

    kind: ClassVar[str] = "test_count"
    params_model = CountParams
    calls: ClassVar[int] = 0

    def calculate(self) -> CountResult:
        type(self).calls += 1
        stmt = select(func.count(func.distinct(EVENTS.c.contact_id))).where(
            EVENTS.c.event == self.params.event
        )
        return CountResult(self.fetch(stmt).column(0)[0].as_py())


@pytest.fixture
def registered() -> Iterator[None]:
    base.register(CountRunner)
    CountRunner.calls = 0
    yield
    del base.RUNNERS["test_count"]


def test_results_are_cached_until_the_data_changes(warehouse: Warehouse, registered: None) -> None:
    src = warehouse.load([(1, "buy", day(0)), (2, "buy", day(1)), (2, "view", day(1))])
    first = run_analysis("test_count", {"event": "buy"}, src)
    assert first.to_dict() == {"contacts": 2}
    assert first.sql and "count(distinct" in first.sql[0].lower()
    again = run_analysis("test_count", {"event": "buy"}, src)
    assert again is first and CountRunner.calls == 1
    # other parameters are another entry
    assert run_analysis("test_count", {"event": "view"}, src).to_dict() == {"contacts": 1}
    assert CountRunner.calls == 2
    # without the cache it runs again
    assert run_analysis("test_count", {"event": "buy"}, src, use_cache=False).to_dict() == {"contacts": 2}
    assert CountRunner.calls == 3


def test_new_events_invalidate_the_cache(registered: None) -> None:
    import duckdb

    from siyu.analytics.base import DuckDBSource
    from siyu.warehouse.state import STATE_SCHEMA
    from siyu.warehouse.store import SCHEMA

    conn = duckdb.connect()
    conn.execute(SCHEMA)
    conn.execute(STATE_SCHEMA)
    src = DuckDBSource(conn)
    assert run_analysis("test_count", {"event": "buy"}, src).to_dict() == {"contacts": 0}
    conn.execute(
        "INSERT INTO events VALUES (1, 'm1', 7, NULL, 'track', 'buy', '{}', '{}', ?, ?)", [day(0), day(0)]
    )
    assert run_analysis("test_count", {"event": "buy"}, src).to_dict() == {"contacts": 1}


def test_bad_parameters_name_the_field(warehouse: Warehouse, registered: None) -> None:
    src = warehouse.load([(1, "buy", day(0))])
    with pytest.raises(AnalyticsError) as bad:
        run_analysis("test_count", {"event": "buy", "minimum": -1}, src)
    assert bad.value.field == "minimum"
    with pytest.raises(AnalyticsError) as extra:
        run_analysis("test_count", {"event": "buy", "colour": "red"}, src)
    assert extra.value.field == "colour"
    with pytest.raises(AnalyticsError) as unknown:
        run_analysis("no_such_analysis", {}, src)
    assert unknown.value.field == "kind" and "test_count" in unknown.value.message
    with pytest.raises(AnalyticsError, match="needs the warehouse"):
        run_analysis("test_count", {"event": "buy"}, None)


def test_result_conversions_agree(warehouse: Warehouse, registered: None) -> None:
    src = warehouse.load([(1, "buy", day(0)), (2, "buy", day(0))])
    result = run_analysis("test_count", {"event": "buy"}, src)
    assert result.to_pandas()["contacts"].tolist() == [2]
    assert result.to_polars()["contacts"].to_list() == [2]
    assert result.to_csv().splitlines() == ['"contacts"', "2"]
    assert result.to_json() == '{"contacts":2}'
