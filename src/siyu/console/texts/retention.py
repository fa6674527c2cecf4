"""Console text for the retention page (数据保留) and the audit log's chain check."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "settings_retention": {"zh": "数据保留", "en": "Data retention"},
    "settings_retention_desc": {
        "zh": "个人信息保存多久（个人信息保护法：不超过必要期限）：事件、不活跃客户、消息正文、操作日志。",
        "en": "How long personal data is kept (PIPL: no longer than needed): events, inactive contacts, "
        "message bodies, the audit log.",
    },
    "settings_perm_retention_manage": {
        "zh": "设置数据保留策略并执行删除",
        "en": "Set the retention policies and run them",
    },
    "retention_intro": {
        "zh": "到期的数据会被自动删除（每小时检查一次），删除后无法恢复。留空的项不删除。",
        "en": "Data past its period is deleted automatically (checked hourly) and cannot be restored. "
        "Empty fields delete nothing.",
    },
    "retention_current": {"zh": "当前策略", "en": "Current policies"},
    "retention_policy": {"zh": "策略", "en": "Policy"},
    "retention_keep": {"zh": "保留期限", "en": "Kept for"},
    "retention_off": {"zh": "不删除", "en": "kept (off)"},
    "retention_n_days": {"zh": "{n}天", "en": "{n} days"},
    "retention_n_years": {"zh": "{n}年", "en": "{n} years"},
    "retention_after_delivery": {"zh": "送达后{n}天", "en": "{n} days after delivery"},
    "retention_would_remove": {"zh": "将删除", "en": "Would remove"},
    "retention_removed": {"zh": "已删除", "en": "Removed"},
    "retention_preview_title": {"zh": "预览：现在执行将删除", "en": "Preview: a run now would remove"},
    "retention_run_title": {"zh": "本次执行已删除", "en": "This run removed"},
    "retention_run_failed": {
        "zh": "有策略执行失败，其余策略已照常执行；下次执行会重试。如果一再发生，请联系管理员查看服务日志。",
        "en": "A policy failed; the others ran. It is retried at the next run; if it keeps failing, ask an admin "
        "to check the server log.",
    },
    "retention_events_title": {"zh": "行为事件", "en": "Events"},
    "retention_events_hint": {
        "zh": "按事件名设置保留天数；事件名填 * 表示其余所有事件。清空一行即删除该规则。",
        "en": "Days to keep each event by name; * means every other event. Empty a row to remove its rule.",
    },
    "retention_event_name": {"zh": "事件名", "en": "Event name"},
    "retention_keep_days": {"zh": "保留", "en": "Keep"},
    "retention_event_placeholder": {"zh": "选择或输入事件，* 为所有事件", "en": "e.g. Page Viewed, or *"},
    "retention_unit_days": {"zh": "天", "en": "days"},
    "retention_unit_years": {"zh": "年", "en": "years"},
    "retention_other_title": {"zh": "客户、消息与日志", "en": "Contacts, messages and the log"},
    "retention_empty_is_off": {"zh": "留空表示不删除。", "en": "Leave empty to keep forever."},
    "retention_label_inactive_contacts_years": {"zh": "不活跃客户保留", "en": "Keep inactive contacts for"},
    "retention_label_outbox_body_days": {
        "zh": "已送达消息的正文保留",
        "en": "Keep delivered message bodies for",
    },
    "retention_label_audit_years": {"zh": "操作日志保留", "en": "Keep audit log entries for"},
    "retention_hint_inactive_contacts_years": {
        "zh": "这么久没有任何行为（收到消息不算）的客户会被彻底删除：资料、标签、事件、授权记录全部删除。",
        "en": "Contacts with no activity for this long (being sent a message does not count) are deleted "
        "completely: profile, tags, events, consent records.",
    },
    "retention_hint_outbox_body_days": {
        "zh": "消息送达这么多天后清空其正文；发送记录保留，用于去重和统计。",
        "en": "Days after delivery when a message's body is blanked; the record stays for de-duplication "
        "and counts.",
    },
    "retention_hint_audit_years": {
        "zh": "早于这么多年的操作日志会被删除；日志的防篡改校验从删除点继续。建议不少于 3 年。",
        "en": "Audit entries older than this are deleted; the tamper check continues from where they were "
        "removed. At least 3 years is advised.",
    },
    "retention_save": {"zh": "保存策略", "en": "Save policies"},
    "retention_saved": {"zh": "保留策略已保存。", "en": "Retention policies saved."},
    "retention_last_title": {"zh": "执行情况", "en": "Runs"},
    "retention_last_at": {
        "zh": "上次执行完成于 {at}（北京时间）。",
        "en": "The last run finished at {at} (Beijing time).",
    },
    "retention_never": {"zh": "尚未执行过。", "en": "Not run yet."},
    "retention_preview": {"zh": "预览将删除的数量", "en": "Preview what would go"},
    "retention_run_now": {"zh": "立即执行", "en": "Run now"},
    "retention_confirm_run": {
        "zh": "立即按当前策略删除到期数据？删除后无法恢复。",
        "en": "Delete the data past its period now? This cannot be undone.",
    },
    "retention_previewed": {"zh": "预览完成，未删除任何数据。", "en": "Preview done; nothing was deleted."},
    "retention_ran": {"zh": "已按策略执行。", "en": "Retention ran."},
    "retention_rule_n": {"zh": "第 {n} 条事件规则", "en": "event rule {n}"},
    "retention_err_event": {
        "zh": "{field}：请填写事件名（* 表示其余所有事件），或把天数也清空以删除该规则。",
        "en": "{field}: enter an event name (* for every other event), or empty the days too to remove the rule.",
    },
    "retention_err_event_long": {
        "zh": "{field}：事件名最长 200 个字符。",
        "en": "{field}: an event name has at most 200 characters.",
    },
    "retention_err_duplicate": {
        "zh": "{field}：事件“{event}”已有一条规则，同一事件只能设一条。",
        "en": "{field}: the event “{event}” already has a rule; one rule per event.",
    },
    "retention_err_days": {
        "zh": "{field}：“{value}”不是有效天数，请填 1 到 {max} 之间的整数。",
        "en": "{field}: “{value}” is not a valid number of days; enter a whole number from 1 to {max}.",
    },
    "retention_err_years": {
        "zh": "{field}：“{value}”不是有效年数，请填 1 到 {max} 之间的整数。",
        "en": "{field}: “{value}” is not a valid number of years; enter a whole number from 1 to {max}.",
    },
    "retention_err_too_many": {
        "zh": "事件规则最多 {max} 条，请合并或删除一些规则。",
        "en": "At most {max} event rules; merge or remove some.",
    },
    "retention_err_invalid": {
        "zh": "策略无效，请检查后重新提交。",
        "en": "The policies are not valid; check them and submit again.",
    },
    "retention_events_all": {"zh": "其余所有事件", "en": "Every other event"},
    "retention_events_named": {"zh": "事件“{event}”", "en": "Event “{event}”"},
    "retention_count_inactive_contacts": {"zh": "不活跃客户", "en": "Inactive contacts"},
    "retention_count_outbox_bodies": {"zh": "已送达消息的正文", "en": "Delivered message bodies"},
    "retention_count_audit_entries": {"zh": "操作日志", "en": "Audit log entries"},
    # --- the audit log's chain check ------------------------------------------------------------
    "audit_verify": {"zh": "校验日志完整性", "en": "Verify the log"},
    "audit_verify_hint": {
        "zh": "每条日志都带有上一条的哈希值，任何一条被修改或删除都能查出来。",
        "en": "Each entry carries the hash of the one before it, so an edited or deleted entry shows.",
    },
    "audit_verify_ok": {
        "zh": "日志完整：已校验 {entries} 条，未发现修改或删除。",
        "en": "The log is intact: {entries} entries verified, nothing changed or removed.",
    },
    "audit_verify_broken": {
        "zh": "日志已被篡改：{what}。此前的 {entries} 条完好。请联系所有者调查。",
        "en": "The log was tampered with: {what}. The {entries} entries before it are intact. "
        "Ask the owner to investigate.",
    },
    "audit_verify_checkpoint": {
        "zh": "更早的日志已按保留策略删除，校验从删除点开始。",
        "en": "Older entries were removed by the retention policy; the check starts where they end.",
    },
    "audit_verify_unchained": {
        "zh": "另有 {n} 条刚写入、尚未加入校验链的记录。",
        "en": "{n} entries just written are not chained yet.",
    },
    "audit_problem_changed": {
        "zh": "第 #{id} 条记录在写入后被修改",
        "en": "entry #{id} was changed after it was written",
    },
    "audit_problem_missing_before": {
        "zh": "第 #{id} 条之前的记录被删除",
        "en": "entries before #{id} were deleted",
    },
    "audit_problem_relinked": {
        "zh": "第 #{id} 条之前的一条记录被替换",
        "en": "the entry before #{id} was replaced",
    },
    "audit_problem_missing_after": {
        "zh": "最新的若干条记录被删除（原有 {seq} 条）",
        "en": "the newest entries were deleted (there were {seq})",
    },
    "audit_problem_checkpoint": {
        "zh": "保留策略的删除点被改动",
        "en": "the retention checkpoint was changed",
    },
}
