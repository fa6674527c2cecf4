"""Every console page in Chinese, as an owner sees it in a real browser over the demo brand (so
tables have rows, charts have axes and the timeline has events): no text key and no English
word outside the allow-list of brand and code names (tests/console/zh_checker.py). The crawl
follows the navigation and every link it finds, so a new page is checked without being listed
here. Screenshots of the pages with problems go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser
from tests.console.conftest import ARTIFACTS
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated

from siyu.content.service import ContentService
from siyu.demo.generator import DemoConfig, generate

SKIP = ("/console/static/", "/console/lang/", "/console/logout")
#: Pages that only make sense from a form (downloads, actions on GET) are left to their tests.
DOWNLOADS = (".csv", "/export", "/download")
MAX_PAGES = 300
CHARTS_DRAWN = "[...document.querySelectorAll('[data-figure]')].every(e => e.querySelector('.main-svg'))"
#: Pages of one kind (a contact's profile, a segment) are alike: two of each are checked.
PER_KIND = 2


def _kind(link: str) -> str:
    """``/console/contacts/17?tab=x`` → ``/console/contacts/N?tab``: pages that differ only in
    an id or a query value are the same template."""
    target = urlsplit(link)
    keys = sorted(k.split("=")[0] for k in target.query.split("&") if k)
    return re.sub(r"/\d+", "/N", target.path) + "?" + "&".join(keys)


@pytest.fixture
def demo_brand(server: Any) -> None:
    """The demo brand (a few hundred contacts over 30 days) plus what an operator sets up: a tag
    on some contacts, a segment, templates, a running journey with contacts in it, RFM and
    stages computed."""
    c = server.client
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generate(c.ctx, DemoConfig(contacts=300, days=30, seed=3, end=now))
    c.tags.create("新客")
    members = [row for row in range(1, 40)]
    c.tags.apply("新客", members, actor="test")
    c.segments.create(
        {"key": "new", "name": "新客", "definition": {"type": "tags", "match": "any", "tags": ["新客"]}}
    )
    with c.ctx.db.session() as s:
        ContentService(s).create_template(
            {
                "key": "hello",
                "name": "欢迎短信",
                "channel": "sms",
                "body": {
                    "template_code": "SMS_1",
                    "params": {"name": "{{ name }}"},
                    "text": "你好 {{ name }}",
                },
            }
        )
        s.commit()
    c.journeys.create(
        {
            "key": "welcome",
            "name": "新客欢迎",
            "trigger": {"tag_added": "新客"},
            "purpose": "service",
            "quiet_hours": {"enabled": False},
            "steps": [
                {"id": "hi", "send": {"channel": "sms", "template": "hello"}},
                {"id": "wait", "wait": "2d"},
                {
                    "id": "check",
                    "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "hi"}], "else": "exit"},
                },
            ],
        }
    )
    c.journeys.start("welcome")
    c.journeys.enrol("welcome", members[:10])
    c.journeys.run_worker(ticks=2, dispatch=False)
    c.rfm.compute()
    c.stages.assign()
    c.feed_warehouse()


def _links(page: Any) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    return [h for h in hrefs if h and not h.startswith("#")]


def test_every_page_reads_in_chinese(server: Any, browser: Browser, demo_brand: None) -> None:
    server.client.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, server.url, "boss")
        seen: set[str] = set()
        kinds: Counter[str] = Counter()
        queue = deque(["/console/"])
        report: dict[str, list[tuple[str, str, str]]] = {}
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen or kinds[_kind(path)] >= PER_KIND:
                continue
            seen.add(path)
            kinds[_kind(path)] += 1
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, (path, response and response.status)
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            # charts draw after load; pages that poll (an import's progress) never go idle
            page.wait_for_function(CHARTS_DRAWN)
            found = untranslated(page)
            if found:
                report[path] = found
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                name = path.strip("/").replace("/", "_").replace("?", "_")[:80] or "console"
                page.screenshot(path=str(ARTIFACTS / f"zh-{name}.png"), full_page=True)
            for href in _links(page):
                target = urlsplit(urljoin(path, href))
                if target.netloc or not target.path.startswith("/console") or target.path.startswith(SKIP):
                    continue
                if target.path.endswith(DOWNLOADS):
                    continue
                link = target.path + (f"?{target.query}" if target.query else "")
                if link not in seen:
                    queue.append(link)
    finally:
        context.close()
    for area in ("contacts", "segments", "journeys", "content", "analytics", "settings", "imports"):
        assert any(p.startswith(f"/console/{area}") for p in seen), area
    lines = [
        f"{path}: {where}: {word!r} in {text!r}"
        for path, found in report.items()
        for where, word, text in found
    ]
    assert not report, (
        f"{len(lines)} untranslated strings on {len(report)} of {len(seen)} pages:\n" + "\n".join(lines)
    )
