"""Python API for the two analytics calls that write: ``s.spend`` (channel spend, the cost side
of ``roi``) and ``s.scores`` (stored churn scores, which segments and journeys use).

``s.analytics.run(...)`` is read-only; these open their own unit of work and commit, as every
other writing client call does. Storing scores also feeds the warehouse before (the model must
see the latest events) and after (so the ``contact_scores`` mirror, and with it the segment
condition ``churn_risk``, is current for the next call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siyu.analytics.base import DuckDBSource
from siyu.analytics.churn import ChurnResult, score_and_store
from siyu.analytics.economics.spend import SpendService
from siyu.client.layers import _Part
from siyu.context import AppContext


class SpendClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def import_csv(self, path: str | Path, actor: str = "python", name: str | None = None) -> dict[str, Any]:
        """Import a spend CSV; committed when this returns. Bad rows are reported in
        ``rejected`` (line, field, reason) and the valid ones stored; a file that cannot be read
        as a whole (its header, its encoding) raises SpendImportError naming the line.
        ``name`` is what the report calls the file (default: its file name)."""
        with self.ctx.db.session() as s:
            return SpendService(s).import_csv(Path(path), actor=actor, name=name).to_dict()

    def list(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return SpendService(s).list(channel)


class ScoresClient(_Part):
    def churn(self, params: dict[str, Any] | None = None, /, **kw: Any) -> ChurnResult:
        """Run the churn analysis; with ``store=True`` write the scores to ``contact_scores``
        (only the changed ones) and commit. The result's ``stored`` counts what was written."""
        merged = {**(params or {}), **kw}
        with self._work(write=bool(merged.get("store"))) as (s, wh):
            return score_and_store(s, DuckDBSource(wh.conn), merged)
