"""Console settings, access part: users, roles, API keys and the audit log."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from siyu.auth.roles import ROLES, Permission
from siyu.auth.service import AuthService

ACCESS_PAGES = {
    "/console/settings/users": ("admin", "operator"),
    "/console/settings/roles": ("admin", "analyst"),
    "/console/settings/api-keys": ("admin", "viewer"),
    "/console/settings/audit": ("admin", "operator"),
}


@pytest.mark.parametrize("path", list(ACCESS_PAGES))
def test_each_page_renders_for_a_role_that_may_see_it_and_refuses_one_that_may_not(
    console_as: Any, path: str
) -> None:
    allowed, refused = ACCESS_PAGES[path]
    page = console_as(allowed).get(path)
    assert page.status_code == 200 and "<h1>" in page.text
    denied = console_as(refused).get(path)
    assert denied.status_code == 403 and "lacks the permission" in denied.text


# --- users ---------------------------------------------------------------------------------------
def _user_row(html: str, username: str) -> str:
    row = re.search(rf'<tr id="user-{re.escape(username)}".*?</tr>', html, re.S)
    assert row, html
    return row.group(0)


def test_admin_creates_a_user_who_can_then_sign_in(server: Any, console_as: Any, console_login: Any) -> None:
    admin = console_as("admin")
    made = admin.post_form(
        "/console/settings/users",
        {
            "username": "li.na",
            "name": "李娜",
            "role": "operator",
            "password": "a-long-password",
            "language": "zh",
        },
    )
    assert made.status_code == 200 and "Created the user li.na" in made.text
    row = _user_row(made.text, "li.na")
    assert 'data-role="operator"' in row and "李娜" in row and "Operator" in row and "Chinese" in row
    signed_in = console_login(server.url, "li.na", "a-long-password")
    assert signed_in.get("/console/settings").status_code == 200
    # The new user's page is in their language; the admin's pages stay English.
    assert "设置" in signed_in.get("/console/settings").text
    signed_in.close()


def test_admin_cannot_create_an_owner_and_is_not_offered_it(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    page = admin.get("/console/settings/users").text
    form = re.search(
        r'<form method="post" action="/console/settings/users" id="new-user".*?</form>', page, re.S
    )
    assert form and 'value="admin"' in form.group(0) and 'value="owner"' not in form.group(0)
    refused = admin.post_form(
        "/console/settings/users", {"username": "boss", "role": "owner", "password": "a-long-password"}
    )
    assert refused.status_code == 422
    assert "Your role (Admin) cannot grant or change the role Owner" in refused.text
    assert 'value="boss"' in refused.text  # what was typed is kept
    assert "boss" not in [u["username"] for u in server.client.users.list()]
    # …and cannot touch an owner either.
    server.client.users.create("the-owner", "a-long-password", "owner", actor="test")
    assert "data-action" not in _user_row(admin.get("/console/settings/users").text, "the-owner")
    touched = admin.post_form("/console/settings/users/the-owner", {"action": "disable"})
    assert touched.status_code == 422 and "cannot grant or change" in touched.text


def test_user_form_errors_name_the_field_in_the_users_language(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    short = admin.post_form(
        "/console/settings/users", {"username": "ok-name", "role": "viewer", "password": "short"}
    )
    assert short.status_code == 422 and "at least 10 characters" in short.text
    assert re.search(r'name="password"[^>]*aria-invalid="true"', short.text)
    assert 'value="ok-name"' in short.text and 'value="short"' not in short.text  # passwords not echoed
    admin.get("/console/lang/zh")
    taken = admin.post_form(
        "/console/settings/users", {"username": "admin-0", "role": "viewer", "password": "a-long-password"}
    )
    assert taken.status_code == 409 and "用户名 admin-0 已存在" in taken.text


def test_change_role_disable_enable_and_reset_password(
    server: Any, console_as: Any, console_login: Any
) -> None:
    server.client.users.create("wang", "first-password", "viewer", actor="test")
    owner = console_as("owner")
    assert (
        owner.post_form("/console/settings/users/wang", {"action": "role", "role": "analyst"}).status_code
        == 200
    )
    assert [u["role"] for u in server.client.users.list() if u["username"] == "wang"] == ["analyst"]

    page = owner.post_form("/console/settings/users/wang", {"action": "disable"})
    assert 'data-disabled="true"' in _user_row(page.text, "wang")
    with pytest.raises(AssertionError):
        console_login(server.url, "wang", "first-password")
    page = owner.post_form("/console/settings/users/wang", {"action": "enable"})
    assert 'data-disabled="false"' in _user_row(page.text, "wang")

    page = owner.post_form(
        "/console/settings/users/wang", {"action": "password", "password": "second-password"}
    )
    assert page.status_code == 200 and "Updated the user wang" in page.text
    console_login(server.url, "wang", "second-password").close()
    assert owner.post_form("/console/settings/users/nobody", {"action": "disable"}).status_code == 404
    # The last owner cannot be demoted (owner-0 is the only owner here).
    last = owner.post_form("/console/settings/users/owner-0", {"action": "role", "role": "admin"})
    assert last.status_code == 422 and "last owner" in last.text


# --- roles ---------------------------------------------------------------------------------------
def test_roles_page_shows_the_matrix_with_names_in_both_languages(console_as: Any) -> None:
    admin = console_as("admin")
    html = admin.get("/console/settings/roles").text
    for perm in Permission:
        row = re.search(rf'<tr data-permission="{re.escape(perm.value)}">.*?</tr>', html, re.S)
        assert row, perm
        granted = re.findall(r'data-role="(\w+)" data-granted="yes"', row.group(0))
        assert granted == [r for r in ROLES if perm in ROLES[r]], perm
    assert "Export PII in bulk" in html and "Owner" in html
    admin.get("/console/lang/zh")
    zh = admin.get("/console/settings/roles").text
    assert "批量导出明文客户信息" in zh and "所有者" in zh


# --- API keys ------------------------------------------------------------------------------------
def test_new_api_key_is_shown_once_and_works_until_revoked(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    made = admin.post_form("/console/settings/api-keys", {"name": "crm-sync", "role": "viewer"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="new-api-key">([^<]+)</code>', made.text)
    assert secret and secret.group(1).startswith("sk_")
    key = secret.group(1)
    assert "shown this once" in made.text

    me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "viewer"

    listing = admin.get("/console/settings/api-keys").text
    assert key not in listing and 'id="new-api-key"' not in listing
    row = re.search(
        r'<tr id="key-(\d+)" data-key-id="\d+" data-prefix="([^"]+)" data-revoked="false">', listing
    )
    assert row and key.startswith(row.group(2)) and "crm-sync" in listing and "user:admin-0" in listing

    revoked = admin.post_form(f"/console/settings/api-keys/{row.group(1)}/revoke")
    assert revoked.status_code == 200 and "Revoked the key crm-sync" in revoked.text
    assert f'data-key-id="{row.group(1)}" data-prefix="{row.group(2)}" data-revoked="true"' in revoked.text
    after = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert after.status_code == 401


def test_an_admin_is_not_offered_and_cannot_revoke_an_owner_key(server: Any, console_as: Any) -> None:
    owner_key = server.client.api_keys.create("owner-etl", "owner", actor="test")
    viewer_key = server.client.api_keys.create("dashboards", "viewer", actor="test")
    admin = console_as("admin")
    page = admin.get("/console/settings/api-keys").text
    assert f'action="/console/settings/api-keys/{owner_key["id"]}/revoke"' not in page
    assert f'action="/console/settings/api-keys/{viewer_key["id"]}/revoke"' in page
    refused = admin.post_form(f"/console/settings/api-keys/{owner_key['id']}/revoke")
    assert refused.status_code == 403
    assert "Your role (Admin) cannot revoke a key of the role Owner." in refused.text
    admin.get("/console/lang/zh")
    refused = admin.post_form(f"/console/settings/api-keys/{owner_key['id']}/revoke")
    assert refused.status_code == 403 and "不能吊销" in refused.text
    still = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {owner_key['key']}"})
    assert still.status_code == 200


def test_api_key_roles_are_limited_to_the_granters(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    refused = admin.post_form("/console/settings/api-keys", {"name": "too-strong", "role": "owner"})
    assert (
        refused.status_code == 422 and "cannot grant" in refused.text and 'value="too-strong"' in refused.text
    )
    assert 'id="new-api-key"' not in refused.text
    empty = admin.post_form("/console/settings/api-keys", {"name": "  ", "role": "viewer"})
    assert empty.status_code == 422 and "A key name is 1–200 characters" in empty.text
    assert server.client.api_keys.list() == []
    assert (
        console_as("operator")
        .post_form("/console/settings/api-keys", {"name": "x", "role": "viewer"})
        .status_code
        == 403
    )


# --- audit log -----------------------------------------------------------------------------------
def _audit_rows(html: str) -> list[tuple[int, str, str]]:
    return [
        (int(i), action, actor)
        for i, action, actor in re.findall(
            r'<tr data-audit-id="(\d+)" data-action="([^"]+)" data-actor="([^"]+)">', html
        )
    ]


def test_audit_log_shows_these_actions_newest_first_and_filters(server: Any, console_as: Any) -> None:
    admin = console_as("admin")
    admin.post_form(
        "/console/settings/users", {"username": "zhao", "role": "viewer", "password": "a-long-password"}
    )
    admin.post_form("/console/settings/api-keys", {"name": "bi-tool", "role": "analyst"})
    html = admin.get("/console/settings/audit").text
    rows = _audit_rows(html)
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    mine = [r[1] for r in rows if r[2] == "user:admin-0"]
    assert "user.created" in mine and "api_key.created" in mine and "POST /console/settings/users" in mine
    # details read as labelled pairs, the values marked as data; actions and targets by label
    assert 'username: <span translate="no">zhao</span>' in html and ">User created<" in html
    admin.cookies.set("siyu_lang", "zh")
    zh = admin.get("/console/settings/audit").text
    assert '用户名：<span translate="no">zhao</span>' in zh and ">创建用户<" in zh and ">创建 API 密钥<" in zh
    assert '提交 <code translate="no">/console/settings/users</code>' in zh

    only_keys = _audit_rows(admin.get("/console/settings/audit?action=api_key.created").text)
    assert only_keys and {r[1] for r in only_keys} == {"api_key.created"}
    by_test = _audit_rows(admin.get("/console/settings/audit?actor=test").text)
    assert by_test and {r[2] for r in by_test} == {"test"}  # the fixture created the signed-in users
    users = _audit_rows(admin.get("/console/settings/audit?target_type=user&action=user.created").text)
    assert len(users) == 2  # admin-0 (by the fixture) and zhao
    with server.client.ctx.db.session() as s:
        zhao_id = AuthService(s).user("zhao").id
    about_zhao = _audit_rows(admin.get(f"/console/settings/audit?target_type=user&target_id={zhao_id}").text)
    assert [r[1] for r in about_zhao] == ["user.created"]
    target = admin.get("/console/settings/audit?target_type=user&target_id=999999").text
    assert _audit_rows(target) == [] and 'id="audit-none"' in target


def test_audit_log_pages_back_with_before_id(server: Any, console_as: Any) -> None:
    for i in range(105):
        server.client.users.create(f"bulk-{i:03d}", "a-long-password", "viewer", actor="seeder")
    admin = console_as("admin")
    first = admin.get("/console/settings/audit?actor=seeder").text
    rows = _audit_rows(first)
    assert len(rows) == 100
    older = re.search(r'<a href="([^"]+)" id="audit-older">', first)
    assert older
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    rest = _audit_rows(second)
    assert len(rest) == 5 and max(r[0] for r in rest) < min(r[0] for r in rows)
    assert 'id="audit-older"' not in second and 'id="audit-newest"' in second


def test_every_settings_page_renders_in_chinese(server: Any, console_as: Any) -> None:
    server.client.create_channel("wecom-main", "wecom", "企业微信")
    server.client.create_entry_code("wecom-main", "poster-a", "海报")
    server.client.providers.add("hook", "webhook", {"url": "https://x.example/h"}, {"secret": "s"})
    owner = console_as("owner")
    owner.get("/console/lang/zh")
    expected = {
        "/console/settings": "渠道与活码",
        "/console/settings/channels": "首次来源客户",
        "/console/settings/providers": "已设置的密钥",
        "/console/settings/users": "新建成员",
        "/console/settings/roles": "权限",
        "/console/settings/api-keys": "新建 API 密钥",
        "/console/settings/audit": "操作人",
    }
    for path, text in expected.items():
        page = owner.get(path)
        assert page.status_code == 200 and text in page.text and '<html lang="zh-CN">' in page.text, path
    made = owner.post_form("/console/settings/api-keys", {"name": "中文密钥", "role": "owner"})
    assert made.status_code == 200 and "此密钥只显示这一次" in made.text
