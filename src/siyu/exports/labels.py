"""Column headers of analytics downloads in the reader's language. A name not listed keeps its
code name (the REST API's CSV always does, for scripts)."""

from __future__ import annotations

ANALYTICS_HEADERS: dict[str, dict[str, str]] = {
    "day": {"zh": "日期", "en": "Day"},
    "date": {"zh": "日期", "en": "Date"},
    "week": {"zh": "周", "en": "Week"},
    "month": {"zh": "月份", "en": "Month"},
    "period": {"zh": "周期", "en": "Period"},
    "cohort": {"zh": "同期群", "en": "Cohort"},
    "channel": {"zh": "渠道", "en": "Channel"},
    "event": {"zh": "事件", "en": "Event"},
    "segment": {"zh": "分层", "en": "Segment"},
    "step": {"zh": "步骤", "en": "Step"},
    "name": {"zh": "名称", "en": "Name"},
    "contacts": {"zh": "客户数", "en": "Contacts"},
    "users": {"zh": "用户数", "en": "Users"},
    "active": {"zh": "活跃客户", "en": "Active"},
    "new": {"zh": "新客户", "en": "New"},
    "count": {"zh": "数量", "en": "Count"},
    "total": {"zh": "合计", "en": "Total"},
    "orders": {"zh": "订单数", "en": "Orders"},
    "revenue": {"zh": "收入（元）", "en": "Revenue (¥)"},
    "amount": {"zh": "金额（元）", "en": "Amount (¥)"},
    "value": {"zh": "数值", "en": "Value"},
    "rate": {"zh": "比率", "en": "Rate"},
    "share": {"zh": "占比", "en": "Share"},
    "conversion": {"zh": "转化率", "en": "Conversion"},
    "variant": {"zh": "实验组", "en": "Variant"},
    "lift": {"zh": "提升", "en": "Lift"},
    "p_value": {"zh": "p 值", "en": "p-value"},
}


def analytics_headers(columns: list[str], lang: str) -> dict[str, str]:
    """``{column: header}`` for the columns that have a translation."""
    return {c: ANALYTICS_HEADERS[c].get(lang, c) for c in columns if c in ANALYTICS_HEADERS}
