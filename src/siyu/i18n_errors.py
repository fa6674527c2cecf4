"""Validation errors in the reader's language, saying where. Pydantic's errors are worded by
their ``type`` and ``ctx`` (stable across versions), the messages of siyu's own validators
(segment and journey definitions, phone numbers) by patterns below; anything unknown keeps its
English text after a Chinese lead-in, so nothing is lost. Used by the console's forms and by the
REST API when the caller sends ``Accept-Language: zh``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

#: pydantic error type → (zh, en) with ``{ctx}`` fields.
PYDANTIC: dict[str, tuple[str, str]] = {
    "missing": ("必须填写", "is required"),
    "extra_forbidden": ("是不认识的字段，请删除或检查拼写", "is not a known field"),
    "string_too_short": ("至少 {min_length} 个字符", "needs at least {min_length} characters"),
    "string_too_long": ("最多 {max_length} 个字符", "has at most {max_length} characters"),
    "too_short": ("至少 {min_length} 项", "needs at least {min_length} items"),
    "too_long": ("最多 {max_length} 项", "has at most {max_length} items"),
    "literal_error": ("应为以下之一：{expected}", "should be one of {expected}"),
    "enum": ("应为以下之一：{expected}", "should be one of {expected}"),
    "int_parsing": ("应为整数", "should be a whole number"),
    "int_type": ("应为整数", "should be a whole number"),
    "int_from_float": ("应为整数", "should be a whole number"),
    "float_parsing": ("应为数字", "should be a number"),
    "float_type": ("应为数字", "should be a number"),
    "finite_number": ("应为有限的数字", "should be a finite number"),
    "bool_parsing": ("应为 true 或 false", "should be true or false"),
    "bool_type": ("应为 true 或 false", "should be true or false"),
    "string_type": ("应为文本", "should be text"),
    "dict_type": ("应为对象（键值对）", "should be an object"),
    "model_type": ("应为对象（键值对）", "should be an object"),
    "list_type": ("应为列表", "should be a list"),
    "greater_than": ("应大于 {gt}", "should be greater than {gt}"),
    "greater_than_equal": ("不能小于 {ge}", "should be at least {ge}"),
    "less_than": ("应小于 {lt}", "should be less than {lt}"),
    "less_than_equal": ("不能大于 {le}", "should be at most {le}"),
    "date_parsing": ("应为日期，格式 YYYY-MM-DD", "should be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": ("应为日期，格式 YYYY-MM-DD", "should be a date (YYYY-MM-DD)"),
    "datetime_parsing": ("应为时间，格式 YYYY-MM-DD HH:MM", "should be a date and time"),
    "datetime_from_date_parsing": ("应为时间，格式 YYYY-MM-DD HH:MM", "should be a date and time"),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "url_parsing": ("不是有效的网址", "is not a valid URL"),
    "union_tag_invalid": (
        "类型 {tag} 不存在，应为 {expected_tags}",
        "type {tag} is unknown; use {expected_tags}",
    ),
    "union_tag_not_found": ("缺少 {discriminator}", "is missing {discriminator}"),
}

#: Messages of siyu's own validators (English, as raised) → Chinese. Groups fill ``{1}``…
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"^not a phone number: .*", "不是手机号码"),
        (r"^not a valid phone number: .*", "不是有效的手机号码（请检查位数和号段）"),
        (r"^all-zero phone number$", "号码全是 0，不能使用"),
        (r"^blocked phone number$", "这个号码已被屏蔽"),
        (r"^not an email address: .*", "不是有效的邮箱地址"),
        (r"^blocked placeholder value .*", "是占位值（如空、0、null），不能使用"),
        (r"^longer than (\d+) characters$", "超过 {1} 个字符"),
        (r"^unknown identifier type.*", "不是已知的标识类型"),
        (r"^(\S+) takes no value$", "条件“{1}”不需要填写值"),
        (r"^(\S+) needs a non-empty list of values$", "条件“{1}”需要至少一个值"),
        (r"^(\S+) takes at most (\d+) values, got (\d+)$", "条件“{1}”最多 {2} 个值（现有 {3} 个）"),
        (r"^values must be all strings or all numbers$", "值要么全是文本，要么全是数字"),
        (r"^between needs \[low, high\]$", "“介于”需要两个值：下限和上限"),
        (r"^between needs two numbers, two dates or two texts$", "“介于”的两个值应同为数字、日期或文本"),
        (r"^contains needs a non-empty string$", "“包含”需要一段非空文本"),
        (r"^(\S+) needs one value.*", "条件“{1}”需要一个值（文本、数字或是/否）"),
        (r"^numbers must be finite.*", "数字必须是有限值"),
        (r"^give exactly one of date or days_ago$", "日期和“几天前”只能填一个"),
        (r"^give days, or from/to, not both$", "“最近几天”和起止日期只能选一种"),
        (r"^give days, or from and/or to$", "请填写“最近几天”或起止日期"),
        (r"^give channels and/or entry_codes$", "请至少选择一个渠道或活码"),
        (r"^give segments and/or r, f, m score ranges$", "请选择 RFM 分层或填写 R、F、M 分数范围"),
        (r"^(\w+) must be \[low, high\] within 1\.\.5$", "{1} 应为 1 到 5 之间的 [下限, 上限]"),
        (r"^nested deeper than (\d+) levels$", "嵌套超过 {1} 层"),
        (r"^more than (\d+) nodes$", "条件超过 {1} 个"),
        (r"^.* is not a duration .*", "不是有效的时长（例如 30m、2h、3d、1w）"),
        (r"^expected a duration like .*", "应为时长（例如 30m、2h、3d）"),
        (r"^a duration lies between 0 and 366 days$", "时长应在 0 到 366 天之间"),
        (r"^.* is not a time of day \(HH:MM\)$", "不是有效的时刻（格式 HH:MM）"),
        (r"^a condition has exactly one of .*", "每个条件只能设置一种判断"),
        (r"^a trigger has exactly one of .*", "触发方式只能选择一种"),
        (r"^unbalanced \{ \} or \[ \] in the summary$", "摘要里的 {{ }} 或 [ ] 不成对"),
        (r"^an empty \{\} in the summary.*", "摘要里有空的 {{}}：请写属性名，例如 {{amount}}"),
        (r"^an event name has 1 to 200 characters$", "事件名应为 1 到 200 个字符"),
        (r"^a step has exactly one action \(got (.*)\)$", "每个步骤只能有一个动作（现在有：{1}）"),
        (r"^give either template or content$", "请选择内容模板，或直接填写内容（二选一）"),
        # pydantic's own English, as the segment and journey schemas pass it on by field
        (r"^Field required$", "必须填写"),
        (r"^Extra inputs are not permitted$", "是不认识的字段，请删除或检查拼写"),
        (
            r"^Input tag '([^']*)' found using '([^']*)' does not match any of the expected tags: (.*)$",
            "类型“{1}”不存在，应为以下之一：{3}",
        ),
        (r"^Input should be ((?:'[^']*'(?:, | or ))*'[^']*')$", "应为以下之一：{1}"),
        (r"^Input should be a valid dictionary.*", "应为对象（键值对）"),
        (r"^Input should be a valid (?:integer|number).*", "应为数字"),
        (r"^Input should be a valid string$", "应为文本"),
        (r"^Input should be a valid list$", "应为列表"),
        (r"^Input should be a valid boolean.*", "应为 true 或 false"),
        (r"^String should have at most (\d+) characters?$", "最多 {1} 个字符"),
        (r"^String should have at least (\d+) characters?$", "至少 {1} 个字符"),
        (r"^List should have at least (\d+) items?.*", "至少 {1} 项"),
        (r"^List should have at most (\d+) items?.*", "最多 {1} 项"),
    )
)


def explain_message(message: str, lang: str) -> str:
    """One of siyu's validator messages in ``lang`` (English is returned as it is)."""
    message = message.removeprefix("Value error, ").strip()
    if lang != "zh":
        return message
    for pattern, zh in MESSAGES:
        found = pattern.match(message)
        if found:
            return zh.format(*(_show(g) for g in (found.group(0), *found.groups())))
    return f"输入不符合要求（{message}）"


def explain_error(error: dict[str, Any], lang: str) -> str:
    """One pydantic error (``exc.errors()[i]``) without its location, in ``lang``."""
    kind = str(error.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        return explain_message(str(error.get("msg", "")), lang)
    known = PYDANTIC.get(kind)
    if known is None:
        return explain_message(str(error.get("msg", "")), lang)
    ctx = {k: _show(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return known[0 if lang == "zh" else 1].format(**ctx)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))


def where(loc: Sequence[Any], lang: str) -> str:
    """``("body", "steps", 2, "send")`` → ``steps[2].send`` (the request part is dropped)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:]
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def explain(error: dict[str, Any], lang: str) -> str:
    """One pydantic error with where it is: ``steps[2].send.template：必须填写``."""
    place = where(error.get("loc", ()), lang)
    text = explain_error(error, lang)
    if not place:
        return text
    return f"字段 {place}：{text}" if lang == "zh" else f"{place}: {text}"


def explain_validation(exc: ValidationError, lang: str, limit: int = 5) -> str:
    """Every problem of a failed validation (at most ``limit``), joined."""
    errors = exc.errors()
    shown = [explain(e, lang) for e in errors[:limit]]
    more = len(errors) - len(shown)
    if more > 0:
        shown.append(f"另有 {more} 处问题" if lang == "zh" else f"and {more} more")
    return "；".join(shown) if lang == "zh" else "; ".join(shown)


def _show(value: Any) -> str:
    """A pydantic list of choices (``'a', 'b' or 'c'``) as ``a、b、c``."""
    text = str(value)
    return text.replace("' or '", "、").replace("', '", "、").strip("'") if isinstance(value, str) else text
