"""Python API for analyses: ``s.analytics.funnel(steps=[...])`` and friends.

Every analysis feeds the warehouse first (so it sees what was accepted a moment ago), runs on
the embedded DuckDB warehouse, and returns a result object (``.to_pandas()``, ``.to_polars()``,
``.to_json()``, ``.figure()``) that no longer needs the warehouse.
"""

from __future__ import annotations

from typing import Any

from siyu.analytics.base import DuckDBSource, run_analysis, runner_for
from siyu.analytics.dashboard import Dashboard, dashboard
from siyu.analytics.result import AnalysisResult
from siyu.client.layers import _Part


class AnalyticsClient(_Part):
    def run(self, kind: str, params: dict[str, Any] | None = None, /, **kw: Any) -> AnalysisResult:
        """Run analysis ``kind``; parameters as a dict, keywords, or both (keywords win)."""
        runner = runner_for(kind)
        given = {**(params or {}), **kw}
        if "timezone" in runner.params_model.model_fields and given.get("timezone") is None:
            given["timezone"] = self.ctx.timezone()  # days and periods in the brand's zone
        parsed = runner.parse(given)
        if not runner.uses_warehouse(parsed):
            with self.ctx.db.session() as session:
                return run_analysis(kind, parsed, None, session)
        with self._work(write=False) as (session, wh):
            label = str(self.ctx.settings.resolved_warehouse_path)
            return run_analysis(kind, parsed, DuckDBSource(wh.conn, label), session)

    def dashboard(self, days: int = 30) -> Dashboard:
        """The console dashboard's numbers: the warehouse is fed once and its queries share it."""
        with self._work(write=False) as (session, wh):
            label = str(self.ctx.settings.resolved_warehouse_path)
            zone = self.ctx.timezone(session)
            return dashboard(session, DuckDBSource(wh.conn, label), days=days, timezone=zone)

    def __getattr__(self, kind: str) -> Any:
        """``s.analytics.retention(...)`` is ``s.analytics.run("retention", ...)`` for every kind."""
        if kind.startswith("_"):
            raise AttributeError(kind)
        runner_for(kind)  # unknown kinds fail here, naming the known ones

        def call(params: dict[str, Any] | None = None, /, **kw: Any) -> AnalysisResult:
            return self.run(kind, params, **kw)

        call.__name__ = kind
        return call
