"""Attacks the console and the API must withstand, over real HTTP: cross-site request forgery,
session fixation, password guessing, a revoked key, path traversal on static files, open
redirects after sign-in, and role escalation through user or key creation."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from siyu.api.security import SESSION_COOKIE
from siyu.store.models import LoginFailure, utcnow

PW = "correct horse battery"


def _login_form(http: httpx.Client) -> str:
    page = http.get("/console/login")
    match = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _post_login(http: httpx.Client, username: str, password: str, **extra: str) -> httpx.Response:
    token = _login_form(http)
    data = {"username": username, "password": password, "login_token": token, **extra}
    return http.post("/console/login", data=data)


@pytest.fixture
def user(server: Any) -> str:
    server.client.users.create("mei", PW, "operator", language="en", actor="test")
    return "mei"


# --- CSRF ---------------------------------------------------------------------------------------
def test_cookie_writes_need_the_csrf_token(server: Any, console_as: Callable[[str], Any]) -> None:
    browser = console_as("admin")
    body = {"key": "wecom-1", "name": "企微一号", "kind": "wecom"}
    assert browser.post("/api/v1/channels", json=body).status_code == 403
    assert browser.post("/api/v1/channels", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert browser.get("/api/v1/channels").json() == []
    ok = browser.post("/api/v1/channels", json=body, headers={"X-CSRF-Token": browser.csrf})
    assert ok.status_code == 201, ok.text
    # Console forms: the same token as a form field.
    page = browser.post("/console/logout", data={})
    assert page.status_code == 403 and "expired" in page.text
    assert browser.get("/api/v1/me").status_code == 200  # still signed in: the forged logout did nothing


def test_api_keys_need_no_csrf_token(server: Any, api_key: Callable[[str], str]) -> None:
    """A key is sent by a program deliberately, never by a browser on its own."""
    headers = {"Authorization": f"Bearer {api_key('admin')}"}
    resp = httpx.post(
        f"{server.url}/api/v1/channels", json={"key": "sms", "name": "短信", "kind": "sms"}, headers=headers
    )
    assert resp.status_code == 201, resp.text


def test_sign_in_form_needs_its_own_token(server: Any, user: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        _login_form(http)  # the cookie is set, but the form token is missing (a cross-site post)
        resp = http.post("/console/login", data={"username": user, "password": PW, "login_token": "x"})
        assert resp.status_code == 403 and SESSION_COOKIE not in resp.cookies


# --- sessions -----------------------------------------------------------------------------------
def test_sign_in_issues_a_new_session_never_the_one_brought_along(server: Any, user: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        planted = "attacker-chosen-session-token"
        http.cookies.set(SESSION_COOKIE, planted)
        resp = _post_login(http, user, PW)
        assert resp.status_code == 303
        issued = resp.cookies.get(SESSION_COOKIE)
        assert issued and issued != planted
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: planted}) as attacker:
        assert attacker.get("/api/v1/me").status_code == 401
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: issued}) as victim:
        assert victim.get("/api/v1/me").json()["username"] == user


def test_signing_in_again_ends_the_previous_session(server: Any, user: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        first = _post_login(http, user, PW).cookies[SESSION_COOKIE]
        second = _post_login(http, user, PW).cookies[SESSION_COOKIE]
    assert first != second
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: first}) as old:
        assert old.get("/api/v1/me").status_code == 401


def test_sign_out_ends_the_session_on_the_server(server: Any, console_as: Callable[[str], Any]) -> None:
    browser = console_as("viewer")
    token = browser.cookies[SESSION_COOKIE]
    assert browser.post_form("/console/logout").status_code == 200  # followed to the sign-in page
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: token}) as replay:
        assert replay.get("/api/v1/me").status_code == 401
        assert replay.get("/console/", follow_redirects=False).status_code == 303


# --- throttling ---------------------------------------------------------------------------------
def test_password_guessing_is_throttled(server: Any, user: str) -> None:
    limit = server.client.ctx.settings.login_max_failures
    with httpx.Client(base_url=server.url) as http:
        for _ in range(limit):
            assert _post_login(http, user, "not the password").status_code == 401
        locked = _post_login(http, user, PW)  # even the right password is not checked now
        assert locked.status_code == 429 and SESSION_COOKIE not in locked.cookies
        assert re.search(r"Try again in \d+ seconds", locked.text) or "秒后重试" in locked.text
        with server.client.ctx.db.session() as s:  # the window passes
            s.execute(update(LoginFailure).values(at=utcnow() - timedelta(hours=1)))
        assert _post_login(http, user, PW).status_code == 303


def test_a_colleagues_typos_do_not_lock_the_owner_out_of_the_console(server: Any, user: str) -> None:
    """Everyone signs in from one office address (127.0.0.1 here)."""
    server.client.users.create("boss", PW, "owner", language="en", actor="test")
    limit = server.client.ctx.settings.login_max_failures
    with httpx.Client(base_url=server.url) as http:
        for _ in range(limit):
            assert _post_login(http, user, "not the password").status_code == 401
        assert _post_login(http, user, PW).status_code == 429  # mei is locked…
    with httpx.Client(base_url=server.url) as http:
        assert _post_login(http, "boss", PW).status_code == 303  # …the owner is not


# --- API keys -----------------------------------------------------------------------------------
def test_a_revoked_key_stops_working_at_once(server: Any, api_key: Callable[[str], str]) -> None:
    admin = {"Authorization": f"Bearer {api_key('admin')}"}
    with httpx.Client(base_url=server.url, headers=admin, timeout=60) as http:
        made = http.post("/api/v1/api-keys", json={"name": "etl", "role": "analyst"})
        assert made.status_code == 201
        secret, key_id = made.json()["key"], made.json()["id"]
        assert all("key" not in k for k in http.get("/api/v1/api-keys").json())  # shown once only
    etl = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{server.url}/api/v1/me", headers=etl).json()["role"] == "analyst"
    with httpx.Client(base_url=server.url, headers=admin, timeout=60) as http:
        assert http.delete(f"/api/v1/api-keys/{key_id}").json()["revoked_at"]
    resp = httpx.get(f"{server.url}/api/v1/me", headers=etl)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"


def test_nobody_grants_more_than_they_hold(server: Any, api_key: Callable[[str], str]) -> None:
    admin = {"Authorization": f"Bearer {api_key('admin')}"}
    with httpx.Client(base_url=server.url, headers=admin, timeout=60) as http:
        assert http.post("/api/v1/api-keys", json={"name": "k", "role": "owner"}).status_code == 422
        user = {"username": "boss", "password": PW, "role": "owner"}
        assert http.post("/api/v1/users", json=user).status_code == 422
        assert http.post("/api/v1/users", json={**user, "role": "operator"}).status_code == 201
    assert [u["username"] for u in server.client.users.list()] == ["boss"]


def test_an_admin_cannot_revoke_or_change_what_it_could_not_grant(
    server: Any, api_key: Callable[[str], str]
) -> None:
    """As the testers sent it: an admin revoked the owner's API keys."""
    owner_key = api_key("owner", "owner-etl")
    owner_id = next(k["id"] for k in server.client.api_keys.list() if k["name"] == "owner-etl")
    server.client.users.create("the-owner", PW, "owner", actor="test")
    admin = {"Authorization": f"Bearer {api_key('admin')}"}
    with httpx.Client(base_url=server.url, headers=admin, timeout=60) as http:
        refused = http.delete(f"/api/v1/api-keys/{owner_id}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == "role: a admin cannot revoke a owner key"
        assert http.patch("/api/v1/users/the-owner", json={"disabled": True}).status_code == 403
        # What an admin may grant, it may revoke: an operator's key.
        made = http.post("/api/v1/api-keys", json={"name": "ops", "role": "operator"}).json()
        assert http.delete(f"/api/v1/api-keys/{made['id']}").status_code == 200
    owner = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {owner_key}"})
    assert owner.status_code == 200 and owner.json()["role"] == "owner"
    assert not next(u for u in server.client.users.list() if u["username"] == "the-owner")["disabled"]
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {owner_key}"}, timeout=60
    ) as http:
        assert http.delete(f"/api/v1/api-keys/{owner_id}").status_code == 200  # an owner may


# --- static files and redirects -----------------------------------------------------------------
def _raw_get(server: Any, path: str) -> tuple[int, bytes]:
    """A request line sent as is: HTTP clients normalise ``..`` away before sending."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/../../../../etc/passwd",
        "/console/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/console/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/console/static/%2e%2e%5c%2e%2e%5capp.py",
        "/console/static/vendor/../../app.py",
        "/console/static/vendor/%2e%2e/%2e%2e/%2e%2e/plotly/__init__.py",
        "/console/static//etc/passwd",
        "/console/static/console.css%00.py",
    ],
)
def test_static_files_stay_inside_their_folder(server: Any, path: str) -> None:
    status, body = _raw_get(server, path)
    assert status in (400, 404), (status, body[:200])
    assert b"root:" not in body and b"import" not in body


def test_static_files_are_served(server: Any) -> None:
    status, body = _raw_get(server, "/console/static/console.css")
    assert status == 200 and b"--accent" in body
    status, body = _raw_get(server, "/console/static/vendor/plotly.min.js")
    assert status == 200 and b"plotly.js" in body[:2000]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/me"]
)
def test_sign_in_never_redirects_off_the_console(server: Any, user: str, target: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        resp = _post_login(http, user, PW, next=target)
        assert resp.status_code == 303 and resp.headers["location"] == "/console/"
