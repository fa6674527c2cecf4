"""Text counts as a number only in JSON's number syntax, on DuckDB and PostgreSQL alike
(``TryDouble``, used by segments, sums and averages, RFM and every analysis that reads amounts).
Testers found ``"05"``, ``"+5"``, ``".5"``, ``"5."`` and ``" 5"`` counted as numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from sqlalchemy import String, bindparam, create_engine, select
from tests.conftest import PG_URL

from siyu.warehouse.query import TryDouble, compile_sql

ENGINES = ["duckdb", "postgresql"] if PG_URL else ["duckdb"]

NUMBERS = {
    "5": 5.0,
    "-5": -5.0,
    "0": 0.0,
    "-0": 0.0,
    "0.5": 0.5,
    "-12.25": -12.25,
    "1e5": 1e5,
    "1E+5": 1e5,
    "2.5e-3": 0.0025,
    "1e0005": 1e5,
    "12345678901234567890": 12345678901234567890.0,
    "1.5e307": 1.5e307,
    "9" * 255: float("9" * 255),
    "1e-400": 0.0,  # too small for a double: 0 on both engines
}
NOT_NUMBERS = [
    "05",
    "+5",
    ".5",
    "5.",
    " 5",
    "5 ",
    "\t5",
    "5\n",
    "-05",
    "00",
    "--5",
    "0x10",
    "1_000",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "1e",
    "1e+",
    "e5",
    "",
    "abc",
    "５",  # a full-width digit
    "1e400",  # too large for a double: no number rather than infinity (or a failed query)
    "1e308",
    "9" * 256,  # more digits than a number may have
    "0." + "0" * 255 + "1",
    "1e99999",
]


@pytest.fixture(params=ENGINES)
def number_of(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``number_of(text)``: what the engine's TryDouble makes of the text."""

    def stmt(text: str) -> Any:
        return select(TryDouble(bindparam("v", text, type_=String())))

    if request.param == "duckdb":
        duck = duckdb.connect()
        yield lambda text: duck.execute(*compile_sql(stmt(text))).fetchone()[0]
        duck.close()
        return
    engine = create_engine(PG_URL)  # type: ignore[arg-type]
    with engine.connect() as conn:
        yield lambda text: conn.execute(stmt(text)).scalar()
    engine.dispose()


@pytest.mark.parametrize(("text", "expected"), list(NUMBERS.items()), ids=list(NUMBERS))
def test_json_numbers_are_numbers(number_of: Any, text: str, expected: float) -> None:
    assert number_of(text) == expected


@pytest.mark.parametrize("text", NOT_NUMBERS, ids=[repr(t)[:20] for t in NOT_NUMBERS])
def test_other_texts_are_no_number_and_never_fail_the_query(number_of: Any, text: str) -> None:
    assert number_of(text) is None
