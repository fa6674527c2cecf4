"""Console pages for WeCom contact ways, staff and the sync: the real WeCom QR, figures, the
create/edit/delete forms with their pickers, staff pages and the sync page, in zh and en."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated
from tests.wecom.ways_env import CHANNEL, PROVIDER, Env, ways_env


@pytest.fixture
def env(server: Any) -> Iterator[Env]:
    with ways_env(server.client.ctx) as e:
        for i in range(4):
            e.world.add_follow("lisi", f"wm{i}", 1_780_000_000 + i, state="poster")
        yield e


def test_make_edit_and_delete_a_contact_way_in_the_console(
    console_as: Callable[[str], Any], env: Env
) -> None:
    admin = console_as("admin")
    admin.post_form("/console/wecom/sync", {"provider": PROVIDER, "mode": "full"})
    deadline = time.monotonic() + 30
    while env.siyu.wecom.sync_runs()[0]["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    page = admin.get("/console/wecom")
    assert page.status_code == 200 and 'value="lisi"' in page.text  # the staff picker, from wecom_staff
    made = admin.post_form(
        "/console/wecom/codes",
        {
            "channel": CHANNEL,
            "provider": PROVIDER,
            "kind": "contact_way",
            "state": "poster",
            "name": "春季海报",
            "staff": ["lisi", "zhangsan"],
            "skip_verify": "1",
        },
    )
    assert made.status_code == 200, made.text[:500]
    way = next(iter(env.world.contact_ways.values()))
    assert f'src="{way["qr_code"]}"' in made.text  # the real WeCom QR
    row = re.search(r'id="code-poster".*?</tr>', made.text, re.S)
    assert row and 'data-adds="4"' in row.group(0) and 'data-net="4"' in row.group(0)
    refused = admin.post_form(
        "/console/wecom/codes",
        {
            "channel": CHANNEL,
            "provider": PROVIDER,
            "kind": "contact_way",
            "state": "ghosts",
            "staff": ["nobody"],
        },
    )
    assert refused.status_code == 422 and "40003" in refused.text and 'value="ghosts"' in refused.text
    edited = admin.post_form(
        "/console/wecom/codes/poster", {"name": "春季海报", "staff": ["lisi", "wangwu"], "skip_verify": "1"}
    )
    assert edited.status_code == 200 and way["user"] == ["lisi", "wangwu"]
    settings = admin.get("/console/settings/channels").text  # the channels page shows WeCom's QR too
    assert f'src="{way["qr_code"]}"' in settings and "/console/settings/entry-codes/" not in settings
    gone = admin.post_form("/console/wecom/codes/poster/delete")
    assert gone.status_code == 200 and not env.world.contact_ways
    assert admin.get("/console/wecom/codes/nope").status_code == 404


def test_staff_and_sync_pages(console_as: Callable[[str], Any], env: Env) -> None:
    env.siyu.wecom.sync()
    viewer = console_as("viewer")
    staff = viewer.get("/console/wecom/staff")
    assert staff.status_code == 200 and 'data-userid="lisi"' in staff.text
    member = viewer.get("/console/wecom/staff/lisi")
    assert member.status_code == 200 and 'data-customers="4"' in member.text
    sync = viewer.get("/console/wecom/sync")
    assert (
        sync.status_code == 200 and 'data-status="done"' in sync.text and 'id="start-sync"' not in sync.text
    )
    assert viewer.post_form("/console/wecom/sync", {"mode": "full"}).status_code == 403


def test_pages_in_chinese(console_as: Callable[[str], Any], env: Env, server: Any) -> None:
    env.siyu.wecom.sync()
    env.siyu.wecom.create_way(CHANNEL, "poster", PROVIDER, ["lisi"], kind="acquisition_link")
    admin = console_as("admin")
    admin.get("/console/lang/zh")
    page = admin.get("/console/wecom")
    assert "渠道活码与获客链接" in page.text and "未知" in page.text and "获客链接" in page.text
    assert "净增" in admin.get("/console/wecom/codes/poster").text
    assert "当日客户总数" in admin.get("/console/wecom/staff/lisi").text
    assert "同步记录" in admin.get("/console/wecom/sync").text


def test_every_wecom_page_reads_in_chinese_with_data(server: Any, env: Env, browser: Browser) -> None:
    """The zh crawl sees these pages on the demo brand, which has no WeCom data; here they are
    full: codes of both kinds with figures, staff with days, a transfer, a finished sync."""
    env.siyu.wecom.sync()
    env.siyu.wecom.create_way(CHANNEL, "poster", PROVIDER, ["lisi"])
    env.siyu.wecom.create_way(CHANNEL, "ad-7", PROVIDER, ["lisi", "wangwu"], kind="acquisition_link")
    env.siyu.create_entry_code(CHANNEL, "plain")
    env.siyu.staff.transfer(PROVIDER, "lisi", "zhangsan", ["wm0", "ghost"])
    server.client.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        for path in (
            "/console/wecom",
            "/console/wecom/codes/poster",
            "/console/wecom/codes/ad-7",
            "/console/wecom/staff",
            "/console/wecom/staff/lisi",
            "/console/wecom/sync",
            "/console/settings/channels",
        ):
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            assert untranslated(page) == [], path
    finally:
        context.close()
