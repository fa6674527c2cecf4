"""Every successful write through the API or the console is in the audit log under the
caller's name; refused and failed requests leave no write entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from siyu.audit import service as audit


def http_writes(server: Any) -> list[tuple[str, str, int]]:
    with server.client.ctx.db.session() as s:
        rows = audit.entries(s, target_type="http", limit=1000)
        return [(e.actor, e.action, e.details["status"]) for e in reversed(rows)]


def test_api_writes_are_audited_with_the_key(server: Any, api_key: Callable[[str], str]) -> None:
    server.client.tags.create("vip")
    operator = api_key("operator")
    viewer = api_key("viewer")
    segment = {"key": "vip", "name": "VIP", "definition": {"type": "tags", "match": "any", "tags": ["vip"]}}
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {operator}"}, timeout=60
    ) as http:
        assert http.post("/api/v1/segments", json=segment).status_code == 201
        assert http.post("/api/v1/segments", json={"key": "bad"}).status_code == 422  # not a write
        assert http.get("/api/v1/segments").status_code == 200  # reads are not writes
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {viewer}"}, timeout=60) as http:
        assert http.delete("/api/v1/segments/vip").status_code == 403
    assert http_writes(server) == [(f"key:{operator[:10]}", "POST /api/v1/segments", 201)]
    with server.client.ctx.db.session() as s:  # the capability's own entry names the caller too
        created = audit.entries(s, action="segment.created")
        assert [(e.actor, e.target_id) for e in created] == [(f"key:{operator[:10]}", "1")]


def test_console_writes_are_audited_with_the_user(server: Any, console_as: Callable[[str], Any]) -> None:
    browser = console_as("admin")
    resp = browser.post(
        "/api/v1/channels",
        json={"key": "sms", "name": "短信", "kind": "sms"},
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert resp.status_code == 201
    browser.post_form("/console/logout")
    assert http_writes(server) == [
        ("user:admin-0", "POST /api/v1/channels", 201),
        ("user:admin-0", "POST /console/logout", 303),
    ]
