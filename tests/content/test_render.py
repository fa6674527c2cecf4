"""Rendering: defaults for missing values, the sandbox, escaping, filters, link tracking and
the smart SMS fallback. Pure functions: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from siyu.content.links import LinkMaker, link_code
from siyu.content.render import PREVIEW_LINK, compile_template, render

ZS = {"contact": {"id": 7, "name": "张三", "vip": True}, "name": "张三", "points": 120, "tags": ["vip"]}


def one(source: str, variables: dict[str, Any] | None = None, **kw: Any) -> tuple[str, list[str]]:
    r = render({"text": source}, ZS if variables is None else variables, None, **kw)
    return r.content["text"], r.errors


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ contact.nickname | default("朋友") }}', "朋友"),
        ("[{{ contact.address.city }}]", "[]"),  # chainable: no error at any depth
        ("[{{ nobody.at.all[0].x }}]", "[]"),
        ("[{{ contact.points + 1 }}]", "[]"),  # arithmetic with a missing value stays missing
        ("{{ contact.missing > 3 }}", "False"),
        ("{% for c in contact.coupons %}x{% endfor %}done", "done"),
        ("{% if 'vip' in tags %}VIP{% endif %} {{ points }}", "VIP 120"),
        ("[{{ contact.none_value }}]", "[]"),
    ],
)
def test_missing_values_use_defaults_and_never_fail(source: str, expected: str) -> None:
    variables = {**ZS, "contact": {**ZS["contact"], "none_value": None}}
    assert one(source, variables) == (expected, [])


@pytest.mark.parametrize(
    "probe",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ contact.__class__ }}",
        "{{ 'x' * 10000000 }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_sandbox_violations_are_recorded_for_that_field_only(probe: str) -> None:
    r = render({"title": "Hi {{ name }}", "text": probe, "more": ["{{ points }}"]}, ZS, None)
    assert r.content == {"title": "Hi 张三", "text": "", "more": ["120"]}
    assert len(r.errors) == 1 and r.errors[0].startswith("text: ")
    assert "unsafe" in r.errors[0] or "not allowed" in r.errors[0], r.errors


def test_runtime_errors_name_the_nested_field() -> None:
    body = {"card": {"buttons": [{"label": "{{ 'abc' | money }}"}]}, "fallback": {"text": "{{ 1 / 0 }}"}}
    r = render(body, ZS, None)
    assert r.content["card"]["buttons"][0]["label"] == "" and r.content["fallback"]["text"] == ""
    assert r.errors == [
        "card.buttons[0].label: money: cannot read 'abc' as an amount",
        "fallback.text: ZeroDivisionError: division by zero",
    ]


def test_only_the_email_html_field_is_escaped() -> None:
    evil = {**ZS, "name": "<script>x()</script>&"}
    body = {"subject": "{{ name }}", "text": "{{ name }}", "html": "<p>{{ name }}</p>"}
    r = render(body, evil, None, channel="email")
    assert r.content["subject"] == r.content["text"] == "<script>x()</script>&"
    assert r.content["html"] == "<p>&lt;script&gt;x()&lt;/script&gt;&amp;</p>"
    assert render({"text": "<b>{{ name }}</b>"}, evil, None).content["text"] == "<b><script>x()</script>&</b>"


def test_filters() -> None:
    at = datetime(2025, 5, 1, 16, 30, tzinfo=UTC)
    variables = {**ZS, "timezone": "Asia/Shanghai", "at": at, "day": date(2025, 5, 1)}
    assert one("{{ '13800138000' | mask }} {{ '+8613912345678' | mask }}", variables)[0] == (
        "138****8000 139****5678"
    )
    assert one("{{ at | date('%m月%d日 %H:%M') }}", variables)[0] == "05月02日 00:30"
    assert one("{{ at | date('%H:%M') }}", {**variables, "timezone": "America/New_York"})[0] == "12:30"
    assert one("{{ at | date('%H:%M') }}", {**variables, "timezone": "Mars/Base"})[0] == "00:30"
    assert one("{{ '2025-05-01T16:30:00Z' | date('%d') }} {{ day | date }}", variables)[0] == "02 2025-05-01"
    assert one("{{ 1234.5 | money }} {{ '-3' | money('$', 0) }} {{ 0.005 | money }}", variables)[0] == (
        "¥1,234.50 -$3 ¥0.01"
    )
    assert (
        one("[{{ contact.birthday | date }}{{ contact.spent | money }}{{ contact.phone | mask }}]")[0] == "[]"
    )


class Tracker:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def track(self, url: str) -> str:
        self.urls.append(url)
        return f"https://s.cn/l/{len(self.urls)}"


def test_link_and_track_use_the_link_maker() -> None:
    maker = LinkMaker("https://s.cn/", "j:1:2:s", contact_id=1)
    body = {
        "text": "{{ link('https://a.cn/x?a=1&b=2') }} {{ 'https://b.cn' | track }} {{ link('tel:4008') }}"
    }
    r = render(body, ZS, maker)
    a, b = link_code("j:1:2:s", "https://a.cn/x?a=1&b=2"), link_code("j:1:2:s", "https://b.cn")
    assert r.content["text"] == f"https://s.cn/l/{a} https://s.cn/l/{b} tel:4008"
    assert maker.made == {a: "https://a.cn/x?a=1&b=2", b: "https://b.cn"}
    assert r.links == [f"https://s.cn/l/{a}", f"https://s.cn/l/{b}"]
    preview = render(body, ZS, None)
    assert preview.content["text"] == (
        PREVIEW_LINK.format(url="https://a.cn/x?a=1&b=2")
        + " "
        + PREVIEW_LINK.format(url="https://b.cn")
        + " tel:4008"
    )
    assert one("[{{ link(contact.shop) }}]")[0] == "[]"  # a missing URL stays missing


def test_smart_sms_url_buttons_are_tracked_and_listed_in_the_fallback() -> None:
    body = {
        "card": {
            "title": "t",
            "body": "b",
            "buttons": [
                {"label": "去看看", "type": "url", "url": "https://a.cn/{{ contact.id }}"},
                {
                    "label": "更多",
                    "type": "menu",
                    "buttons": [{"label": "券", "type": "url", "url": "https://c.cn"}],
                },
                {"label": "退订", "type": "reply", "reply": "TD"},
            ],
        },
        "fallback": {"text": "{{ name }}，会员日 {{ link('https://c.cn') }}"},
    }
    tracker = Tracker()
    r = render(body, ZS, tracker, channel="smart_sms")
    assert tracker.urls == ["https://c.cn", "https://a.cn/7", "https://c.cn"]
    buttons = r.content["card"]["buttons"]
    assert buttons[0]["url"] == "https://s.cn/l/2" and buttons[1]["buttons"][0]["url"] == "https://s.cn/l/3"
    # the fallback SMS gets the card's links it does not already carry
    assert (
        r.content["fallback"]["text"]
        == "张三，会员日 https://s.cn/l/1\n去看看 https://s.cn/l/2\n券 https://s.cn/l/3"
    )
    quiet = render({**body, "fallback": {"text": "x", "links": False}}, ZS, Tracker(), channel="smart_sms")
    assert quiet.content["fallback"]["text"] == "x"


def test_wecom_attachments_resolve_materials_and_track_link_cards() -> None:
    materials = {
        "new": {"kind": "link", "data": {"title": "新品", "url": "https://a.cn/new"}},
        "mp": {
            "kind": "miniprogram",
            "data": {"title": "小程序", "appid": "wx1", "page": "/p", "pic_media_id": "M"},
        },
    }
    r = render({"text": "hi", "attachments": ["new", "mp", "gone"]}, ZS, Tracker(), materials=materials)
    assert r.content["attachments"] == [
        {"msgtype": "link", "link": {"title": "新品", "url": "https://s.cn/l/1"}},
        {"msgtype": "miniprogram", "miniprogram": materials["mp"]["data"]},
    ]
    assert r.errors == ["attachments[2]: unknown material 'gone'"]
    assert materials["new"]["data"]["url"] == "https://a.cn/new"  # the library's copy is untouched


def test_compiled_templates_are_cached() -> None:
    compile_template.cache_clear()
    for _ in range(3):
        render({"a": "{{ name }}!", "b": "{{ name }}!"}, ZS, None)
    info = compile_template.cache_info()
    assert (info.misses, info.hits) == (1, 5)
