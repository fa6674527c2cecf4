"""Validation errors reach a Chinese reader in Chinese, naming the field: pydantic's (by type),
phonenumbers' (through the identifier parser), and the segment and journey schemas' (their own
messages and the pydantic ones they pass on). English readers get the English unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from siyu.events.schemas import EventDefinitionUpdate
from siyu.i18n_errors import explain, explain_message, explain_validation
from siyu.journeys.schemas import JourneyDefinitionError, parse_journey
from siyu.profiles.identifiers import IdentifierError, IdentifierParser
from siyu.segments.schemas import SegmentDefinitionError, parse_definition


class Form(BaseModel):
    name: str = Field(min_length=2, max_length=5)
    age: int = Field(ge=0, le=150)
    when: Any = None
    tags: list[str] = Field(default_factory=list, max_length=2)


def _errors(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Form.model_validate(data)
    return caught.value


@pytest.mark.parametrize(
    ("data", "zh", "en"),
    [
        ({"age": 1}, "字段 name：必须填写", "name: is required"),
        ({"name": "x", "age": 1}, "字段 name：至少 2 个字符", "name: needs at least 2 characters"),
        ({"name": "abcdef", "age": 1}, "字段 name：最多 5 个字符", "name: has at most 5 characters"),
        ({"name": "ab", "age": "old"}, "字段 age：应为整数", "age: should be a whole number"),
        ({"name": "ab", "age": 200}, "字段 age：不能大于 150", "age: should be at most 150"),
        (
            {"name": "ab", "age": 1, "tags": ["a", "b", "c"]},
            "字段 tags：最多 2 项",
            "tags: has at most 2 items",
        ),
        ({"name": "ab", "age": 1, "tags": [1]}, "字段 tags[0]：应为文本", "tags[0]: should be text"),
    ],
)
def test_pydantic_errors_by_type_with_the_field(data: dict[str, Any], zh: str, en: str) -> None:
    error = _errors(data).errors()[0]
    assert explain(error, "zh") == zh
    assert explain(error, "en") == en


def test_every_problem_is_listed_up_to_a_limit() -> None:
    exc = _errors({"name": "x", "age": -1, "tags": [1, 2, 3]})
    assert (
        explain_validation(exc, "zh")
        == "字段 name：至少 2 个字符；字段 age：不能小于 0；字段 tags：最多 2 项"
    )
    assert explain_validation(exc, "zh", limit=1) == "字段 name：至少 2 个字符；另有 2 处问题"
    assert explain_validation(exc, "en", limit=2).endswith("; and 1 more")


def test_a_catalogue_edit_names_its_field_and_keeps_its_own_message() -> None:
    with pytest.raises(ValidationError) as caught:
        EventDefinitionUpdate.model_validate({"summary_zh": "{}", "properties": {"amount": {"kind": "euro"}}})
    zh = explain_validation(caught.value, "zh")
    assert "字段 summary_zh：摘要里有空的 {}：请写属性名，例如 {amount}" in zh
    assert "字段 properties.amount.kind：应为以下之一：text、number、money、stage、channel" in zh
    en = explain_validation(caught.value, "en")
    assert "summary_zh: an empty {} in the summary" in en


@pytest.mark.parametrize(
    ("raw", "zh"),
    [
        ("12345", "不是有效的手机号码（请检查位数和号段）"),
        ("call me", "不是手机号码"),
        ("000 0000 0000", "号码全是 0，不能使用"),
    ],
)
def test_phone_numbers_rejected_by_phonenumbers_read_in_chinese(raw: str, zh: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        IdentifierParser().parse("phone", raw)
    assert caught.value.field == "phone"
    message = caught.value.reason
    assert explain_message(message, "zh") == zh
    assert explain_message(message, "en") == message  # English unchanged


@pytest.mark.parametrize(
    ("definition", "path", "zh"),
    [
        ({"type": "nope"}, "definition", "类型“nope”不存在，应为以下之一：and、or、not、attribute"),
        (
            {"type": "attribute", "name": "city", "op": "bogus", "value": 1},
            "definition.op",
            "应为以下之一：eq、ne",
        ),
        ({"type": "attribute", "name": "city", "value": "x"}, "definition.op", "必须填写"),
        (
            {"type": "attribute", "name": "city", "op": "in", "value": []},
            "definition",
            "条件“in”需要至少一个值",
        ),
        ({"type": "attribute", "name": "n", "op": "between", "value": [1]}, "definition", "“介于”需要两个值"),
        ({"type": "rfm"}, "definition", "请选择 RFM 分层或填写 R、F、M 分数范围"),
    ],
)
def test_segment_definition_errors(definition: dict[str, Any], path: str, zh: str) -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        parse_definition(definition)
    assert caught.value.path == path
    assert explain_message(caught.value.message, "zh").startswith(zh)
    assert explain_message(caught.value.message, "en") == caught.value.message


@pytest.mark.parametrize(
    ("step", "path", "zh"),
    [
        ({"id": "w", "wait": "soon"}, "steps[0].wait", "不是有效的时长（例如 30m、2h、3d、1w）"),
        ({"id": "w", "wait": "400d"}, "steps[0].wait", "时长应在 0 到 366 天之间"),
        (
            {"id": "w", "wait": "2d", "send": {"channel": "sms", "template": "t"}},
            "steps[0]",
            "每个步骤只能有一个动作",
        ),
        (
            {"id": "s", "send": {"channel": "sms"}},
            "steps[0].send",
            "请选择内容模板，或直接填写内容（二选一）",
        ),
        (
            {
                "id": "b",
                "branch": {"routes": [{"if": {"has_tag": "v", "x": 1}, "next": "b"}], "else": "exit"},
            },
            "steps[0].branch.routes[0].if.x",
            "是不认识的字段",
        ),
    ],
)
def test_journey_definition_errors(step: dict[str, Any], path: str, zh: str) -> None:
    with pytest.raises(JourneyDefinitionError) as caught:
        parse_journey({"key": "a", "name": "甲", "trigger": {"tag_added": "x"}, "steps": [step]})
    assert caught.value.path == path
    assert explain_message(caught.value.message, "zh").startswith(zh)
    assert explain_message(caught.value.message, "en") == caught.value.message


def test_an_unknown_message_keeps_its_english_after_a_chinese_lead_in() -> None:
    assert explain_message("Value error, something new", "zh") == "输入不符合要求（something new）"
    assert explain_message("Value error, something new", "en") == "something new"
