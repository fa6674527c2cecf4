"""Console: membership and points pages (会员): the member list, the points rules form (saved by
admins, a bad value named in Chinese with what was typed kept), tiers (added and edited, a
threshold out of order refused), enrolment from a profile, and the member card and ledger on the
profile in the brand's time zone with words instead of codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from siyu.loyalty.ledger import Ledger


def zh(browser: Any) -> Any:
    browser.cookies.set("siyu_lang", "zh")
    return browser


def contact(server: Any, phone: str) -> int:
    ctx = server.client.ctx
    with ctx.db.session() as s:
        return ctx.profiles(s).identify([ctx.parser.parse("phone", phone)]).contact_id


def test_programme_form_saves_and_refuses_naming_the_field(server: Any, console_as: Any) -> None:
    viewer = zh(console_as("viewer")).get("/console/loyalty/programme")
    assert viewer.status_code == 200 and 'id="loyalty-read-only"' in viewer.text
    assert "次年年底" in viewer.text and "end_of_next_year</option>" not in viewer.text
    assert console_as("viewer").post_form("/console/loyalty/programme", {}).status_code == 403
    admin = zh(console_as("admin"))
    form = {
        "name": "会员积分",
        "earn_per_yuan": "2",
        "point_value": "0.01",
        "signup_points": "50",
        "birthday_points": "0",
        "pending_days": "abc",
        "default_validity": "1Y",
        "expiry_notice_days": "30",
        "tier_basis": "spend",
        "tier_window_days": "365",
        "tier_period_days": "365",
        "downgrade_policy": "reevaluate",
        "member_no_prefix": "VIP",
        "validity_signup": "30D",
    }
    bad = admin.post_form("/console/loyalty/programme", form)
    assert bad.status_code == 422
    assert "订单积分冻结天数：数值超出允许范围或格式不对" in bad.text and 'value="abc"' in bad.text
    assert server.client.loyalty.programme()["signup_points"] == 0  # nothing saved
    saved = admin.post_form(
        "/console/loyalty/programme", {**form, "pending_days": "14", "allow_negative": "on"}
    )
    assert saved.status_code == 200 and "已保存" in saved.text
    prog = server.client.loyalty.programme()
    assert (prog["pending_days"], prog["earn_per_yuan"], prog["allow_negative"]) == (14, "2", True)
    assert prog["validity_by_source"] == {"signup": "30D"} and prog["tier_basis"] == "spend"


def test_tiers_are_added_edited_and_validated(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    ok = admin.post_form("/console/loyalty/tiers", {"key": "base", "name": "普通会员", "threshold": "0"})
    assert ok.status_code == 200 and "已新增等级" in ok.text
    admin.post_form(
        "/console/loyalty/tiers", {"key": "gold", "name": "金卡", "threshold": "1000", "multiplier": "2"}
    )
    bad = admin.post_form(
        "/console/loyalty/tiers", {"key": "mid", "name": "银卡", "threshold": "2000", "rank": "1"}
    )
    assert bad.status_code == 422 and "门槛必须随顺序逐级提高" in bad.text
    edited = admin.post_form(
        "/console/loyalty/tiers/gold", {"name": "金卡会员", "threshold": "800", "multiplier": "2"}
    )
    assert edited.status_code == 200 and "金卡会员" in edited.text
    assert [(t["name"], t["threshold"]) for t in server.client.loyalty.tiers()] == [
        ("普通会员", "0"),
        ("金卡会员", "800"),
    ]
    assert 'id="loyalty-tier-add"' not in console_as("viewer").get("/console/loyalty/tiers").text


def test_enrol_from_profile_then_card_and_ledger(server: Any, console_as: Any) -> None:
    cid = contact(server, "13800138000")
    server.client.loyalty.add_tier("base", name="普通会员", threshold="0")
    server.client.loyalty.add_tier("gold", name="金卡", threshold="500")
    operator = zh(console_as("operator"))
    page = operator.get(f"/console/contacts/{cid}")
    assert "尚未开卡" in page.text and 'id="loyalty-enrol"' in page.text
    assert 'id="loyalty-enrol"' not in console_as("viewer").get(f"/console/contacts/{cid}").text
    done = operator.post_form(f"/console/loyalty/members/{cid}/enrol")
    assert done.status_code == 200
    with server.client.ctx.db.session() as s:
        expires = datetime(2030, 1, 1, 16, 30, tzinfo=UTC)  # 2030-01-02 00:30 in Beijing
        Ledger(s).award(cid, 120, source="manual", reason="活动奖励", expires_at=expires)
        Ledger(s).spend(cid, 20, reason="兑换")
    page = operator.get(f"/console/contacts/{cid}")
    card = page.text[page.text.index('id="contact-loyalty"') :]
    assert re.search(r'data-k="active">100<', card) and re.search(r'data-k="spent">20<', card)
    assert "普通会员" in card and "再获得 380 积分升级为金卡" in card
    assert "100 积分将于 2030-01-02 过期" in card  # the brand's day, not UTC's
    assert "获得" in card and "使用" in card and "手动调整" in card and ">award<" not in card
    members = zh(console_as("viewer")).get("/console/loyalty")
    assert "共 1 位会员" in members.text and f"M{cid:08d}" in members.text


def test_member_list_filters_by_tier(server: Any, console_as: Any) -> None:
    a, b = contact(server, "13800138001"), contact(server, "13800138002")
    server.client.loyalty.add_tier("base", name="普通会员", threshold="0")
    server.client.loyalty.add_tier("gold", name="金卡", threshold="100")
    server.client.loyalty.enrol(a)
    server.client.loyalty.enrol(b)
    server.client.loyalty.award(b, 150, "活动")
    page = zh(console_as("viewer")).get("/console/loyalty", params={"tier": "gold"})
    assert (
        "共 1 位会员" in page.text
        and f'data-contact="{b}"' in page.text
        and f'data-contact="{a}"' not in page.text
    )
