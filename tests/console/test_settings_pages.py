"""Console settings: the index, channels and entry codes with their QR codes, providers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from siyu.store.models import AuditEntry

SETTINGS_PAGES = {
    "/console/settings": ("viewer", None),
    "/console/settings/channels": ("viewer", None),
    "/console/settings/providers": ("admin", "operator"),
}


def _code_id(html: str, state: str) -> int:
    found = re.search(
        rf'id="code-{re.escape(state)}" data-state="{re.escape(state)}" data-code-id="(\d+)"', html
    )
    assert found, html
    return int(found.group(1))


@pytest.mark.parametrize("path", list(SETTINGS_PAGES))
def test_each_page_renders_for_a_role_that_may_see_it_and_refuses_one_that_may_not(
    console_as: Callable[[str], Any], path: str
) -> None:
    allowed, refused = SETTINGS_PAGES[path]
    page = console_as(allowed).get(path)
    assert page.status_code == 200 and "<h1>" in page.text, page.text[:300]
    if refused:
        denied = console_as(refused).get(path)
        assert denied.status_code == 403 and "providers.manage" in denied.text


def test_index_links_only_to_pages_the_user_may_use(console_as: Callable[[str], Any]) -> None:
    viewer = console_as("viewer").get("/console/settings").text
    assert re.findall(r'data-section="([^"]+)"', viewer) == ["channels", "events", "brand"]
    admin = console_as("admin").get("/console/settings").text
    sections = re.findall(r'data-section="([^"]+)"', admin)
    assert sections == [
        "channels",
        "providers",
        "users",
        "roles",
        "api-keys",
        "audit",
        "retention",
        "events",
        "brand",
        "wecom",
    ]
    for href in re.findall(r'<a class="card" href="([^"]+)"', admin):  # no dead links
        assert console_as("admin").get(href).status_code == 200, href


def test_channels_list_counts_contacts_per_channel_and_entry_code(server: Any, console_as: Any) -> None:
    client = server.client
    client.create_channel("wecom-main", "wecom", "企业微信导购")
    client.create_channel("store", "store", "门店")
    client.create_entry_code("wecom-main", "poster-a", "海报 A")
    calls = [
        {
            "type": "identify",
            "identifiers": {"phone": f"1380013800{i}"},
            "traits": {},
            "context": {"state": "poster-a"},
        }
        for i in range(3)
    ]
    result = client.batch(calls)
    assert not result.rejected, result
    html = console_as("viewer").get("/console/settings/channels").text
    row = re.search(r'<tr id="channel-wecom-main".*?</tr>', html, re.S)
    assert row and 'data-first="3"' in row.group(0) and 'data-touched="3"' in row.group(0), html
    assert "WeCom" in row.group(0)  # the kind's name, in the user's language
    store = re.search(r'<tr id="channel-store".*?</tr>', html, re.S)
    assert store and 'data-first="0"' in store.group(0)
    code = re.search(r'<tr id="code-poster-a".*?</tr>', html, re.S)
    assert code and 'data-first="3"' in code.group(0) and "海报 A" in code.group(0)
    # Viewers read but may not create: no forms for them.
    assert 'id="new-channel"' not in html and 'id="new-entry-code"' not in html


def test_qr_is_an_svg_of_the_entry_codes_url_and_changes_with_the_code(server: Any, console_as: Any) -> None:
    client = server.client
    client.create_channel("wecom-main", "wecom")
    client.create_entry_code("wecom-main", "poster-a")
    client.create_entry_code("wecom-main", "poster-b")
    viewer = console_as("viewer")
    html = viewer.get("/console/settings/channels?landing=https://brand.example/join").text
    a, b = _code_id(html, "poster-a"), _code_id(html, "poster-b")
    assert "https://brand.example/join?state=poster-a" in html
    assert f"/console/settings/entry-codes/{a}/qr.svg?landing=https%3A%2F%2Fbrand.example%2Fjoin" in html

    qr_a = viewer.get(f"/console/settings/entry-codes/{a}/qr.svg?landing=https://brand.example/join")
    assert qr_a.status_code == 200 and qr_a.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in qr_a.text and ("<path" in qr_a.text or "<rect" in qr_a.text)
    qr_b = viewer.get(f"/console/settings/entry-codes/{b}/qr.svg?landing=https://brand.example/join")
    assert qr_b.text != qr_a.text
    default = viewer.get(f"/console/settings/entry-codes/{a}/qr.svg")  # PUBLIC_URL as landing page
    assert default.status_code == 200 and default.text != qr_a.text
    assert viewer.get("/console/settings/entry-codes/99999/qr.svg").status_code == 404
    assert (
        viewer.get(f"/console/settings/entry-codes/{a}/qr.svg?landing=javascript:alert(1)").status_code == 422
    )


def test_create_channel_and_entry_code_through_the_forms(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    made = admin.post_form(
        "/console/settings/channels", {"key": "xhs-notes", "name": "小红书笔记", "kind": "xiaohongshu"}
    )
    assert made.status_code == 200 and "Created: xhs-notes" in made.text
    assert 'id="channel-xhs-notes"' in made.text and "Xiaohongshu" in made.text
    code = admin.post_form(
        "/console/settings/entry-codes",
        {"channel": "xhs-notes", "state": "xhs-0601", "name": "6 月笔记", "campaign": "618"},
    )
    assert code.status_code == 200 and 'id="code-xhs-0601"' in code.text and "618" in code.text
    states = [c.state for c in _codes(server)]
    assert states == ["xhs-0601"]
    with server.client.ctx.db.session() as s:
        actions = {(a.actor, a.action) for a in s.query(AuditEntry).all()}
    assert ("user:admin-0", "channel.created") in actions and (
        "user:admin-0",
        "entry_code.created",
    ) in actions


def _codes(server: Any) -> list[Any]:
    from siyu.sources.service import SourcesService

    with server.client.ctx.db.session() as s:
        codes = SourcesService(s).entry_codes()
        s.expunge_all()
        return codes


def test_invalid_channel_and_entry_code_keep_the_input_and_name_the_field(
    server: Any, console_as: Any
) -> None:
    admin = console_as("admin")
    bad = admin.post_form(
        "/console/settings/channels", {"key": "Bad Key!", "name": "我的渠道", "kind": "wecom"}
    )
    assert bad.status_code == 422
    assert (
        "Key is not valid" in bad.text and 'value="Bad Key!"' in bad.text and 'value="我的渠道"' in bad.text
    )
    assert re.search(r'name="key"[^>]*aria-invalid="true"', bad.text)

    server.client.create_channel("wecom-main", "wecom")
    server.client.create_entry_code("wecom-main", "taken")
    dup = admin.post_form("/console/settings/channels", {"key": "wecom-main", "name": "x", "kind": "wecom"})
    assert dup.status_code == 409 and "The channel key wecom-main is taken" in dup.text
    state = admin.post_form(
        "/console/settings/entry-codes", {"channel": "wecom-main", "state": "has space", "name": "海报"}
    )
    assert (
        state.status_code == 422 and "State is not valid" in state.text and 'value="has space"' in state.text
    )
    assert re.search(r'name="state"[^>]*aria-invalid="true"', state.text)
    taken = admin.post_form(
        "/console/settings/entry-codes", {"channel": "wecom-main", "state": "taken", "name": "n"}
    )
    assert taken.status_code == 409 and "The state taken is used by another entry code" in taken.text


def test_viewers_cannot_create_channels(server: Any, console_as: Any) -> None:
    viewer = console_as("viewer")
    resp = viewer.post_form("/console/settings/channels", {"key": "x", "name": "x", "kind": "wecom"})
    assert resp.status_code == 403 and "channels.manage" in resp.text
    resp = viewer.post_form("/console/settings/entry-codes", {"channel": "x", "state": "x", "name": "x"})
    assert resp.status_code == 403


def test_error_messages_follow_the_users_language(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    admin.get("/console/lang/zh")
    bad = admin.post_form("/console/settings/channels", {"key": "Bad Key!", "name": "n", "kind": "wecom"})
    assert bad.status_code == 422 and "标识填写有误" in bad.text


def test_providers_add_list_and_delete_without_showing_secrets(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    made = admin.post_form(
        "/console/settings/providers",
        {
            "key": "hook-crm",
            "kind": "webhook",
            "config": '{"url": "https://crm.example/hook"}',
            "secrets": '{"secret": "s3cr3t-value-xyz"}',
            "default": "1",
        },
    )
    assert made.status_code == 200 and 'id="provider-hook-crm"' in made.text
    assert "https://crm.example/hook" in made.text and ">secret</span>" in made.text
    assert "s3cr3t-value-xyz" not in made.text
    assert [p["key"] for p in server.client.providers.list()] == ["hook-crm"]

    missing = admin.post_form(
        "/console/settings/providers",
        {
            "key": "sms-main",
            "kind": "aliyun_sms",
            "base_url": "https://sms.example",
            "secrets": '{"x": "keep-out"}',
        },
    )
    assert missing.status_code == 422 and "config.sign_name" in missing.text
    assert 'value="sms-main"' in missing.text and 'value="https://sms.example"' in missing.text
    assert "keep-out" not in missing.text  # secrets are never echoed back
    bad_json = admin.post_form("/console/settings/providers", {"key": "k", "kind": "webhook", "config": "[1"})
    assert bad_json.status_code == 422 and "must be a JSON object" in bad_json.text

    gone = admin.post_form("/console/settings/providers/hook-crm/delete")
    assert gone.status_code == 200 and "Deleted the provider account hook-crm" in gone.text
    assert server.client.providers.list() == []
    assert admin.post_form("/console/settings/providers/hook-crm/delete").status_code == 404
    assert console_as("operator").post_form("/console/settings/providers/x/delete").status_code == 403
