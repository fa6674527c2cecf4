"""No dead links: every console page an owner can reach by following links (from the
dashboard, over a brand with a contact, a tag, a segment, a template and a journey) answers
200, in both languages."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

HREF = re.compile(r"""href="([^"#]+)""")
SKIP = ("/console/static/", "/console/lang/")


@pytest.fixture
def brand(server: Any) -> None:
    c = server.client
    c.identify({"phone": "13800000011", "customer_no": "C11"}, traits={"name": "周周"})
    c.track("Order Completed", {"customer_no": "C11"}, {"amount": 10})
    c.tags.create("vip")
    c.segments.create(
        {"key": "vip", "name": "VIP", "definition": {"type": "tags", "match": "any", "tags": ["vip"]}}
    )
    c.journeys.create(
        {
            "key": "hello",
            "name": "欢迎",
            "trigger": {"tag_added": "vip"},
            "purpose": "service",
            "steps": [{"id": "wait", "wait": "1d"}],
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_linked_console_page_answers(
    server: Any, console_as: Callable[[str], Any], brand: None, lang: str
) -> None:
    browser = console_as("owner")
    browser.get(f"/console/lang/{lang}")
    seen: set[str] = set()
    queue = deque(["/console/"])
    broken = []
    while queue and len(seen) < 200:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        resp = browser.get(path)
        if resp.status_code != 200:
            broken.append((path, resp.status_code))
            continue
        for href in HREF.findall(resp.text):
            target = urlsplit(urljoin(path, href.replace("&amp;", "&")))
            if target.netloc or not target.path.startswith("/console") or target.path.startswith(SKIP):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen:
                queue.append(link)
    assert not broken, broken
    # the crawl reached every area, not just the dashboard
    for area in ("contacts", "segments", "journeys", "content", "analytics", "settings", "imports"):
        assert any(p.startswith(f"/console/{area}") for p in seen), area
