"""The fraud review queue in a real browser, in zh-CN, as an operator: a seeded strict campaign
re-scored puts a shared-device self-referral and a deleted-staff invitee in the queue with
their reasons in Chinese; the operator voids one and approves the other by clicking, and reads
the campaign's numbers, tree and leaderboard, with no untranslated text on any page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, expect
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated
from tests.referrals.insights_fixtures import T0, Builder, honest_population, make_campaign

from siyu.referrals.fraud import rescore_campaign
from siyu.store.models import ContactAttribute, ContactFollow, Referral


def _seed(server: Any) -> dict[str, int]:
    with server.client.ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        honest_population(b, seeds=15)
        cheat = b.contact(device="dev-cheat")
        s.add(ContactAttribute(contact_id=cheat, name="name", value="王大锤"))
        shared = b.invite(cheat, b.contact(created=T0), T0 + timedelta(hours=1), device="dev-cheat")
        quitter = b.contact()
        gone = b.invite(b.contact(), quitter, T0 + timedelta(hours=2), device="q-1", qualified_at=T0)
        gone.status = "qualified"
        s.add(
            ContactFollow(
                contact_id=quitter,
                provider_key="wecom",
                staff_userid="zhangsan",
                external_userid="wm-q",
                added_at=T0 + timedelta(hours=2),
                deleted_at=T0 + timedelta(hours=4),
                deleted_by="customer",
            )
        )
        rescore_campaign(s, b.campaign, T0 + timedelta(days=20))
        return {"shared": shared.id, "gone": gone.id}


def test_an_operator_reviews_flagged_referrals_in_chinese(
    server: Any, zh_page: Page, screenshot: Any
) -> None:
    ids = _seed(server)
    server.client.users.create("yun", PASSWORD, "operator", language="zh", actor="test")
    page, base = zh_page, server.url
    sign_in(page, base, "yun")
    page.goto(f"{base}/console/referrals/review?campaign=spring")
    shared_row = page.locator(f"tr[data-referral='{ids['shared']}']")
    gone_row = page.locator(f"tr[data-referral='{ids['gone']}']")
    expect(shared_row.locator(".reasons")).to_contain_text("与邀请人使用同一设备")
    expect(gone_row.locator(".reasons")).to_contain_text("添加后短时间内删除了员工")
    assert untranslated(page) == []
    screenshot(page, "1-queue")

    shared_row.locator("select[name=reason]").select_option("self_referral")
    shared_row.locator("input[name=note]").fill("同一台手机")
    shared_row.locator("button.void").click()
    expect(page.locator("#notice")).to_have_text("已作废。")
    expect(page.locator(f"tr[data-referral='{ids['shared']}']")).to_have_count(0)
    page.locator(f"tr[data-referral='{ids['gone']}'] button.approve").click()
    expect(page.locator("#notice")).to_contain_text("已通过")
    expect(page.locator("#rfi-none")).to_be_visible()
    with server.client.ctx.db.session() as s:
        shared, gone = s.get(Referral, ids["shared"]), s.get(Referral, ids["gone"])
        assert shared is not None and gone is not None
        assert (shared.status, shared.void_reason, shared.reviewed_by) == (
            "voided",
            "self_referral",
            "user:yun",
        )
        assert gone.status == "qualified"

    for path, marker in (
        ("/console/referrals/spring/stats", "#rfi-depth .main-svg"),
        ("/console/referrals/spring/tree", "#rfi-sunburst .main-svg"),
        ("/console/referrals/spring/leaderboard", "#rfi-board"),
    ):
        page.goto(base + path)
        expect(page.locator(marker).first).to_be_visible()
        assert untranslated(page) == [], path
        screenshot(page, path.rsplit("/", 1)[-1])
    expect(page.locator("#rfi-board")).not_to_contain_text("王大锤")
