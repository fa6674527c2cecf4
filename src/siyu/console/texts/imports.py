"""Console text for the import preview (列映射预览) and the notes on imported rows."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "imports_preview": {"zh": "预览列映射", "en": "Preview the mapping"},
    "imports_preview_title": {"zh": "导入预览：{file}", "en": "Import preview: {file}"},
    "imports_preview_help": {
        "zh": "先检查整份文件，不写入任何数据。可以修改每一列对应的字段，确认后再开始导入。",
        "en": "The whole file is checked and nothing is written yet. Change what any column feeds, "
        "then start the import.",
    },
    "imports_preview_counts": {
        "zh": "共 {lines} 行：可导入 {valid} 行，将被拒绝 {rejected} 行，需要留意 {notes} 处。",
        "en": "{lines} rows: {valid} can be imported, {rejected} would be rejected, {notes} notes.",
    },
    "imports_preview_all_bad": {
        "zh": "所有行都会被拒绝：请检查列映射，至少要有一列手机号、邮箱或会员号。",
        "en": "Every row would be rejected: check the mapping; at least one column must hold a phone, "
        "an email or a customer number.",
    },
    "imports_preview_expired": {
        "zh": "预览已过期或文件已被清理，请重新上传。",
        "en": "The preview expired or its file was removed; upload the file again.",
    },
    "imports_encoding": {"zh": "文件编码：{encoding}", "en": "Encoding: {encoding}"},
    "imports_column": {"zh": "列", "en": "Column"},
    "imports_target": {"zh": "导入为", "en": "Imported as"},
    "imports_skip": {"zh": "跳过此列", "en": "Skip this column"},
    "imports_keep_name": {"zh": "属性“{name}”", "en": "Trait “{name}”"},
    "imports_how_given": {"zh": "手动指定", "en": "set by hand"},
    "imports_how_identifier": {"zh": "按标识名称", "en": "identifier name"},
    "imports_how_alias": {"zh": "自动识别", "en": "recognised header"},
    "imports_how_own": {"zh": "沿用列名", "en": "its own name"},
    "imports_how_skipped": {"zh": "跳过", "en": "skipped"},
    "imports_direct": {"zh": "跳过预览，直接开始导入", "en": "Skip the preview and start the import"},
    "imports_confirm": {"zh": "确认并开始导入", "en": "Start the import"},
    "imports_field_name": {"zh": "姓名", "en": "Name"},
    "imports_field_gender": {"zh": "性别", "en": "Gender"},
    "imports_field_birthday": {"zh": "生日", "en": "Birthday"},
    "imports_field_city": {"zh": "城市", "en": "City"},
    "imports_field_province": {"zh": "省份", "en": "Province"},
    "imports_field_district": {"zh": "区县", "en": "District"},
    "imports_field_address": {"zh": "地址", "en": "Address"},
    "imports_field_company": {"zh": "公司", "en": "Company"},
    "imports_field_note": {"zh": "备注", "en": "Note"},
    "imports_field_store": {"zh": "门店", "en": "Store"},
    "imports_field_level": {"zh": "会员等级", "en": "Member level"},
    "imports_field_points": {"zh": "积分", "en": "Points"},
    "imports_field_event": {"zh": "事件名", "en": "Event name"},
    "imports_field_timestamp": {"zh": "发生时间", "en": "Time"},
    # --- outcome and notes --------------------------------------------------------------------
    "imports_all_rejected": {
        "zh": "导入失败：全部 {lines} 行都被拒绝，没有导入任何数据。请按下方原因修改文件后重新导入。",
        "en": "Nothing was imported: all {lines} rows were rejected. Fix the file as the reasons below "
        "say and import it again.",
    },
    "imports_partial_note": {
        "zh": "导入完成，但有 {rejected} 行被拒绝（见下方）。",
        "en": "Import finished, but {rejected} rows were rejected (below).",
    },
    "imports_outcome_failed": {"zh": "全部失败", "en": "All rejected"},
    "imports_outcome_partial": {"zh": "部分成功", "en": "Partly imported"},
    "imports_notes_title": {"zh": "需要留意的行（共 {total} 处）", "en": "Notes on imported rows ({total})"},
    "imports_notes_help": {
        "zh": "这些行已导入，但有的值被忽略，或多行属于同一位客户。",
        "en": "These rows were imported, but some values were left out or several rows are one contact.",
    },
    "imports_note_invalid_value": {
        "zh": "该值无效，已忽略；本行其余内容已导入",
        "en": "Not valid, left out; the rest of the row was imported",
    },
    "imports_note_invalid_date": {
        "zh": "不是有效日期，已忽略；本行其余内容已导入",
        "en": "Not a real date, left out; the rest of the row was imported",
    },
    "imports_note_same_contact": {
        "zh": "与第 {other} 行的{via}相同，两行是同一位客户，已合并",
        "en": "Same {via} as row {other}: both rows are one contact, merged",
    },
    "imports_note_conflict": {
        "zh": "第 {other} 行为“{previous}”，本行为“{value}”：保留本行的值，原值记录在属性历史中",
        "en": "Row {other} says “{previous}”, this row “{value}”: this row's value is kept, the "
        "earlier one stays in the trait history",
    },
}
