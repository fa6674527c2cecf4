"""Console pages of customer groups, the pyramid and group live codes: actions through the
forms (sync, rank, create a code), and every page reads in Chinese with data on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import world

from siyu.channels.providers import ProviderService

CHARTS_DRAWN = "[...document.querySelectorAll('[data-figure]')].every(e => e.querySelector('.main-svg'))"


@pytest.fixture
def emu(server: Any) -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    ctx = server.client.ctx
    with emulator.running():
        with ctx.db.session() as s:
            ProviderService(s, ctx.keyring).create(
                "wecom-main",
                "wecom",
                {"base_url": emulator.base_url, "corp_id": emulator.corp_id, "backoff_s": 0.001},
                {"corp_secret": emulator.corp_secret},
            )
        groups = world(emulator)
        chat = groups.create_group("zhangsan", "春季会员群", chat_id="wrCHAT0001")
        for i in range(15):
            groups.join(
                chat, f"wm{i:02d}", unionid=f"un{i:02d}", state="spring" if i < 5 else None, push=False
            )
        yield emulator


def test_sync_rank_and_create_a_live_code(console_as: Callable[[str], Any], emu: WeComEmulator) -> None:
    owner = console_as("owner")
    r = owner.post_form("/console/groups/sync", follow_redirects=True)
    assert r.status_code == 200 and "Synced 1 groups: 15 joined" in r.text
    r = owner.post_form("/console/groups/rank", follow_redirects=True)
    assert "Ranked 15 contacts" in r.text and 'id="pyramid-chart"' in r.text
    detail = owner.get("/console/groups/wrCHAT0001")
    assert detail.status_code == 200 and detail.text.count('data-member="wm') == 15
    assert "un01" not in detail.text  # identifiers are not shown; nicknames are masked
    form = {"name": "春季群码", "state": "spring-code", "chat_ids": "wrCHAT0001", "room_base_name": "春季群"}
    r = owner.post_form("/console/groups/join-ways", form, follow_redirects=True)
    assert r.status_code == 200 and 'data-state="spring-code"' in r.text
    bad = owner.post_form("/console/groups/join-ways", {**form, "state": "x" * 31, "chat_ids": "a"})
    assert bad.status_code == 422 and "state" in bad.text
    viewer = console_as("viewer")
    assert viewer.get("/console/groups").status_code == 200
    assert viewer.post_form("/console/groups/sync").status_code == 403


def test_group_pages_read_in_chinese(server: Any, browser: Browser, emu: WeComEmulator) -> None:
    server.client.community.sync()
    server.client.community.rank()
    server.client.community.create_join_way(
        "春季群码", "spring-code", ["wrCHAT0001"], room_base_name="春季群"
    )
    server.client.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        for path in ("/console/groups", "/console/groups/wrCHAT0001", "/console/groups/join-ways"):
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            page.wait_for_function(CHARTS_DRAWN)
            assert untranslated(page) == [], path
        # the segment builder offers the new conditions with their pickers, in Chinese
        page.goto(server.url + "/console/segments/new")
        page.click("#segment-advanced summary")  # the JSON box is folded under 高级
        page.fill("#segment-definition", '{"type": "community_role", "roles": ["seed", "koc"]}')
        page.dispatch_event("#segment-definition", "input")
        # 15 members, all with one join: one seed, one KOC (the earlier preview may answer first)
        page.wait_for_function("document.getElementById('segment-count').textContent === '2'")
        assert page.locator(".segb-leaf[data-type=community_role] label").all_inner_texts()[:2] == [
            "种子用户",
            "KOC",
        ]
        assert page.locator("#segb-groups option[value=wrCHAT0001]").count() == 1
        page.fill("#segment-definition", '{"type": "group", "groups": ["wrCHAT0001"]}')
        page.dispatch_event("#segment-definition", "input")
        page.wait_for_function(
            "document.getElementById('segment-count').dataset.state === 'done' && "
            "document.getElementById('segment-count').textContent === '15'"
        )
        assert untranslated(page) == []
    finally:
        context.close()


def test_group_sop_and_live_code_from_the_forms(
    console_as: Callable[[str], Any], emu: WeComEmulator, server: Any
) -> None:
    """An operator plans a group SOP and a live code without the command line: groups are
    ticked by name, steps are rows; bad numbers are refused naming the field, never a 500."""
    owner = console_as("owner")
    owner.post_form("/console/groups/sync", follow_redirects=True)
    page = owner.get("/console/groups/join-ways")
    assert 'name="chat_id" value="wrCHAT0001"' in page.text and "春季会员群" in page.text
    code = {"name": "春季群码", "state": "spring-pick", "chat_id": "wrCHAT0001", "room_base_name": "春季群"}
    r = owner.post_form("/console/groups/join-ways", code, follow_redirects=True)
    assert r.status_code == 200 and 'data-state="spring-pick"' in r.text
    bad = owner.post_form("/console/groups/join-ways", {**code, "state": "spring-2", "swap_threshold": "abc"})
    assert bad.status_code == 422 and "swap_threshold" in bad.text

    operator = console_as("operator")
    plan = {
        "name": "入群欢迎三连",
        "trigger": "joined_code",
        "state": "spring-pick",
        "day_0": "0",
        "at_0": "10:00",
        "text_0": "欢迎加入春季会员群！",
        "day_1": "2",
        "at_1": "20:30",
        "text_1": "今晚8点半直播，记得来。",
        "day_2": "5",
        "at_2": "10:00",
        "text_2": "",  # a row without text is not a step
    }
    r = operator.post_form("/console/groups/sops", plan, follow_redirects=True)
    assert r.status_code == 200 and "Group SOP created" in r.text
    listed = operator.get("/console/groups")
    assert "入群欢迎三连" in listed.text
    key = listed.text.split('data-sop="', 1)[1].split('"', 1)[0]
    assert key.startswith("gsop-")
    r = operator.post_form(f"/console/groups/sops/{key}/pause", follow_redirects=True)
    assert r.status_code == 200 and "/resume" in r.text
    r = operator.post_form(f"/console/groups/sops/{key}/resume", follow_redirects=True)
    assert r.status_code == 200 and f"/console/groups/sops/{key}/pause" in r.text
    (saved,) = [p for p in server.client.community.sops() if p["key"] == key]
    assert saved["enabled"] and saved["state"] == "spring-pick" and saved["trigger"] == "joined_code"
    assert [(x["day"], x["at"], x["text"]) for x in saved["steps"]] == [
        (0, "10:00", "欢迎加入春季会员群！"),
        (2, "20:30", "今晚8点半直播，记得来。"),
    ]

    for field, value, named in (("day_0", "abc", "steps[0].day"), ("at_0", "25:99", "steps[0].at")):
        refused = operator.post_form("/console/groups/sops", {**plan, field: value})
        assert refused.status_code == 422 and named in refused.text
    no_code = operator.post_form("/console/groups/sops", {**plan, "state": ""})
    assert no_code.status_code == 422 and "state" in no_code.text
    assert console_as("viewer").post_form("/console/groups/sops", plan).status_code == 403
