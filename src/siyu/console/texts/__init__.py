"""Console text in Simplified Chinese and English, one module per area of the console (so
pages are translated next to each other, not in one long file). Pages look words up by key; a
key missing in either language, or defined in two modules, fails tests/console/test_text.py."""

from __future__ import annotations

from siyu.console.texts import (
    analytics,
    analytics_loyalty,
    common,
    community,
    contacts,
    content,
    coupons,
    dashboard,
    distribution,
    events,
    graph,
    imports,
    journeys,
    loyalty,
    loyalty_engage,
    orders,
    privacy,
    referral_insights,
    referrals,
    retention,
    segments,
    settings,
    sop,
    wecom,
    wecom_ways,
)

LANGUAGES = ("zh", "en")
MODULES = (
    common,
    dashboard,
    contacts,
    imports,
    segments,
    journeys,
    sop,
    content,
    graph,
    analytics,
    analytics_loyalty,
    settings,
    privacy,
    retention,
    events,
    wecom_ways,
    community,
    wecom,
    orders,
    loyalty,
    coupons,
    loyalty_engage,
    referrals,
    referral_insights,
    distribution,
)
TEXT: dict[str, dict[str, str]] = {k: v for m in MODULES for k, v in m.TEXT.items()}


def tr(key: str, lang: str, /, **params: object) -> str:
    """The text for ``key`` in ``lang`` with ``{name}`` placeholders filled."""
    text = TEXT[key][lang if lang in LANGUAGES else "zh"]
    return text.format(**params) if params else text
