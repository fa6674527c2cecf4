"""SQL text with positional parameters, for the funnel and path statements Core cannot express.

Funnels and paths need ASOF joins, window frames and CTE chains generated step by step; they
are written as SQL text. Values still never enter the text: ``bind`` appends a parameter and
returns a placeholder, and Core expressions (the shared property-filter conditions, the
engine-specific constructs) are compiled for the engine with their parameters carried over in
order. ``render`` turns the markers into the driver's placeholders (``?`` for DuckDB, ``%s`` for
psycopg) so the recorded SQL reads like what ran.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from siyu.warehouse.query import DuckDBDialect

# "$N" placeholders are easy to find in compiled text (no regex or JSON path of ours contains "$"
# followed by a digit); they are replaced at once by markers that cannot occur in SQL.
_DIALECTS = {
    "duckdb": DuckDBDialect(paramstyle="numeric_dollar"),
    "postgresql": postgresql.dialect(paramstyle="numeric_dollar"),
}
_DOLLAR = re.compile(r"\$(\d+)")
_MARK = re.compile("\x00(\\d+)\x00")


class SqlText:
    """Collects parameters for one statement whose text is assembled by the caller."""

    def __init__(self, engine: str) -> None:
        if engine not in _DIALECTS:
            raise ValueError(f"unknown engine {engine!r}")
        self.engine = engine
        self._values: list[Any] = []

    @property
    def duckdb(self) -> bool:
        return self.engine == "duckdb"

    def bind(self, value: Any) -> str:
        """A placeholder for ``value``."""
        self._values.append(value)
        return f"\x00{len(self._values) - 1}\x00"

    def expr(self, clause: ClauseElement) -> str:
        """A Core expression as text for this engine, its parameters bound."""
        compiled = clause.compile(dialect=_DIALECTS[self.engine], compile_kwargs={"render_postcompile": True})
        order = list(compiled.positiontup or [])
        return _DOLLAR.sub(lambda m: self.bind(compiled.params[order[int(m.group(1)) - 1]]), str(compiled))

    def render(self, text: str) -> tuple[str, list[Any]]:
        """The statement with the driver's placeholders and its parameters in text order."""
        params: list[Any] = []
        out: list[str] = []
        pos = 0
        for m in _MARK.finditer(text):
            out.append(self._plain(text[pos : m.start()]))
            out.append("?" if self.duckdb else "%s")
            params.append(self._values[int(m.group(1))])
            pos = m.end()
        out.append(self._plain(text[pos:]))
        return "".join(out), params

    def _plain(self, text: str) -> str:
        # psycopg reads "%" as the start of a placeholder when parameters are given.
        return text if self.duckdb else text.replace("%", "%%")
