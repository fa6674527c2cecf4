"""The poster template schema: every refusal names its field (in English and Chinese)."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.referrals.posters import DEFAULT, PosterError, parse
from siyu.referrals.posters.template import fill


def _with(**changes: Any) -> dict[str, Any]:
    return {**DEFAULT, **changes}


def test_no_template_is_the_default() -> None:
    assert parse(None).model_dump(mode="json")["width"] == 750
    assert parse({"qr": {"x": 0, "y": 0, "size": 200}}).background.color == "#FFFFFF"


T = {"x": 0, "y": 0, "font_size": 20}


@pytest.mark.parametrize(
    ("template", "field", "zh"),
    [
        ("poster", "", "应为对象"),
        (_with(width=10_000), ".width", "太大"),
        (_with(height="tall"), ".height", "应为整数"),
        (_with(qr=None), ".qr", "应为对象"),
        (_with(qr={"x": 600, "y": 0, "size": 400}), ".qr", "超出海报范围"),
        (_with(avatar={"x": 0, "y": 1300, "size": 100}), ".avatar", "超出海报范围"),
        (_with(avatar={"x": 0, "y": 0, "size": 100, "shape": "star"}), ".avatar.shape", "不是可选的值"),
        (_with(background={"color": "red"}), ".background.color", "颜色格式"),
        (_with(background={"file": "../../etc/passwd"}), ".background.file", "太短"),
        (_with(nickname={**T, "color": "#12345"}), ".nickname.color", "颜色"),
        (_with(texts=[{**T, "text": "{phone}"}]), ".texts.0.text", "占位符"),
        (_with(texts=[{**T, "text": "hi", "font_size": 2}]), ".texts.0.font_size", "太小"),
        (_with(texts=[{**T, "text": "hi", "size": 3}]), ".texts.0.size", "不认识的字段"),
        (_with(texts=[{**T, "text": "a"}] * 11), ".texts", "太长或太多"),
    ],
)
def test_a_bad_template_names_its_field(template: Any, field: str, zh: str) -> None:
    field = "settings.poster" + field
    with pytest.raises(PosterError) as err:
        parse(template)
    assert err.value.field == field and str(err.value).startswith(field + ": ")
    assert zh in err.value.zh


def test_placeholders_are_filled_and_other_braces_kept() -> None:
    assert fill("{nickname} 邀请你参加「{campaign}」{x}", "花", "春季") == "花 邀请你参加「春季」{x}"
