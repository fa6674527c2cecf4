"""The journeys and providers REST endpoints over real HTTP (docs/journeys.md): create, read,
edit, start, pause, archive, enrol, the step graph and the report after a worker round, and the
error statuses of ``api.app`` (unknown → 404, conflicts → 409, invalid → 422 with the field's
``path``). Provider secrets must never come back in any answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.emulators.webhook import WebhookReceiver

from siyu.content.service import ContentService

PHONES = ["+8613900000001", "+8613900000002", "+8613900000003"]
SMS_BODY = {"template_code": "SMS_1", "params": {"name": "{{ name }}"}, "text": "Hi {{ name }}"}
WELCOME: dict[str, Any] = {
    "key": "welcome",
    "name": "新客欢迎",
    "trigger": {"list": True},
    "quiet_hours": {"enabled": False},
    "steps": [
        {"id": "tag", "add_tag": "welcomed"},
        {"id": "hi", "send": {"channel": "sms", "template": "hello"}},
        {"id": "later", "wait": "2d"},
    ],
}
WEBHOOK = {
    "key": "hook",
    "kind": "webhook",
    "config": {"url": "http://127.0.0.1:9/hooks"},
    "secrets": {"secret": "whsec-DISTINCTIVE-1"},
}


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


@pytest.fixture
def ids(server) -> list[int]:
    out = []
    for n, phone in enumerate(PHONES, 1):
        assert (
            server.client.identify({"customer_no": f"c{n}", "phone": phone}, {"name": f"N{n}"}).rejected == []
        )
        out.append(server.client.contact(f"customer_no:c{n}")["id"])
    return out


def template(server, key: str = "hello", channel: str = "sms", body: dict[str, Any] | None = None) -> None:
    with server.client.ctx.db.session() as s:
        ContentService(s).create_template(
            {"key": key, "name": key, "channel": channel, "body": body or SMS_BODY, "variants": {}}
        )


# --- journeys ---------------------------------------------------------------------------------------
def test_create_get_list(server, http) -> None:
    created = ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    assert (created["key"], created["name"], created["status"], created["version"]) == (
        "welcome",
        "新客欢迎",
        "draft",
        1,
    )
    assert (created["trigger"], created["steps"], created["started_at"]) == ("list", 3, None)
    got = ok(http.get("/api/v1/journeys/welcome"))
    assert got["definition"] == WELCOME and got["status"] == "draft"
    assert [(j["key"], j["status"]) for j in ok(http.get("/api/v1/journeys"))] == [("welcome", "draft")]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"steps": [{"id": "a", "send": {"channel": "smsx", "template": "t"}}]}, "steps[0].send", "smsx"),
        ({"steps": [{"id": "a", "wait": "2h", "next": "zz"}]}, "steps[0].next", "zz"),
        ({"steps": [{"id": "a", "wait": "2x"}]}, "steps[0].wait", "duration"),
        (
            {"steps": [{"id": "a", "wait": "2h"}, {"id": "b", "add_tag": "x", "wait": "1h"}]},
            "steps[1]",
            "one action",
        ),
        ({"key": "Bad Key"}, "key", "lower-case"),
        ({"steps": []}, "steps", ""),
    ],
)
def test_invalid_definition_is_422_with_the_path(server, http, change: dict, path: str, words: str) -> None:
    resp = http.post("/api/v1/journeys", json={**WELCOME, **change})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["path"] == path and words in body["error"]
    assert body["detail"].startswith(f"{path}: ")
    assert ok(http.get("/api/v1/journeys")) == []


def test_duplicate_key_is_409(server, http) -> None:
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    resp = http.post("/api/v1/journeys", json={**WELCOME, "name": "again"})
    assert resp.status_code == 409 and "welcome" in resp.json()["detail"]
    assert ok(http.get("/api/v1/journeys/welcome"))["name"] == "新客欢迎"


UNKNOWN = [
    ("GET", "/api/v1/journeys/nope", None),
    ("PUT", "/api/v1/journeys/nope", {**WELCOME, "key": "nope"}),
    ("POST", "/api/v1/journeys/nope/start", None),
    ("POST", "/api/v1/journeys/nope/pause", None),
    ("POST", "/api/v1/journeys/nope/archive", None),
    ("GET", "/api/v1/journeys/nope/stats", None),
    ("GET", "/api/v1/journeys/nope/steps", None),
    ("POST", "/api/v1/journeys/nope/enrol", {"contacts": [1]}),
]


def test_unknown_journey_is_404(server, http) -> None:
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)  # another journey exists
    for method, url, body in UNKNOWN:
        resp = http.request(method, url, json=body)
        assert resp.status_code == 404, (method, url, resp.text)
        assert "nope" in resp.json()["detail"]


def test_editing_a_running_journey_makes_a_new_version(server, http) -> None:
    template(server)
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    assert ok(http.post("/api/v1/journeys/welcome/start"))["status"] == "active"
    edited = {**WELCOME, "name": "v2", "steps": WELCOME["steps"][:1]}
    updated = ok(http.put("/api/v1/journeys/welcome", json=edited))
    assert (updated["version"], updated["name"], updated["steps"], updated["status"]) == (
        2,
        "v2",
        1,
        "active",
    )
    assert ok(http.get("/api/v1/journeys/welcome"))["definition"] == edited
    # a running journey's new version must name templates that exist
    broken = {**edited, "steps": [{"id": "w", "send": {"channel": "sms", "template": "nope"}}]}
    resp = http.put("/api/v1/journeys/welcome", json=broken)
    assert resp.status_code == 422 and "nope" in resp.json()["detail"]
    assert ok(http.get("/api/v1/journeys/welcome"))["version"] == 2
    # the document must be for this journey
    other = http.put("/api/v1/journeys/welcome", json={**edited, "key": "other"})
    assert other.status_code == 422 and "other" in other.json()["detail"]
    # the history holds both saved versions (not the refused ones), newest first
    history = ok(http.get("/api/v1/journeys/welcome/versions"))
    assert [(v["version"], v["changes"]["removed"]) for v in history] == [(2, ["hi", "later"]), (1, [])]
    assert ok(http.get("/api/v1/journeys/welcome/versions/1"))["definition"] == WELCOME
    missing = http.get("/api/v1/journeys/welcome/versions/7")
    assert missing.status_code == 404 and "7" in missing.json()["detail"]


def test_archived_journey_cannot_start_again(server, http) -> None:
    template(server)
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    ok(http.post("/api/v1/journeys/welcome/start"))
    assert ok(http.post("/api/v1/journeys/welcome/archive"))["status"] == "archived"
    assert http.post("/api/v1/journeys/welcome/start").status_code == 409
    assert ok(http.get("/api/v1/journeys/welcome"))["status"] == "archived"


def test_archived_journey_cannot_be_edited(server, http) -> None:
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    ok(http.post("/api/v1/journeys/welcome/archive"))
    assert http.put("/api/v1/journeys/welcome", json={**WELCOME, "name": "v2"}).status_code == 409
    assert ok(http.get("/api/v1/journeys/welcome"))["version"] == 1


@pytest.mark.parametrize(
    ("doc", "missing"),
    [
        (WELCOME, "steps[1].send.template: no template 'hello'"),
        ({**WELCOME, "trigger": {"segment_entered": "vips"}}, "no segment 'vips'"),
        (
            {
                **WELCOME,
                "steps": [
                    {
                        "id": "b",
                        "branch": {"routes": [{"if": {"segment": "gone"}, "next": "exit"}], "else": "exit"},
                    }
                ],
            },
            "no segment 'gone'",
        ),
    ],
)
def test_start_names_what_does_not_exist(server, http, doc: dict, missing: str) -> None:
    ok(http.post("/api/v1/journeys", json=doc), 201)
    resp = http.post(f"/api/v1/journeys/{doc['key']}/start")
    assert resp.status_code == 422, resp.text
    assert missing in resp.json()["detail"]
    assert ok(http.get("/api/v1/journeys/welcome"))["status"] == "draft"


def test_start_refuses_a_template_of_another_channel(server, http) -> None:
    template(server, "hello", channel="webhook", body={"event": "x", "data": {}})
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    resp = http.post("/api/v1/journeys/welcome/start")
    assert resp.status_code == 422
    assert "steps[1].send.template: 'hello' is a webhook template, not sms" in resp.json()["detail"]


def test_enrol_by_phone_reports_unknown_and_enrols_once(server, http, ids: list[int]) -> None:
    template(server)
    ok(http.post("/api/v1/journeys", json=WELCOME), 201)
    draft = http.post("/api/v1/journeys/welcome/enrol", json={"contacts": [PHONES[0]]})
    assert draft.status_code == 409  # not started yet
    ok(http.post("/api/v1/journeys/welcome/start"))
    body = {"contacts": [PHONES[0], PHONES[1], "+8613700000009", ids[1]], "label": "list-1"}
    result = ok(http.post("/api/v1/journeys/welcome/enrol", json=body))
    assert (result["enrolled"], result["matched"]) == (2, 3)  # ids[1] is PHONES[1]'s contact
    assert [m["contact"] for m in result["not_found"]] == ["+8613700000009"]
    again = ok(http.post("/api/v1/journeys/welcome/enrol", json=body))
    assert again["enrolled"] == 0
    assert ok(http.get("/api/v1/journeys/welcome/stats"))["enrolled"] == 2
    assert http.post("/api/v1/journeys/welcome/enrol", json={"contacts": []}).status_code == 422


def test_enrol_an_id_that_names_no_contact_is_reported(server, http, ids: list[int]) -> None:
    ok(http.post("/api/v1/journeys", json={**WELCOME, "steps": WELCOME["steps"][:1]}), 201)
    ok(http.post("/api/v1/journeys/welcome/start"))
    resp = http.post("/api/v1/journeys/welcome/enrol", json={"contacts": [ids[0], 987654]})
    assert resp.status_code in (200, 404, 422), resp.text
    if resp.status_code == 200:
        assert resp.json()["enrolled"] == 1 and len(resp.json()["not_found"]) == 1


def test_enrol_a_merged_contact_id_enrols_the_survivor(server, http, ids: list[int]) -> None:
    ok(http.post("/api/v1/journeys", json={**WELCOME, "steps": WELCOME["steps"][:1]}), 201)
    ok(http.post("/api/v1/journeys/welcome/start"))
    assert server.client.identify({"email": "late@example.com"}, {}).rejected == []
    absorbed = server.client.contact("email:late@example.com")["id"]
    assert server.client.identify({"phone": PHONES[0], "email": "late@example.com"}, {}).rejected == []
    assert ok(http.post("/api/v1/journeys/welcome/enrol", json={"contacts": [absorbed]}))["enrolled"] == 1
    # the survivor is in the journey now: enrolling it again admits no one
    assert ok(http.post("/api/v1/journeys/welcome/enrol", json={"contacts": [ids[0]]}))["enrolled"] == 0


def test_stats_after_a_worker_round(server, http, ids: list[int]) -> None:
    """Two contacts through a tag, a signed webhook (to the emulator), an SMS without consent and
    a two-day wait: each step's numbers are the ones worked out here."""
    template(server)
    emu = WebhookReceiver("whsec")
    doc = {
        **WELCOME,
        "steps": [
            {"id": "tag", "add_tag": "welcomed"},
            {"id": "push", "webhook": {"event": "joined", "data": {"name": "{{ name }}"}}},
            {"id": "hi", "send": {"channel": "sms", "template": "hello"}},  # nobody consented
            {"id": "later", "wait": "2d"},
        ],
    }
    with emu.running() as base_url:
        ok(
            http.post(
                "/api/v1/providers",
                json={**WEBHOOK, "config": {"url": base_url}, "secrets": {"secret": "whsec"}},
            ),
            201,
        )
        ok(http.post("/api/v1/journeys", json=doc), 201)
        ok(http.post("/api/v1/journeys/welcome/start"))
        ok(http.post("/api/v1/journeys/welcome/enrol", json={"contacts": PHONES[:2]}))
        server.client.journeys.run_worker()
    stats = ok(http.get("/api/v1/journeys/welcome/stats"))
    assert (stats["journey"], stats["enrolled"], stats["active"], stats["converted"]) == ("welcome", 2, 2, 0)
    steps = {s["id"]: s for s in stats["steps"]}
    assert list(steps) == ["tag", "push", "hi", "later"]
    assert (steps["tag"]["entered"], steps["tag"]["waiting"]) == (2, 0)
    assert (steps["push"]["queued"], steps["push"]["sent"], steps["push"]["failed"]) == (2, 2, 0)
    assert (steps["hi"]["skipped_consent"], steps["hi"]["sent"], steps["hi"]["queued"]) == (2, 0, 0)
    assert (steps["later"]["waiting"], steps["later"]["sent"]) == (2, 0)
    assert sorted(b["contact_id"] for b in emu.bodies.values()) == sorted(ids[:2])


def test_steps_graph(server, http) -> None:
    doc = {
        **WELCOME,
        "steps": [
            {"id": "tag", "add_tag": "welcomed"},
            {"id": "wait", "wait": "1d", "next": "bye"},
            {"id": "skipped", "add_tag": "never"},
            {"id": "bye", "remove_tag": "welcomed"},
        ],
    }
    ok(http.post("/api/v1/journeys", json=doc), 201)
    assert ok(http.get("/api/v1/journeys/welcome/steps")) == [
        {"id": "tag", "action": "add_tag", "next": ["wait"]},
        {"id": "wait", "action": "wait", "next": ["bye"]},
        {"id": "skipped", "action": "add_tag", "next": ["bye"]},
        {"id": "bye", "action": "remove_tag", "next": ["exit"]},
    ]


def test_steps_graph_shows_where_a_branch_goes(server, http) -> None:
    doc = {
        **WELCOME,
        "steps": [
            {"id": "b", "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "vip"}], "else": "plain"}},
            {"id": "vip", "add_tag": "x", "next": "exit"},
            {"id": "plain", "add_tag": "y"},
        ],
    }
    ok(http.post("/api/v1/journeys", json=doc), 201)
    branch = ok(http.get("/api/v1/journeys/welcome/steps"))[0]
    assert branch == {"id": "b", "action": "branch", "next": ["vip", "plain"]}


# --- providers --------------------------------------------------------------------------------------
def test_provider_secrets_never_come_back(server, http) -> None:
    created = http.post("/api/v1/providers", json={**WEBHOOK, "default": True})
    assert created.status_code == 201, created.text
    ali = {
        "key": "ali",
        "kind": "aliyun_sms",
        "config": {"sign_name": "思域"},
        "secrets": {"access_key_id": "LTAI5t", "access_key_secret": "ali-DISTINCTIVE-2"},
    }
    created2 = http.post("/api/v1/providers", json=ali)
    listed = http.get("/api/v1/providers")
    for resp in (created, created2, listed):
        assert "DISTINCTIVE" not in resp.text and "LTAI5t" not in resp.text
    body = created.json()
    assert (body["key"], body["kind"], body["secrets"], body["default"]) == (
        "hook",
        "webhook",
        ["secret"],
        True,
    )
    assert body["config"] == WEBHOOK["config"]
    assert [(p["key"], p["secrets"]) for p in listed.json()] == [
        ("hook", ["secret"]),
        ("ali", ["access_key_id", "access_key_secret"]),
    ]
    assert body["callback_path"].startswith("/api/v1/providers/hook/callbacks/")


INVALID_PROVIDERS = [
    ({**WEBHOOK, "kind": "fax"}, "kind: unknown provider kind 'fax'"),
    ({**WEBHOOK, "config": {}}, "config.url: required for webhook"),
    ({**WEBHOOK, "secrets": {}}, "secrets.secret: required for webhook"),
    ({**WEBHOOK, "config": {**WEBHOOK["config"], "colour": "red"}}, "config.colour"),
    ({**WEBHOOK, "key": "Bad Key"}, "key: "),
]


def test_invalid_provider_is_422(server, http) -> None:
    for body, words in INVALID_PROVIDERS:
        resp = http.post("/api/v1/providers", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["detail"].startswith(words), resp.text
        assert "DISTINCTIVE" not in resp.text
    assert ok(http.get("/api/v1/providers")) == []


def test_non_numeric_rate_is_422(server, http) -> None:
    body = {**WEBHOOK, "config": {**WEBHOOK["config"], "rate_per_s": "fast"}}
    assert http.post("/api/v1/providers", json=body).status_code == 422


def test_duplicate_provider_key_is_409(server, http) -> None:
    ok(http.post("/api/v1/providers", json=WEBHOOK), 201)
    assert http.post("/api/v1/providers", json=WEBHOOK).status_code == 409


def test_delete_provider(server, http) -> None:
    ok(http.post("/api/v1/providers", json=WEBHOOK), 201)
    resp = http.delete("/api/v1/providers/hook")
    assert resp.status_code == 204 and resp.content == b""
    assert ok(http.get("/api/v1/providers")) == []
    again = http.delete("/api/v1/providers/hook")
    assert again.status_code == 404 and "hook" in again.json()["detail"]
    assert http.post("/api/v1/providers/hook/callbacks/receipts", params={"token": "x"}).status_code == 404
