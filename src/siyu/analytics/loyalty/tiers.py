"""Tier distribution and the tier migration matrix (``tiers``, 会员等级分布与迁移).

* **Distribution** (now): members per tier, from the membership table as it stands, every tier
  listed (empty ones too) in rank order; members without a tier are their own row.
* **Migration** between two days: each contact's tier at the start (the brand's midnight
  starting ``from``) and at the end (the midnight after ``to``), read from the tier history
  (``tier_changes``: the ``to`` tier of the contact's latest change before that instant), counted
  per (tier at start, tier at end). A contact with no change before an instant was not a member
  then (``none``): enrolments in the range are rows from ``none``. ``movement`` says ``up``,
  ``down``, ``same``, ``joined`` or ``left`` (by tier rank).

``table`` chooses which of the two is the main table (the CSV); the JSON has both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field
from sqlalchemy import func, select

from siyu.analytics.base import AnalyticsError, Day, register
from siyu.analytics.loyalty.base import RangeParams, RecordRunner, ratio
from siyu.analytics.result import AnalysisResult, table_from_rows
from siyu.store.models import LoyaltyMember, LoyaltyTier, TierChange

if TYPE_CHECKING:
    import plotly.graph_objects as go

DEFAULT_DAYS = 90
NONE = "none"
DISTRIBUTION = pa.schema(
    [
        ("tier", pa.string()),
        ("tier_name", pa.string()),
        ("tier_name_en", pa.string()),
        ("rank", pa.int64()),
        ("members", pa.int64()),
        ("share", pa.float64()),
    ]
)
MIGRATION = pa.schema(
    [
        ("from_tier", pa.string()),
        ("from_name", pa.string()),
        ("from_name_en", pa.string()),
        ("to_tier", pa.string()),
        ("to_name", pa.string()),
        ("to_name_en", pa.string()),
        ("movement", pa.string()),
        ("members", pa.int64()),
    ]
)
LABELS = {
    "zh": {
        "none": "非会员",
        "members": "会员数",
        "start": "期初等级",
        "end": "期末等级",
        "title": "会员等级",
    },
    "en": {
        "none": "not a member",
        "members": "Members",
        "start": "Tier at start",
        "end": "Tier at end",
        "title": "Tiers",
    },
}


class TiersParams(RangeParams):
    from_: Day | None = Field(default=None, alias="from", description="First day (default: to − 89 days).")
    to: Day | None = Field(default=None, description="Last day, inclusive (default: today, brand's zone).")
    table: Literal["distribution", "migration"] = Field(
        default="distribution", description="The main table (CSV): distribution now, or the migration matrix."
    )


class TiersResult(AnalysisResult):
    kind = "tiers"

    def __init__(
        self,
        params: TiersParams,
        info: dict[str, Any],
        distribution: list[dict[str, Any]],
        migration: list[dict[str, Any]],
        tiers: list[dict[str, Any]],
    ) -> None:
        super().__init__()
        self.params = params
        self.info = info
        self.distribution = distribution
        self.migration = migration
        self.tiers = tiers

    def frame(self) -> pa.Table:
        if self.params.table == "migration":
            return table_from_rows(self.migration, MIGRATION)
        return table_from_rows(self.distribution, DISTRIBUTION)

    def payload(self) -> dict[str, Any]:
        return {**self.info, "distribution": self.distribution, "migration": self.migration}

    def figure(self, lang: str = "en") -> go.Figure:
        from plotly.subplots import make_subplots

        text = LABELS.get(lang, LABELS["en"])
        name_key = "name" if lang == "zh" else "name_en"
        order = [*self.tiers, {"key": NONE, "name": text["none"], "name_en": text["none"]}]
        names = {t["key"]: t[name_key] for t in order}
        fig = make_subplots(
            rows=1,
            cols=2,
            column_widths=[0.4, 0.6],
            subplot_titles=(text["members"], f"{self.info['from']} – {self.info['to']}"),
        )
        fig.add_bar(
            x=[r["tier_name" if lang == "zh" else "tier_name_en"] for r in self.distribution],
            y=[r["members"] for r in self.distribution],
            customdata=[r["share"] for r in self.distribution],
            hovertemplate="%{x}: %{y:,} (%{customdata:.1%})<extra></extra>",
            showlegend=False,
            row=1,
            col=1,
        )
        keys = [t["key"] for t in order]
        cells = {(r["from_tier"], r["to_tier"]): r["members"] for r in self.migration}
        z = [[cells.get((a, b), 0) for b in keys] for a in keys]
        labels = [names[k] for k in keys]
        fig.add_heatmap(
            z=z,
            x=labels,
            y=labels,
            text=z,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate=f"{text['start']} %{{y}} → {text['end']} %{{x}}: %{{z:,}}<extra></extra>",
            row=1,
            col=2,
        )
        fig.update_xaxes(title_text=text["end"], type="category", row=1, col=2)
        fig.update_yaxes(title_text=text["start"], type="category", autorange="reversed", row=1, col=2)
        fig.update_layout(title=text["title"])
        return fig


@register
class TiersRunner(RecordRunner[TiersParams, TiersResult]):
    """Members per tier now, and the tier migration matrix between two days."""

    kind: ClassVar[str] = "tiers"
    params_model = TiersParams

    def compute(self) -> TiersResult:
        p = self.params
        to = p.to or self.today()
        start = p.from_ or to - timedelta(days=DEFAULT_DAYS - 1)
        if to < start:
            raise AnalyticsError("to", f"{to.isoformat()} is before from ({start.isoformat()})")
        tiers = [
            {"id": r.id, "key": r.key, "name": r.name, "name_en": r.name_en or r.name, "rank": r.rank}
            for r in self.rows(
                select(
                    LoyaltyTier.id, LoyaltyTier.key, LoyaltyTier.name, LoyaltyTier.name_en, LoyaltyTier.rank
                ).order_by(LoyaltyTier.rank)
            )
        ]
        by_id = {t["id"]: t for t in tiers}
        lo, hi = self.bounds(start, to)
        info = {"from": start.isoformat(), "to": to.isoformat(), "timezone": self.zone_name}
        return TiersResult(p, info, self._distribution(tiers, by_id), self._migration(lo, hi, by_id), tiers)

    def _distribution(self, tiers: list[dict[str, Any]], by_id: dict[int, Any]) -> list[dict[str, Any]]:
        stmt = select(LoyaltyMember.tier_id, func.count().label("n")).group_by(LoyaltyMember.tier_id)
        counts: dict[str, int] = {}
        for r in self.rows(stmt):
            key = by_id[r.tier_id]["key"] if r.tier_id in by_id else NONE
            counts[key] = counts.get(key, 0) + int(r.n)
        total = sum(counts.values())
        rows = [
            {
                "tier": t["key"],
                "tier_name": t["name"],
                "tier_name_en": t["name_en"],
                "rank": t["rank"],
                "members": counts.get(t["key"], 0),
                "share": ratio(counts.get(t["key"], 0), total),
            }
            for t in tiers
        ]
        if counts.get(NONE):
            rows.append(
                {
                    "tier": NONE,
                    "tier_name": "无等级",
                    "tier_name_en": "no tier",
                    "rank": None,
                    "members": counts[NONE],
                    "share": ratio(counts[NONE], total),
                }
            )
        return rows

    def _tier_at(self, at: datetime) -> dict[int, int | None]:
        """contact → tier id of its latest change before ``at`` (None: a change to no tier)."""
        latest = (
            select(
                TierChange.contact_id,
                TierChange.to_tier_id,
                func.row_number()
                .over(
                    partition_by=TierChange.contact_id, order_by=(TierChange.at.desc(), TierChange.id.desc())
                )
                .label("n"),
            )
            .where(TierChange.at < at)
            .subquery("latest")
        )
        stmt = select(latest.c.contact_id, latest.c.to_tier_id).where(latest.c.n == 1)
        return {int(r.contact_id): r.to_tier_id for r in self.rows(stmt)}

    def _migration(self, lo: datetime, hi: datetime, by_id: dict[int, Any]) -> list[dict[str, Any]]:
        before, after = self._tier_at(lo), self._tier_at(hi)
        counts: dict[tuple[str, str], int] = {}

        def key(tier_id: int | None) -> str:
            return by_id[tier_id]["key"] if tier_id in by_id else NONE

        for contact in set(before) | set(after):
            pair = (key(before.get(contact)), key(after.get(contact)))
            if pair != (NONE, NONE):
                counts[pair] = counts.get(pair, 0) + 1
        rank = {t["key"]: t["rank"] for t in by_id.values()}
        names = {t["key"]: (t["name"], t["name_en"]) for t in by_id.values()}
        names[NONE] = (LABELS["zh"]["none"], LABELS["en"]["none"])
        order = {k: i for i, k in enumerate(sorted(rank, key=rank.__getitem__))} | {NONE: len(rank)}
        rows = []
        for (a, b), n in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
            rows.append(
                {
                    "from_tier": a,
                    "from_name": names[a][0],
                    "from_name_en": names[a][1],
                    "to_tier": b,
                    "to_name": names[b][0],
                    "to_name_en": names[b][1],
                    "movement": _movement(a, b, rank),
                    "members": n,
                }
            )
        return rows


def _movement(a: str, b: str, rank: dict[str, int]) -> str:
    if a == NONE:
        return "joined"
    if b == NONE:
        return "left"
    return "same" if rank[a] == rank[b] else ("up" if rank[b] > rank[a] else "down")
