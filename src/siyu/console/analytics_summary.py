"""The headline figures an analysis page shows above its chart, in the reader's language.

Some analyses carry figures that are not rows of their main table: breakage and the total
liability of ``points_liability``, the gap between members' and non-members' repurchase, the
number of members who moved tier. The page shows them as label → value pairs, worded and
formatted here (¥, %, thousands) from the result's JSON; analyses without any show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siyu.console.texts import tr

Pairs = list[tuple[str, str]]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _yuan(v: float | None) -> str:
    return "–" if v is None else f"¥{v:,.2f}"


def _range(p: dict[str, Any], lang: str) -> tuple[str, str]:
    start = p.get("from") or tr("analytics_s_all_time", lang)
    end = p.get("to") or "…"
    return tr("analytics_s_range", lang), f"{start} – {end}"


def _repurchase(p: dict[str, Any], lang: str) -> Pairs:
    d = p.get("difference")
    shown = "–" if d is None else tr("analytics_s_pp", lang, value=f"{d * 100:+.1f}")
    return [_range(p, lang), (tr("analytics_s_difference", lang), shown)]


def _liability(p: dict[str, Any], lang: str) -> Pairs:
    b, o = p["breakage"], p["outstanding"]

    def points(n: int, money: float | None) -> str:
        return tr("analytics_s_points_money", lang, points=f"{n:,}", money=f"{money or 0:,.2f}")

    value = f"¥{p['point_value']:g}"
    if not p.get("programme"):
        value += f" ({tr('analytics_s_no_programme', lang)})"
    return [
        (tr("analytics_s_outstanding", lang), f"{o['points']:,}"),
        (tr("analytics_s_liability", lang), _yuan(o["liability"])),
        (tr("analytics_s_point_value", lang), value),
        _range(p, lang),
        (tr("analytics_s_breakage", lang), _pct(b["breakage_rate"])),
        (tr("analytics_s_expired", lang), points(b["expired_points"], b["expired_value"])),
        (tr("analytics_s_spent", lang), points(b["spent_points"], b["spent_value"])),
        (tr("analytics_s_awarded", lang), f"{b['awarded_points']:,}"),
    ]


def _tiers(p: dict[str, Any], lang: str) -> Pairs:
    moved = {m: 0 for m in ("up", "down", "joined", "left")}
    for r in p["migration"]:
        if r["movement"] in moved:
            moved[r["movement"]] += r["members"]
    members = sum(r["members"] for r in p["distribution"])
    return [
        (tr("analytics_s_members", lang), f"{members:,}"),
        _range(p, lang),
        (tr("analytics_s_moved", lang), " / ".join(f"{n:,}" for n in moved.values())),
    ]


def _coupons(p: dict[str, Any], lang: str) -> Pairs:
    return [_range(p, lang)]


SUMMARIES: dict[str, Callable[[dict[str, Any], str], Pairs]] = {
    "member_repurchase": _repurchase,
    "points_liability": _liability,
    "tiers": _tiers,
    "coupons": _coupons,
}


def summary(kind: str, payload: Any, lang: str) -> Pairs:
    """Label → value pairs for the page of ``kind`` (none for analyses without headline figures)."""
    make = SUMMARIES.get(kind)
    return make(payload, lang) if make is not None and isinstance(payload, dict) else []
