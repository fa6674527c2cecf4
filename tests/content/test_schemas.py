"""Template and material validation: what each channel requires, menu depth, Jinja syntax
errors, variants — each problem reported with its path in the document."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.content.schemas import ContentError, MaterialCreate, TemplateCreate, merge_variant, validate

BODIES: dict[str, dict[str, Any]] = {
    "wecom_private": {"text": "{{ name }}，您好"},
    "wecom_group": {"text": "群发"},
    "wecom_moment": {"text": "朋友圈"},
    "wecom_welcome": {"text": "欢迎"},
    "sms": {"template_code": "SMS_1", "params": {"name": "{{ name }}", "n": 3}, "text": "{{ name }}您好"},
    "smart_sms": {
        "card": {
            "title": "会员日",
            "body": "{{ name }}，积分 {{ points }}",
            "buttons": [
                {"label": "去看看", "type": "url", "url": "https://shop.example.cn/a"},
                {
                    "label": "更多",
                    "type": "menu",
                    "buttons": [
                        {"label": "退订", "type": "reply", "reply": "TD"},
                        {"label": "客服", "type": "call", "phone": "+864008001234"},
                    ],
                },
            ],
        },
        "fallback": {"text": "{{ name }}，会员日来了"},
    },
    "email": {"subject": "Hi {{ name }}", "html": "<p>{{ name }}</p>"},
    "webhook": {"event": "coupon.issue", "data": {"amount": 10, "who": "{{ contact.id }}"}},
}


def template(channel: str, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = body if body is not None else BODIES.get(channel, {"text": "x"})
    return {"key": "t1", "name": "T", "channel": channel, "body": body, **extra}


def problem(doc: dict[str, Any], model: Any = TemplateCreate) -> str:
    with pytest.raises(ContentError) as info:
        validate(model, doc)
    return str(info.value)


@pytest.mark.parametrize("channel", sorted(BODIES))
def test_a_complete_body_of_every_channel_is_accepted(channel: str) -> None:
    spec = validate(TemplateCreate, template(channel, stage="retention", tags=["节日", "节日"]))
    assert spec.channel == channel and spec.body == BODIES[channel]
    assert spec.tags == ["节日"]  # duplicates collapse


@pytest.mark.parametrize(
    ("channel", "body", "expected"),
    [
        ("wecom_private", {}, "body.text: required"),
        ("wecom_group", {"text": "  "}, "body.text: required"),
        ("wecom_private", {"text": "x", "attachments": ["Bad Key"]}, "body.attachments[0]: a material key"),
        ("sms", {"params": {}, "text": "x"}, "body.template_code: required"),
        ("sms", {"template_code": "S", "text": "x"}, "body.params: required, an object"),
        (
            "sms",
            {"template_code": "S", "params": {"a": [1]}, "text": "x"},
            "body.params.a: a string or number",
        ),
        ("sms", {"template_code": "S", "params": {}}, "body.text: required"),
        ("smart_sms", {"fallback": {"text": "x"}}, "body.card: required, an object"),
        ("email", {"subject": "s"}, "body.text: an email needs text or html"),
        ("email", {"text": "t"}, "body.subject: required"),
        ("webhook", {"data": {}}, "body.event: required"),
        ("webhook", {"event": "e", "data": [1]}, "body.data: an object"),
    ],
)
def test_missing_or_wrong_fields_are_named(channel: str, body: dict[str, Any], expected: str) -> None:
    assert problem(template(channel, body)).startswith(expected)


def card(buttons: list[dict[str, Any]], **fallback: Any) -> dict[str, Any]:
    return {"card": {"title": "t", "body": "b", "buttons": buttons}, "fallback": {"text": "f", **fallback}}


def test_smart_sms_card_rules() -> None:
    url = {"label": "go", "type": "url", "url": "https://a.cn"}
    assert (
        problem(template("smart_sms", card([]))) == "body.card.buttons: required, a non-empty list of buttons"
    )
    assert problem(template("smart_sms", card([url] * 5))) == "body.card.buttons: at most 4 buttons on a card"
    deep = {"label": "m", "type": "menu", "buttons": [{"label": "m2", "type": "menu", "buttons": [url]}]}
    assert (
        problem(template("smart_sms", card([url, deep])))
        == "body.card.buttons[1].buttons[0].type: menus nest at most 2 levels"
    )
    assert problem(template("smart_sms", card([{"label": "x", "type": "url"}]))).startswith(
        "body.card.buttons[0].url: required"
    )
    assert problem(template("smart_sms", card([{"label": "x", "type": "tap"}]))).startswith(
        "body.card.buttons[0].type: one of url, reply, call, menu"
    )
    menu = {"label": "m", "type": "menu", "buttons": [url] * 6}
    assert (
        problem(template("smart_sms", card([menu, menu])))
        == "body.card.buttons: at most 11 buttons in all the menus of a card"
    )
    call = {"label": "客服", "type": "call", "phone": "4008001234"}
    assert problem(template("smart_sms", card([call]))) == (
        "body.card.buttons[0].phone: an E.164 number, e.g. +864008001234"
    )
    validate(TemplateCreate, template("smart_sms", card([{**call, "phone": "{{ contact.store_phone }}"}])))
    no_fallback = {"card": {"title": "t", "body": "b", "buttons": [url]}}
    assert problem(template("smart_sms", no_fallback)) == "body.fallback: required, an object"


def test_jinja_syntax_errors_name_the_field() -> None:
    body = card([{"label": "{{ name }", "type": "url", "url": "https://a.cn"}])
    assert problem(template("smart_sms", body)) == "body.card.buttons[0].label: unexpected '}'"
    assert problem(template("sms", {**BODIES["sms"], "params": {"p": "{% if x %}"}})).startswith(
        "body.params.p: "
    )
    assert problem(template("email", {"subject": "{{ 1 +", "text": "t"})).startswith("body.subject: ")


def test_variants_are_checked_as_merged_bodies() -> None:
    ok = validate(
        TemplateCreate,
        template("email", variants={"b": {"subject": "B {{ name }}"}, "c-2": {"text": "plain"}}),
    )
    assert merge_variant(ok.body, ok.variants["b"]) == {
        "subject": "B {{ name }}",
        "html": "<p>{{ name }}</p>",
    }
    assert problem(template("email", variants={"b": {"subject": "{% for %}"}})).startswith(
        "variants.b.subject: "
    )
    assert problem(template("email", variants={"b": {"subject": ""}})) == (
        "variants.b.subject: required, a non-empty string"
    )
    assert problem(template("email", variants={"B!": {}})).startswith("variants.B!: use 1-32")
    nested = merge_variant(BODIES["smart_sms"], {"card": {"title": "新标题"}})
    assert (
        nested["card"]["title"] == "新标题"
        and nested["card"]["buttons"] == BODIES["smart_sms"]["card"]["buttons"]
    )


def test_template_fields() -> None:
    assert problem(template("fax")).startswith("channel: unknown channel 'fax'")
    assert problem(template("sms", key="Bad Key")).startswith("key: use 1-64")
    assert problem(template("sms", stage="vip")).startswith("stage: unknown stage 'vip'")
    assert problem({**template("sms"), "colour": "red"}).startswith("colour: ")
    assert problem(template("sms", name="")).startswith("name: ")


def test_materials_per_kind() -> None:
    link = validate(
        MaterialCreate, {"key": "m1", "kind": "link", "data": {"title": "新品", "url": "https://a.cn"}}
    )
    assert link.data["url"] == "https://a.cn"
    validate(MaterialCreate, {"key": "img", "kind": "image", "data": {"media_id": "MEDIA"}})
    assert problem({"key": "m", "kind": "image", "data": {}}, MaterialCreate).startswith("data.file")
    assert problem({"key": "m", "kind": "link", "data": {"title": "t"}}, MaterialCreate) == (
        "data.url: required for a link"
    )
    assert problem(
        {"key": "m", "kind": "link", "data": {"title": "t", "url": "javascript:alert(1)"}}, MaterialCreate
    ) == ("data.url: an http(s) URL")
    assert problem(
        {"key": "m", "kind": "miniprogram", "data": {"title": "t", "appid": "wx1", "page": "/p"}},
        MaterialCreate,
    ) == ("data.file: a mini-program card needs a cover: an uploaded file or pic_media_id")
    assert problem({"key": "m", "kind": "link", "data": {"titel": "t"}}, MaterialCreate).startswith(
        "data.titel: unknown field"
    )
    assert problem({"key": "m", "kind": "video", "data": {}}, MaterialCreate).startswith("kind: ")


def test_card_labels_fit_the_platform() -> None:
    card = {
        "card": {"title": "t", "body": "b", "buttons": [{"label": "好" * 26, "type": "reply", "reply": "R"}]},
        "fallback": {"text": "f"},
    }
    doc = {"key": "k", "name": "n", "channel": "smart_sms", "body": card}
    assert problem(doc, TemplateCreate) == "body.card.buttons[0].label: at most 25 characters"
    card["card"]["buttons"][0]["label"] = "好" * 25
    assert validate(TemplateCreate, doc).body["card"]["buttons"][0]["label"] == "好" * 25
