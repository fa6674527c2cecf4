"""The content service: the library (templates, materials), variables loaded in bulk,
previews, and rendering a journey step for many contacts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from siyu.content.links import link_code
from siyu.content.render import PREVIEW_LINK
from siyu.content.schemas import ContentError
from siyu.content.service import ContentConflict, ContentNotFound, ContentService
from siyu.content.variables import contact_variables
from siyu.context import AppContext
from siyu.store.models import AuditEntry, ShortLink

PUBLIC = "https://s.example.cn"
COUPON: dict[str, Any] = {
    "key": "coupon",
    "name": "会员券",
    "channel": "wecom_private",
    "scenario": "coupon",
    "stage": "repurchase",
    "tags": ["券"],
    "body": {
        "text": "{{ name | default('朋友', true) }}，{% if 'vip' in tags %}VIP {% endif %}积分 {{ points }}："
        "{{ link('https://shop.example.cn/c?u=' ~ contact.id) }}",
        "attachments": ["new-tea"],
    },
    "variants": {
        "b": {"text": "{{ name | default('朋友', true) }}，限时券 {{ link('https://shop.example.cn/b') }}"}
    },
}
NEW_TEA = {
    "key": "new-tea",
    "kind": "link",
    "data": {"title": "新茶上市", "url": "https://shop.example.cn/tea"},
}


@contextmanager
def counted(ctx: AppContext) -> Iterator[list[str]]:
    statements: list[str] = []

    def hook(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(ctx.db.engine, "before_cursor_execute", hook)
    try:
        yield statements
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", hook)


#: A contact outside the loyalty programme (see tests/content/test_loyalty_variables.py)
NO_LOYALTY = {
    "tier": None,
    "tier_en": None,
    "member_no": None,
    "coupon": None,
    "points_expiring": 0,
    "points_expiring_at": None,
}


def test_variables_are_loaded_in_bulk(ctx: AppContext, people: dict[str, int]) -> None:
    ids = [people[u] for u in ("c1", "c2", "c3", "bare")]
    with ctx.db.session() as s:
        s.connection()  # begin first, so only the loader's queries are counted
        with counted(ctx) as statements:
            got = contact_variables(s, ctx.keyring, ids, zone="Asia/Shanghai")
    # traits, tags, stages + member/tier, balances (2), next expiry, coupons: not one per contact
    assert len(statements) == 8, statements
    c1, c2, c3, bare = (got[i] for i in ids)
    assert c1 == {
        "contact": {"id": ids[0], "name": "张三", "city": "上海", "points": 120, "referral_code": "ZS01"},
        "name": "张三",
        "tags": ["interest/tea", "vip"],
        "points": 120,
        "referral_code": "ZS01",
        "stage": "repurchase",
        "timezone": "Asia/Shanghai",
        **NO_LOYALTY,
    }
    assert (c2["name"], c2["tags"], c2["points"], c2["timezone"], c2["stage"]) == (
        "小李",
        ["interest/tea"],
        0,
        "America/New_York",
        None,
    )
    assert (c3["points"], c3["stage"], c3["referral_code"]) == (7.5, "retention", None)
    assert bare == {
        "contact": {"id": ids[3], "plan": "none"},
        "name": "",
        "tags": [],
        "points": 0,
        "referral_code": None,
        "stage": None,
        "timezone": "Asia/Shanghai",
        **NO_LOYALTY,
    }
    assert all("phone" not in v["contact"] for v in got.values())  # PII never becomes template text


def test_library_crud_filters_and_audit(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        svc = ContentService(s)
        with pytest.raises(ContentError, match=r"body.attachments\[0\]: unknown material 'new-tea'"):
            svc.create_template(COUPON)
        svc.create_material(NEW_TEA)
        svc.create_template(COUPON, actor="tester")
        svc.create_template({"key": "hello", "name": "Hi", "channel": "sms", "body": _sms("您好")})
        with pytest.raises(ContentConflict, match="template 'coupon' already exists"):
            svc.create_template(COUPON)
        assert [t.key for t in svc.list_templates()] == ["coupon", "hello"]
        assert [t.key for t in svc.list_templates(channel="sms")] == ["hello"]
        assert [t.key for t in svc.list_templates(stage="repurchase", tag="券", scenario="coupon")] == [
            "coupon"
        ]
        assert svc.list_templates(tag="none") == []
        with pytest.raises(ContentError, match="unknown channel"):
            svc.list_templates(channel="fax")
        updated = svc.update_template("hello", {"name": "Hello", "channel": "sms", "body": _sms("您好！")})
        assert (
            updated.name == "Hello"
            and updated.body["text"] == "您好！"
            and updated.updated_at >= updated.created_at
        )
        with pytest.raises(ContentError, match="another template"):
            svc.update_template("hello", {"key": "other", "name": "x", "channel": "sms", "body": _sms("x")})
        with pytest.raises(ContentConflict, match="used by templates coupon"):
            svc.delete_material("new-tea")
        svc.delete_template("hello")
        with pytest.raises(ContentNotFound, match="unknown template 'hello'"):
            svc.get_template("hello")
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == [
            "material.created",
            "template.created",
            "template.created",
            "template.updated",
            "template.deleted",
        ]


def _sms(text: str) -> dict[str, Any]:
    return {"template_code": "SMS_1", "params": {}, "text": text}


def test_render_for_many_contacts(ctx: AppContext, people: dict[str, int]) -> None:
    ids = [people[u] for u in ("c1", "c2", "bare")]
    keys = {cid: f"9:{cid}:1:coupon" for cid in ids}
    variants = {ids[0]: None, ids[1]: "b", ids[2]: "zz"}
    with ctx.db.session() as s:
        svc = ContentService(s)
        svc.create_material(NEW_TEA)
        svc.create_template(COUPON)
    with ctx.db.session() as s:
        got = ContentService(s).render_for("coupon", ids, None, variants, keys, PUBLIC, 9, "coupon")
    c1, c2, bare = (got[i] for i in ids)

    def short(cid: int, url: str) -> str:
        return f"{PUBLIC}/l/{link_code(keys[cid], url)}"

    assert (
        c1.content["text"] == f"张三，VIP 积分 120：{short(ids[0], f'https://shop.example.cn/c?u={ids[0]}')}"
    )
    assert c1.content["attachments"] == [
        {
            "msgtype": "link",
            "link": {"title": "新茶上市", "url": short(ids[0], "https://shop.example.cn/tea")},
        }
    ]
    assert c1.errors == []
    assert c2.content["text"] == f"小李，限时券 {short(ids[1], 'https://shop.example.cn/b')}"  # variant b
    assert bare.content["text"].startswith("朋友，积分 0：")  # unknown variant: the base body, and why
    assert bare.errors == ["variant 'zz': template 'coupon' has none by that name"]
    with ctx.db.session() as s:
        rows = s.execute(select(ShortLink.contact_id, ShortLink.outbox_key, ShortLink.step)).all()
        assert len(rows) == 6 and {r.outbox_key for r in rows} == set(keys.values())
        # a step run again renders the same links and writes nothing new
        again = ContentService(s).render_for("coupon", ids, None, variants, keys, PUBLIC, 9, "coupon")
        assert {c: r.content for c, r in again.items()} == {c: r.content for c, r in got.items()}
        assert s.scalar(select(func.count()).select_from(ShortLink)) == 6
        with pytest.raises(ContentNotFound, match="unknown template 'nope'"):
            ContentService(s).render_for("nope", ids, None, {}, keys, PUBLIC)
        with pytest.raises(ContentError, match="message_keys"):
            ContentService(s).render_for("coupon", ids, None, {}, {}, PUBLIC)


def test_preview_writes_nothing_and_marks_links(ctx: AppContext, people: dict[str, int]) -> None:
    with ctx.db.session() as s:
        svc = ContentService(s)
        svc.create_material(NEW_TEA)
        svc.create_template(COUPON)
    with ctx.db.session() as s:
        svc = ContentService(s)
        r = svc.preview("coupon", people["c1"], ctx.keyring)
        marked = PREVIEW_LINK.format(url=f"https://shop.example.cn/c?u={people['c1']}")
        assert r.content["text"] == f"张三，VIP 积分 120：{marked}"
        assert r.content["attachments"][0]["link"]["url"] == PREVIEW_LINK.format(
            url="https://shop.example.cn/tea"
        )
        b = svc.preview("coupon", people["c2"], ctx.keyring, variant="b")
        assert b.content["text"].startswith("小李，限时券 [link:")
        with pytest.raises(ContentError, match="variant 'c'"):
            svc.preview("coupon", people["c2"], ctx.keyring, variant="c")
        assert s.scalar(select(func.count()).select_from(ShortLink)) == 0
