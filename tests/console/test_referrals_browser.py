"""An operator builds a 任务宝 campaign in the console (milestones as rows, a bad field named in
words first), lands on its page, activates it, and sees a friend's referral with its status in
Chinese — no untranslated words on the pages."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from tests.conftest import PASSWORD
from tests.console.zh_checker import untranslated

from siyu.coupons.templates import TemplateService


def test_operator_builds_a_referral_campaign(server: Any, zh_page: Page, screenshot) -> None:
    page, base, client = zh_page, server.url, server.client
    client.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")
    with client.ctx.db.session() as s:
        coupon = {"key": "ref-a", "name": "推荐券", "kind": "fixed", "amount": "20", "valid_days": 30}
        TemplateService(s).create(coupon)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))

    page.goto(f"{base}/console/referrals")
    page.click("#new-referral-campaign")
    page.fill("input[name=name]", "春季任务宝")
    page.fill("input[name=key]", "spring-task")
    page.check("input[name=kind][value=task]")
    expect(page.locator("input[name=chats]")).to_be_hidden()
    rows = page.locator("#reward-rows tbody tr")
    rows.nth(0).locator("input[name=reward_what]").fill("ref-a")
    rows.nth(0).locator("input[name=reward_value]").fill("20")
    rows.nth(1).locator("input[name=reward_what]").fill("保温杯")
    page.click("#add-reward-row")
    expect(rows).to_have_count(4)
    page.click("#create-campaign")  # no staff given: refused, naming the field in words
    expect(page.locator("#form-errors")).to_contain_text("好友添加的员工")
    assert untranslated(page) == []
    page.fill("input[name=staff]", "zhangsan")
    screenshot(page, "1-builder")
    page.click("#create-campaign")
    expect(page).to_have_url(re.compile(r"/console/referrals/spring-task\?done=created$"))
    expect(page.locator("#campaign-status")).to_have_text("草稿")
    expect(page.locator("#campaign-rewards")).to_contain_text("满 10 位")
    page.click("#action-activate")
    expect(page.locator("#campaign-status")).to_have_text("进行中")

    client.identify({"customer_no": "A"}, {"name": "王小明"})
    code = client.referrals.code("spring-task", "customer_no:A")["code"]
    client.track("Page Viewed", {"customer_no": "B"}, {"referral_code": code})
    client.track("Page Viewed", {"customer_no": "A"}, {"referral_code": code})  # self-referral
    page.reload()
    expect(page.locator("#referrals tbody tr")).to_have_count(2)
    expect(page.locator("#referrals")).to_contain_text("待完成")
    expect(page.locator("#referrals")).to_contain_text("自己邀请自己")
    preview = page.locator("#poster-preview")  # the default poster template until one is set
    expect(preview).to_be_visible()
    page.wait_for_function("document.getElementById('poster-preview').naturalWidth > 0")
    expect(page.locator("#poster-none")).to_be_hidden()
    import re as _re

    print(
        "DEBUG",
        [
            m
            for m in _re.findall(
                r"<td[^>]*>[^<]*contact[^<]*</td>|<td[^>]*>.{0,200}contact 1.{0,100}", page.content()
            )
        ],
    )
    assert untranslated(page) == []
    screenshot(page, "2-detail")
    # the builder edits the campaign it made: fields filled in, the key fixed
    page.click("#campaign-edit")
    expect(page.locator("input[name=name]")).not_to_have_value("")
    expect(page.locator("input[name=key]")).to_have_attribute("readonly", "")
    page.fill("input[name=hold_days]", "3")
    page.click("#create-campaign")
    expect(page).to_have_url(re.compile(r"/console/referrals/spring-task\?done=saved$"))
    assert client.referrals.campaign("spring-task")["hold_days"] == 3
    assert [r["invites"] for r in client.referrals.campaign("spring-task")["rewards"]] == [3, 10]
    page.goto(f"{base}/console/referrals")
    expect(page.locator("#campaign-spring-task")).to_contain_text("进行中")
    assert untranslated(page) == []
