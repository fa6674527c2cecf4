"""The SMS part counter: 70 characters for one part, 67 per part beyond, the signature 【…】
counted, Chinese and ASCII alike, emoji as two (UTF-16)."""

from __future__ import annotations

import pytest

from siyu.content.sms import count_sms, short_link_length, signature_of, sms_counts


@pytest.mark.parametrize(
    ("text", "sign", "chars", "parts", "per_part", "left"),
    [
        ("", None, 0, 0, 70, 70),
        ("a" * 70, None, 70, 1, 70, 0),
        ("a" * 71, None, 71, 2, 67, 63),
        ("好" * 66, "品牌", 70, 1, 70, 0),  # 【品牌】 is 4 characters
        ("好" * 67, "品牌", 71, 2, 67, 63),
        ("x" * 134, None, 134, 2, 67, 0),
        ("x" * 135, None, 135, 3, 67, 66),
        ("中a1，。 " * 10, None, 60, 1, 70, 10),  # Chinese, Latin, digits, punctuation, spaces: 1 each
        ("😀" * 35, None, 70, 1, 70, 0),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, None, 72, 2, 67, 62),
    ],
)
def test_parts(text: str, sign: str | None, chars: int, parts: int, per_part: int, left: int) -> None:
    c = count_sms(text, sign)
    assert (c.chars, c.parts, c.per_part, c.left) == (chars, parts, per_part, left)


def test_signature_is_bracketed_once() -> None:
    assert signature_of("品牌") == signature_of("【品牌】") == "【品牌】"
    assert signature_of("  ") == signature_of(None) == ""
    assert count_sms("好", "【品牌】").chars == 5


def test_counts_of_rendered_messages() -> None:
    assert sms_counts("sms", {"text": "a" * 80, "sign_name": "牌"})["parts"] == 2
    assert sms_counts("smart_sms", {"card": {}, "fallback": {"text": "回落"}})["chars"] == 2
    assert sms_counts("email", {"subject": "s", "text": "t"}) is None


def test_previews_count_links_as_the_short_links_sent() -> None:
    content = {"text": "领券 [link:https://shop.example.cn/a-very-long/path?x=1]", "sign_name": "牌"}
    length = short_link_length("https://s.example.cn/")
    assert length == len("https://s.example.cn/l/") + 10
    assert sms_counts("sms", content, length)["chars"] == len("【牌】领券 ") + length
    assert sms_counts("sms", content)["chars"] == len("【牌】") + len(content["text"])  # as shown
