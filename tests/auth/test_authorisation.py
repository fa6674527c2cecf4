"""Every REST route and every console route, called by every role, against the permission
matrix: a role holding the route's permission is let through (whatever the handler then
answers), one lacking it gets 403, nobody signed in gets 401 (REST) or the sign-in page
(console). And no route ever hands a viewer or an analyst an unmasked phone number or email."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.conftest import walk_routes

from siyu.api.permissions import ANY, PUBLIC
from siyu.api.permissions import ROUTES as API_ROUTES
from siyu.auth.roles import ROLES, Permission
from siyu.console.permissions import ANONYMOUS

PHONE = "13912345678"
EMAIL = "zhao.lei@example.com"
DENIED = {401, 403}


def _fill(path: str, contact_id: int) -> str:
    """Concrete values for path parameters: the test contact where a contact is meant, harmless
    values elsewhere (the walk is about who gets in, not what the handler finds)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return {
            "query": PHONE,
            "contact_id": str(contact_id),
            "kind": "activity",
            "lang": "en",
        }.get(name, "999999" if name.endswith("id") else "nope")

    return re.sub(r"\{([^}]+)\}", value, path)


def _allowed(role: str, needed: str) -> bool:
    return needed in (ANY, PUBLIC, ANONYMOUS) or Permission(needed) in ROLES[role]


@pytest.fixture
def contact_id(server: Any) -> int:
    server.client.identify({"phone": PHONE, "email": EMAIL}, traits={"name": "赵磊"})
    return int(server.client.contact(PHONE)["id"])


def api_routes(server: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p in walk_routes(server.app.routes) if p.startswith("/api/")]


def console_routes(server: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p in walk_routes(server.app.routes) if p.startswith("/console/")]


def test_every_route_has_exactly_one_permission(server: Any) -> None:
    served_api = set(api_routes(server))
    assert served_api == set(API_ROUTES), (
        f"unlisted: {sorted(served_api - set(API_ROUTES))}, stale: {sorted(set(API_ROUTES) - served_api)}"
    )
    table = server.app.state.console_routes
    served_console = set(console_routes(server))
    assert served_console == set(table), (
        f"unlisted: {sorted(served_console - set(table))}, stale: {sorted(set(table) - served_console)}"
    )


@pytest.mark.parametrize("role", list(ROLES))
def test_rest_routes_follow_the_matrix(
    server: Any, api_key: Callable[[str], str], role: str, contact_id: int
) -> None:
    headers = {"Authorization": f"Bearer {api_key(role)}"}
    wrong = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        for method, path in api_routes(server):
            needed = API_ROUTES[(method, path)]
            if needed == PUBLIC:
                continue
            resp = http.request(method, _fill(path, contact_id), json={} if method != "GET" else None)
            allowed = _allowed(role, str(needed))
            if allowed == (resp.status_code in DENIED) or (not allowed and resp.status_code != 403):
                wrong.append((method, path, str(needed), resp.status_code, resp.text[:120]))
    assert not wrong, f"{role}: " + "\n".join(map(str, wrong))


def test_rest_routes_refuse_anonymous_callers(server: Any, contact_id: int) -> None:
    wrong = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for method, path in api_routes(server):
            if API_ROUTES[(method, path)] == PUBLIC:
                continue
            resp = http.request(method, _fill(path, contact_id), json={} if method != "GET" else None)
            if resp.status_code != 401 or resp.headers.get("www-authenticate") != "Bearer":
                wrong.append((method, path, resp.status_code))
    assert not wrong


@pytest.mark.parametrize("role", list(ROLES))
def test_console_routes_follow_the_matrix(
    server: Any, console_as: Callable[[str], Any], role: str, contact_id: int
) -> None:
    browser = console_as(role)
    table = server.app.state.console_routes
    wrong = []
    # Signing out last: it ends the session the walk uses.
    for method, path in sorted(console_routes(server), key=lambda r: r[1].endswith("/logout")):
        needed = str(table[(method, path)])
        if needed == ANONYMOUS:
            continue
        url = _fill(path, contact_id)
        resp = browser.get(url) if method == "GET" else browser.post_form(url, {})
        signed_out = "/console/login" in str(resp.url) and not path.endswith("/logout")
        allowed = _allowed(role, needed)
        if signed_out or allowed == (resp.status_code == 403) or (not allowed and resp.status_code != 403):
            wrong.append((method, path, needed, resp.status_code, str(resp.url)))
    assert not wrong, f"{role}: " + "\n".join(map(str, wrong))


def test_console_routes_send_anonymous_visitors_to_sign_in(server: Any, contact_id: int) -> None:
    table = server.app.state.console_routes
    wrong = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for method, path in console_routes(server):
            if table[(method, path)] == ANONYMOUS:
                continue
            resp = http.request(method, _fill(path, contact_id))
            location = resp.headers.get("location", "")
            if resp.status_code != 303 or not location.startswith("/console/login?next="):
                wrong.append((method, path, resp.status_code, location))
    assert not wrong


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_no_route_shows_them_an_unmasked_phone_or_email(
    server: Any, api_key: Callable[[str], str], console_as: Callable[[str], Any], role: str, contact_id: int
) -> None:
    """Every GET route (REST and console) with the contact's id and phone filled in, plus the
    explicit reveal and export requests: the clear phone and email never appear."""
    leaks = []
    headers = {"Authorization": f"Bearer {api_key(role)}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        urls = [_fill(p, contact_id) for m, p in api_routes(server) if m == "GET"]
        urls += [f"/api/v1/contacts/{PHONE}?reveal=true", "/api/v1/exports/contacts"]
        for url in urls:
            body = http.get(url).text
            if PHONE in body or EMAIL in body:
                leaks.append(url)
        assert http.get(f"/api/v1/contacts/{PHONE}?reveal=true").status_code == 403
    browser = console_as(role)
    for method, path in console_routes(server):
        if method == "GET" and not path.endswith("/logout"):
            url = _fill(path, contact_id)
            body = browser.get(url).text
            if PHONE in body or EMAIL in body:
                leaks.append(url)
    reveal = browser.post_form(f"/console/contacts/{contact_id}/reveal", {})
    assert reveal.status_code == 403 and PHONE not in reveal.text
    assert not leaks, leaks


def test_an_operator_can_reveal_and_it_is_audited(
    server: Any, api_key: Callable[[str], str], contact_id: int
) -> None:
    """The positive control for the test above: the clear phone does appear for a role allowed
    to see it, and the reveal is in the audit log under that caller's name."""
    key = api_key("operator")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        masked = http.get(f"/api/v1/contacts/{PHONE}").json()
        assert PHONE not in str(masked) and "139****5678" in str(masked)
        clear = http.get(f"/api/v1/contacts/{PHONE}?reveal=true").json()
        assert {i["value"] for i in clear["identifiers"]} >= {f"+86{PHONE}", EMAIL}  # E.164 in clear
        assert http.get("/api/v1/exports/contacts").status_code == 403  # only owners export
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key('owner')}"}, timeout=60
    ) as http:
        export = http.get("/api/v1/exports/contacts")
        assert export.status_code == 200 and f"phone:+86{PHONE}" in export.text
        log = http.get("/api/v1/audit", params={"action": "pii.revealed"}).json()
        assert [(e["actor"], e["target_id"]) for e in log] == [(f"key:{key[:10]}", str(contact_id))]
        assert [
            e["details"] for e in http.get("/api/v1/audit", params={"action": "pii.exported"}).json()
        ] == [{"rows": 1}]
