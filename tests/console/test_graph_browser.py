"""The journey graph editor in a real browser, in zh-CN, as a user with the operator role and
entirely by clicking: a journey that welcomes on WeCom, waits up to 2 days for an order (a
coupon SMS on the timeout branch), splits those who ordered A/B, and has a goal; a missing
template is shown on its card in Chinese first. Saved and started, it shows on the journey
page with its steps and its first version. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect
from tests.console.test_graph_pages import EVERY
from tests.journeys.test_timeline import NEW_CUSTOMER_DOC

from siyu.content.service import ContentService

PASSWORD = "a console password"
SMS = {"template_code": "SMS_1", "params": {}, "text": "您好"}
TEMPLATES = [
    ("welcome", "欢迎语", "wecom_private", {"text": "欢迎！"}),
    ("coupon", "券提醒", "sms", SMS),
    ("thanks-a", "感谢 A", "sms", SMS),
    ("thanks-b", "感谢 B", "sms", SMS),
]


def add_step(foot: Locator, kind: str) -> None:
    foot.locator("select.g-add-kind").select_option(kind)
    foot.locator("button.g-add").click()


def outlet_lane(page: Page, step: str, outlet: str) -> Locator:
    node = page.locator(f'.g-node:has(> .g-step[data-id="{step}"])')
    return node.locator(f'.g-outlet[data-outlet="{outlet}"] > .g-lane')


def test_an_operator_builds_a_flow_with_a_timeout_branch_an_ab_split_and_a_goal(
    server: Any, zh_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    page, base, client = zh_page, server.url, server.client
    client.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")
    with client.ctx.db.session() as s:
        for key, name, channel, body in TEMPLATES:
            ContentService(s).create_template(
                {"key": key, "name": name, "channel": channel, "body": body, "variants": {}}
            )
    client.tags.create("新客")
    client.track("Order Completed", {"customer_no": "someone"}, {"total": 35})  # for the event picker

    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))

    page.goto(f"{base}/console/journeys")
    page.click("#graph-new")
    page.fill("#g-name", "下单提醒 A/B")
    page.fill("#g-key", "order-ab")
    page.select_option("#g-trigger-kind", "tag_added")
    page.fill("#g-trigger-value", "新客")
    main = page.locator("#g-flow > .g-lane > .g-lane-foot")

    add_step(main, "send")
    welcome = page.locator('.g-step[data-id="send-1"]')
    welcome.locator(".g-channel").select_option("wecom_private")
    welcome.locator(".g-template").select_option("welcome")

    add_step(main, "wait_for")
    wait = page.locator('.g-step[data-id="await-1"]')
    wait.locator(".g-event").fill("Order Completed")
    wait.locator(".g-num").fill("2")
    wait.locator(".g-unit").select_option("d")
    timeout = outlet_lane(page, "await-1", "on_timeout")
    add_step(timeout.locator("> .g-lane-foot"), "send")
    coupon = page.locator('.g-step[data-id="send-2"]')
    coupon.locator(".g-channel").select_option("sms")
    coupon.locator(".g-template").select_option("coupon")
    timeout.locator("> .g-lane-foot select.g-target").select_option("exit")  # after the coupon: the end

    add_step(main, "split")
    add_step(outlet_lane(page, "ab-1", "variant-0").locator("> .g-lane-foot"), "send")
    add_step(outlet_lane(page, "ab-1", "variant-1").locator("> .g-lane-foot"), "send")
    page.locator('.g-step[data-id="send-3"] .g-channel').select_option("sms")
    page.locator('.g-step[data-id="send-3"] .g-template').select_option("thanks-a")
    page.locator('.g-step[data-id="send-4"] .g-channel').select_option("sms")
    page.fill("#g-goal", "Second Order")

    # a mistake first: group B's message has no template; the server's check shows it on the card
    page.click("#g-save")
    group_b = page.locator('.g-step[data-id="send-4"]')
    expect(group_b).to_have_class(re.compile(r"g-bad"))
    expect(group_b.locator("> .g-err")).to_contain_text("请选择内容模板")
    expect(page.locator("#g-message")).to_contain_text("标红")
    screenshot(page, "1-inline-error")
    group_b.locator(".g-template").select_option("thanks-b")
    expect(group_b).not_to_have_class(re.compile(r"g-bad"))
    screenshot(page, "2-flow")

    page.click("#g-save-start")
    expect(page).to_have_url(re.compile(r"/console/journeys/order-ab\?done=saved"))
    expect(page.locator("#journey-status")).to_have_attribute("data-status", "active")
    for step in ("send-1", "await-1", "send-2", "ab-1", "send-3", "send-4"):
        expect(page.locator(f'#journey-graph .box[data-step="{step}"]')).to_be_attached()
    expect(page.locator('#journey-graph .edge-g[data-from="await-1"][data-to="send-2"]')).to_be_attached()
    versions = page.locator("#journey-versions")
    expect(versions.locator('tr[data-version="1"]')).to_contain_text("yun")
    expect(versions).to_contain_text("首个版本，共 6 个步骤")
    screenshot(page, "3-started")

    doc = client.journeys.get("order-ab")["definition"]
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["trigger"] == {"tag_added": "新客"} and doc["goal"] == {"event": "Second Order"}
    wait_for = {"event": "Order Completed", "timeout": "2d", "on_timeout": "send-2"}
    assert steps["await-1"]["wait_for"] == wait_for
    coupon_step = {"id": "send-2", "send": {"channel": "sms", "template": "coupon"}, "next": "exit"}
    assert steps["send-2"] == coupon_step
    assert [(v["name"], v["weight"], v["next"]) for v in steps["ab-1"]["split"]["variants"]] == [
        ("A", 50, "send-3"),
        ("B", 50, "send-4"),
    ]

    # the journey reopens in the editor as it was built: the coupon still on the timeout lane
    page.click("#journey-graph-edit")
    expect(outlet_lane(page, "await-1", "on_timeout").locator('.g-step[data-id="send-2"]')).to_be_attached()
    expect(outlet_lane(page, "ab-1", "variant-1").locator('.g-step[data-id="send-4"]')).to_be_attached()
    expect(page.locator("#g-live-rule")).to_be_visible()


def test_existing_journeys_open_in_the_editor_and_flatten_back_unchanged(
    server: Any, zh_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    """A document made by hand (every step kind, explicit jumps) and one made by the timeline
    editor open as lanes and come back from graph.js as the same document."""
    page, base, client = zh_page, server.url, server.client
    client.users.create("yun", PASSWORD, "operator", language="zh", actor="test")
    client.journeys.create(EVERY)
    client.journeys.create(NEW_CUSTOMER_DOC)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    for doc in (EVERY, NEW_CUSTOMER_DOC):
        page.goto(f"{base}/console/journeys/{doc['key']}/graph")
        expect(page.locator(".g-step")).to_have_count(len(doc["steps"]))
        page.click("#g-advanced summary")
        back = json.loads(page.locator("#g-doc").input_value())
        assert [s for s in back["steps"] if s not in doc["steps"]] == [], back["steps"]
        assert back == doc
    screenshot(page, "timeline-journey")
    # the unconditional A/B lanes of EVERY: the variants' steps sit in their groups' lanes
    page.goto(f"{base}/console/journeys/every/graph")
    expect(outlet_lane(page, "ab", "variant-0").locator('.g-step[data-id="tag-a"]')).to_be_attached()
    expect(outlet_lane(page, "order", "on_timeout").locator('.g-step[data-id="nudge"]')).to_be_attached()
    screenshot(page, "every-step-kind")


def test_a_save_the_server_cannot_handle_says_so_and_keeps_the_flow(server: Any, zh_page: Page) -> None:
    page, base, client = zh_page, server.url, server.client
    client.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")
    client.tags.create("新客")
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))
    page.goto(f"{base}/console/journeys/graph/new")
    page.fill("#g-name", "失败重试")
    page.fill("#g-key", "retry-me")
    page.select_option("#g-trigger-kind", "tag_added")
    page.fill("#g-trigger-value", "新客")
    add_step(page.locator("#g-flow > .g-lane > .g-lane-foot"), "exit")
    # the server answers the save with a 500 page (not JSON), as a crashed worker would
    page.route(
        "**/console/journeys/graph",
        lambda route: route.fulfill(status=500, body="Internal Server Error", content_type="text/plain"),
    )
    page.click("#g-save")
    expect(page.locator("#g-message")).to_contain_text("保存没有成功")
    expect(page).to_have_url(re.compile(r"/console/journeys/graph/new$"))
    expect(page.locator("#g-name")).to_have_value("失败重试")  # nothing typed is lost
