"""Console text of the event catalogue pages (事件目录)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "settings_events": {"zh": "事件目录", "en": "Event catalogue"},
    "settings_events_desc": {
        "zh": "行为事件和属性在运营台里显示的名称（如“下单”“金额”），从数据中自动收录，可编辑。",
        "en": "How event names and their properties read in the console (Order Completed → Ordered).",
    },
    "events_intro": {
        "zh": "系统会自动收录数据里出现的事件和属性；为它们起中文名后，客户时间线和分析里都会使用。",
        "en": "Events and properties seen in the data are added by themselves; name them and the "
        "timeline and analyses use the names.",
    },
    "events_name": {"zh": "事件", "en": "Event"},
    "events_display_zh": {"zh": "中文名", "en": "Chinese name"},
    "events_display_en": {"zh": "英文名", "en": "English name"},
    "events_summary_zh": {"zh": "中文摘要", "en": "Chinese summary"},
    "events_summary_en": {"zh": "英文摘要", "en": "English summary"},
    "events_summary_help": {
        "zh": "用 {lb}属性名{rb} 引用属性，[ ] 里的内容在属性缺失时省略，例如 [{lb}amount{rb}][（{lb}items{rb}件）]。",
        "en": "Write {lb}property{rb} for a property; a part in [ ] is left out when its property is "
        "missing, e.g. [{lb}amount{rb}][ ({lb}items{rb} items)].",
    },
    "events_volume": {"zh": "事件数", "en": "Events"},
    "events_last_seen": {"zh": "最近出现", "en": "Last seen"},
    "events_properties": {"zh": "属性", "en": "Properties"},
    "events_property_key": {"zh": "属性", "en": "Property"},
    "events_property_kind": {"zh": "显示为", "en": "Shown as"},
    "events_kind_text": {"zh": "文本", "en": "Text"},
    "events_kind_number": {"zh": "数字", "en": "Number"},
    "events_kind_money": {"zh": "金额（¥）", "en": "Money (¥)"},
    "events_kind_stage": {"zh": "阶段", "en": "Stage"},
    "events_kind_channel": {"zh": "渠道", "en": "Channel"},
    "events_unnamed": {"zh": "未命名", "en": "Unnamed"},
    "events_edit": {"zh": "编辑", "en": "Edit"},
    "events_save": {"zh": "保存", "en": "Save"},
    "events_none": {"zh": "还没有收录任何事件。", "en": "No events yet."},
    "events_no_properties": {"zh": "还没有见到这个事件的属性。", "en": "No properties seen yet."},
}
