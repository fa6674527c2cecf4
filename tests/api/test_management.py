"""The management API over real HTTP: channels, entry codes, sources, stats, contacts, consent,
file imports, first-channel attribution, and the OpenAPI document."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from siyu.store.models import Channel, Event, ImportJob, Touch


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def created(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def ingest(http: httpx.Client, key: str, kind: str, **call: Any) -> dict[str, Any]:
    resp = http.post(f"/v1/{kind}", json=call, headers=basic(key))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["rejected"] == [], body
    return body  # type: ignore[no-any-return]


# --- channels -----------------------------------------------------------------------------------
def test_create_and_list_channels(server, http) -> None:
    assert http.get("/api/v1/channels").json() == []
    wecom = created(
        http.post("/api/v1/channels", json={"key": "wecom-main", "name": "企微主号", "kind": "wecom"})
    )
    assert {k: wecom[k] for k in ("key", "name", "kind")} == {
        "key": "wecom-main",
        "name": "企微主号",
        "kind": "wecom",
    }
    assert isinstance(wecom["id"], int)
    datetime.fromisoformat(wecom["created_at"])
    sms = created(http.post("/api/v1/channels", json={"key": "sms", "name": "短信", "kind": "sms"}))
    listed = http.get("/api/v1/channels").json()
    assert [(c["id"], c["key"], c["kind"]) for c in listed] == [
        (wecom["id"], "wecom-main", "wecom"),
        (sms["id"], "sms", "sms"),
    ]
    with server.client.ctx.db.session() as s:
        assert s.scalar(select(Channel.name).where(Channel.key == "wecom-main")) == "企微主号"


def test_duplicate_channel_is_409(server, http) -> None:
    body = {"key": "store-sh", "name": "上海门店", "kind": "store"}
    created(http.post("/api/v1/channels", json=body))
    resp = http.post("/api/v1/channels", json={**body, "name": "another name"})
    assert resp.status_code == 409, resp.text
    assert "store-sh" in resp.json()["detail"]
    listed = http.get("/api/v1/channels").json()
    assert [(c["key"], c["name"]) for c in listed] == [("store-sh", "上海门店")]


@pytest.mark.parametrize(
    "body",
    [
        {"key": "x", "name": "X", "kind": "myspace"},
        {"key": "x", "name": "X", "kind": ""},
        {"key": "Bad Key", "name": "X", "kind": "sms"},
        {"key": "x", "name": "", "kind": "sms"},
        {"key": "x", "kind": "sms"},
        {"key": "x" * 65, "name": "X", "kind": "sms"},
    ],
    ids=["unknown-kind", "empty-kind", "bad-key", "empty-name", "no-name", "long-key"],
)
def test_invalid_channel_is_422(server, http, body) -> None:
    resp = http.post("/api/v1/channels", json=body)
    assert resp.status_code == 422, resp.text
    assert http.get("/api/v1/channels").json() == []


# --- entry codes --------------------------------------------------------------------------------
def test_entry_codes(server, http) -> None:
    ch = created(http.post("/api/v1/channels", json={"key": "wecom-main", "name": "企微", "kind": "wecom"}))
    code = created(
        http.post(
            "/api/v1/entry-codes",
            json={"channel": "wecom-main", "state": "spring-2024", "name": "春季活码", "campaign": "spring"},
        )
    )
    assert {k: code[k] for k in ("channel_id", "state", "name", "campaign")} == {
        "channel_id": ch["id"],
        "state": "spring-2024",
        "name": "春季活码",
        "campaign": "spring",
    }
    dup = http.post(
        "/api/v1/entry-codes", json={"channel": "wecom-main", "state": "spring-2024", "name": "again"}
    )
    assert dup.status_code == 409, dup.text
    unknown = http.post("/api/v1/entry-codes", json={"channel": "nope", "state": "s-1", "name": "n"})
    assert unknown.status_code in (404, 409, 422), unknown.text
    assert "nope" in unknown.json()["detail"]
    for bad_state in ("x" * 31, "has space", "中文", ""):
        resp = http.post(
            "/api/v1/entry-codes", json={"channel": "wecom-main", "state": bad_state, "name": "n"}
        )
        assert resp.status_code == 422, (bad_state, resp.text)
    ok30 = created(
        http.post("/api/v1/entry-codes", json={"channel": "wecom-main", "state": "A" * 30, "name": "n"})
    )
    listed = http.get("/api/v1/entry-codes").json()
    assert [c["id"] for c in listed] == [code["id"], ok30["id"]]
    assert [c["state"] for c in listed] == ["spring-2024", "A" * 30]


# --- sources ------------------------------------------------------------------------------------
def test_sources(server, http) -> None:
    ch = created(http.post("/api/v1/channels", json={"key": "app-main", "name": "App", "kind": "app"}))
    app = created(http.post("/api/v1/sources", json={"name": "ios-app", "channel": "app-main"}))
    web = created(http.post("/api/v1/sources", json={"name": "web"}))
    assert app["channel_id"] == ch["id"] and web["channel_id"] is None
    assert app["disabled"] is False
    assert len(app["write_key"]) >= 20 and app["write_key"] != web["write_key"]
    dup = http.post("/api/v1/sources", json={"name": "ios-app"})
    assert dup.status_code == 409, dup.text
    unknown = http.post("/api/v1/sources", json={"name": "mp", "channel": "nope"})
    assert unknown.status_code in (404, 409, 422), unknown.text
    assert http.post("/api/v1/sources", json={"name": ""}).status_code == 422
    listed = http.get("/api/v1/sources").json()
    assert [(s["name"], s["write_key"]) for s in listed] == [
        ("ios-app", app["write_key"]),
        ("web", web["write_key"]),
    ]
    # the key works for ingest, and the source's channel is the new contact's first channel
    ingest(http, app["write_key"], "track", userId="A1", event="App Opened", messageId="m-a1")
    assert http.get("/api/v1/contacts/customer_no:A1").json()["first_channel"] == "app-main"


# --- stats --------------------------------------------------------------------------------------
ZERO_STATS = {
    "contacts": 0,
    "events": 0,
    "identities": 0,
    "merges": 0,
    "channels": 0,
    "sources": 0,
    "import_jobs": 0,
    "contacts_by_first_channel": {},
    "wecom_customers": 0,
    "wecom_lost": 0,
}


def test_stats_counts_what_was_done(server, http) -> None:
    assert http.get("/api/v1/stats").json() == ZERO_STATS
    created(http.post("/api/v1/channels", json={"key": "wecom-main", "name": "企微", "kind": "wecom"}))
    created(http.post("/api/v1/channels", json={"key": "sms", "name": "短信", "kind": "sms"}))
    created(http.post("/api/v1/entry-codes", json={"channel": "wecom-main", "state": "qr1", "name": "q"}))
    key = created(http.post("/api/v1/sources", json={"name": "web"}))["write_key"]
    # contact 1 via the entry code: customer_no + phone; 2 events
    ingest(
        http,
        key,
        "identify",
        userId="U1",
        traits={"phone": "13800138000"},
        context={"state": "qr1"},
        messageId="s1",
    )
    ingest(http, key, "track", userId="U1", event="Paid", messageId="s2")
    # contact 2: a device, later aliased into contact 3 (customer_no U3)
    ingest(http, key, "page", anonymousId="dev-2", name="Home", messageId="s3")
    ingest(http, key, "identify", userId="U3", traits={"name": "x"}, messageId="s4")
    ingest(http, key, "alias", previousId="dev-2", userId="U3", messageId="s5")
    # a CSV import adds one contact with one phone identifier
    resp = http.post(
        "/api/v1/imports",
        data={"kind": "contacts"},
        files={"file": ("c.csv", "phone,name\n13700137000,李\n".encode(), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 1
    stats = http.get("/api/v1/stats").json()
    assert stats == {
        "contacts": 3,  # U1, U3 (absorbed dev-2), the imported phone
        "events": 6,  # 5 calls + 1 imported identify
        "identities": 5,  # customer_no U1, phone, app_device_id dev-2, customer_no U3, phone
        "merges": 1,
        "channels": 2,
        "sources": 1,
        "import_jobs": 1,
        "contacts_by_first_channel": {"wecom-main": 1},
        "wecom_customers": 0,
        "wecom_lost": 0,
    }


# --- contacts -----------------------------------------------------------------------------------
@pytest.fixture
def zhang(server, http, write_key) -> int:
    ingest(
        http,
        write_key,
        "identify",
        userId="C001",
        traits={"phone": "13800138000", "email": "zhang@example.com", "name": "张三"},
        messageId="z1",
        timestamp="2024-05-01T08:00:00+08:00",
    )
    resp = http.get("/api/v1/contacts/customer_no:C001")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["id"])


@pytest.mark.parametrize(
    "query",
    [
        "13800138000",
        "+86 138 0013 8000",
        "+8613800138000",
        "zhang@example.com",
        "ZHANG@example.com",
        "customer_no:C001",
        "phone:13800138000",
    ],
)
def test_contact_lookup_masks_pii(server, http, zhang, query) -> None:
    resp = http.get(f"/api/v1/contacts/{query}")
    assert resp.status_code == 200, (query, resp.text)
    data = resp.json()
    assert data["id"] == zhang
    idents = sorted((i["type"], i["value"]) for i in data["identifiers"])
    assert idents == [
        ("customer_no", "C001"),
        ("email", "z***@example.com"),
        ("phone", "138****8000"),
    ]
    assert data["traits"] == {"name": "张三"}
    assert data["event_count"] == 1
    assert "13800138000" not in resp.text and "zhang@example.com" not in resp.text


@pytest.mark.parametrize(
    "query",
    ["13900139000", "nobody@example.com", "customer_no:C999", "id:999999", "hello", "12"],
)
def test_unknown_contact_is_404(server, http, zhang, query) -> None:
    resp = http.get(f"/api/v1/contacts/{query}")
    assert resp.status_code == 404, (query, resp.text)
    assert resp.json()["detail"]


@pytest.mark.parametrize("query", ["foo@bar", "a@@b.cn", "@example.com"])
def test_unreadable_email_query_is_404_not_500(server, http, zhang, query) -> None:
    """A query that is not a valid email is a lookup failure like ``hello``, not a crash."""
    resp = http.get(f"/api/v1/contacts/{query}")
    assert resp.status_code == 404, (query, resp.status_code, resp.text)


def test_consent(server, http, zhang) -> None:
    url = "/api/v1/contacts/13800138000/consent"
    first = created(http.post(url, json={"purpose": "marketing", "channel": "sms", "granted": True}))
    assert first == {
        "contact_id": zhang,
        "state": [{"purpose": "marketing", "channel": "sms", "granted": True}],
    }
    created(
        http.post(
            url,
            json={
                "purpose": "analytics",
                "granted": True,
                "source": "form",
                "evidence": {"form": "signup-v2"},
            },
        )
    )
    last = created(http.post(url, json={"purpose": "marketing", "channel": "sms", "granted": False}))
    assert last["state"] == [
        {"purpose": "analytics", "channel": "*", "granted": True},
        {"purpose": "marketing", "channel": "sms", "granted": False},
    ]
    profile = http.get("/api/v1/contacts/customer_no:C001").json()
    assert profile["consent"] == last["state"]
    assert http.post(url, json={"purpose": "spam", "granted": True}).status_code == 422
    assert http.post(url, json={"purpose": "marketing"}).status_code == 422
    unknown = http.post(
        "/api/v1/contacts/13900139000/consent", json={"purpose": "marketing", "granted": True}
    )
    assert unknown.status_code == 404
    assert http.get("/api/v1/contacts/customer_no:C001").json()["consent"] == last["state"]


# --- imports ------------------------------------------------------------------------------------
CSV = (
    "phone,email,name,city\n"
    "13800138000,zhang@example.com,张三,上海\n"
    "13900139000,,李四,北京\n"
    "13700137000,wang@example.com,王五,深圳,extra\n"
    ",chen@example.com,陈六,广州\n"
)


def test_import_csv_upload(server, http) -> None:
    resp = http.post(
        "/api/v1/imports",
        data={"kind": "contacts"},
        files={"file": ("crm-export.csv", CSV.encode(), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["lines"], report["accepted"], report["duplicates"], report["rejected"]) == (4, 3, 0, 1)
    assert report["contacts_created"] == 3
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "(row)")]
    li = http.get("/api/v1/contacts/13900139000").json()
    assert li["traits"] == {"name": "李四", "city": "北京"}
    assert [(i["type"], i["value"]) for i in li["identifiers"]] == [("phone", "139****9000")]
    chen = http.get("/api/v1/contacts/chen@example.com").json()
    assert chen["traits"] == {"name": "陈六", "city": "广州"}
    assert http.get("/api/v1/contacts/13700137000").status_code == 404  # the rejected row
    with server.client.ctx.db.session() as s:
        job = s.scalars(select(ImportJob)).one()
        assert (job.kind, job.format, job.status, job.lines, job.accepted, job.rejected) == (
            "contacts",
            "csv",
            "done",
            4,
            3,
            1,
        )
    again = http.post(
        "/api/v1/imports",
        data={"kind": "contacts"},
        files={"file": ("crm-export.csv", CSV.encode(), "text/csv")},
    ).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 1)


def test_import_events_jsonl_upload(server, http) -> None:
    lines = [
        {
            "type": "track",
            "event": "Paid",
            "userId": "J1",
            "messageId": "j-1",
            "timestamp": "2024-05-01T00:00:00Z",
        },
        {
            "type": "track",
            "event": "Paid",
            "userId": "J2",
            "messageId": "j-2",
            "timestamp": "2024-05-01T00:00:00Z",
        },
        {"type": "track", "userId": "J2", "messageId": "j-3"},
    ]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    resp = http.post(
        "/api/v1/imports",
        data={"kind": "events"},
        files={"file": ("events.jsonl", data, "application/x-ndjson")},
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["lines"], report["accepted"], report["rejected"]) == (3, 2, 1)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "event")]
    with server.client.ctx.db.session() as s:
        assert sorted(s.scalars(select(Event.message_id))) == ["j-1", "j-2"]


def test_import_upload_errors(server, http) -> None:
    bad_kind = http.post(
        "/api/v1/imports",
        data={"kind": "orders"},
        files={"file": ("x.csv", b"phone\n13800138000\n", "text/csv")},
    )
    assert bad_kind.status_code == 422, bad_kind.text
    no_format = http.post(
        "/api/v1/imports",
        data={"kind": "contacts"},
        files={"file": ("x.txt", b"phone\n13800138000\n", "text/plain")},
    )
    assert no_format.status_code == 422, no_format.text
    explicit = http.post(
        "/api/v1/imports",
        data={"kind": "contacts", "format": "csv"},
        files={"file": ("x.txt", b"phone\n13800138000\n", "text/plain")},
    )
    assert explicit.status_code == 200, explicit.text
    assert explicit.json()["accepted"] == 1
    missing = http.post("/api/v1/imports", data={"kind": "contacts"})
    assert missing.status_code == 422


# --- first channel and touches from entry codes ---------------------------------------------------
def test_entry_code_state_gives_first_channel_and_touches(server, http, write_key) -> None:
    wecom = created(
        http.post("/api/v1/channels", json={"key": "wecom-main", "name": "企微", "kind": "wecom"})
    )
    store = created(http.post("/api/v1/channels", json={"key": "store-sh", "name": "门店", "kind": "store"}))
    spring = created(
        http.post("/api/v1/entry-codes", json={"channel": "wecom-main", "state": "spring-qr", "name": "春"})
    )
    counter = created(
        http.post("/api/v1/entry-codes", json={"channel": "store-sh", "state": "counter-7", "name": "柜台"})
    )
    # WeCom's add-contact callback carries the state of the code the customer scanned
    ingest(
        http,
        write_key,
        "identify",
        userId="W1",
        traits={"phone": "13500135000"},
        context={"state": "spring-qr"},
        messageId="w-1",
        timestamp="2024-03-01T10:00:00Z",
    )
    ingest(
        http,
        write_key,
        "track",
        userId="W1",
        event="Scanned",
        context={"state": "spring-qr"},
        messageId="w-2",
        timestamp="2024-03-05T10:00:00Z",
    )
    ingest(
        http,
        write_key,
        "track",
        userId="W1",
        event="Visited",
        context={"state": "counter-7"},
        messageId="w-3",
        timestamp="2024-03-09T10:00:00Z",
    )
    # an unknown state is no touch, and a contact without one has no first channel
    ingest(
        http,
        write_key,
        "track",
        userId="W2",
        event="Visited",
        context={"state": "ghost"},
        messageId="w-4",
        timestamp="2024-03-09T10:00:00Z",
    )

    w1 = http.get("/api/v1/contacts/13500135000").json()
    assert w1["first_channel"] == "wecom-main"
    assert [(t["channel"], t["entry_code_id"], t["first"]) for t in w1["touches"]] == [
        ("wecom-main", spring["id"], True),
        ("wecom-main", spring["id"], False),
        ("store-sh", counter["id"], False),
    ]
    assert [datetime.fromisoformat(t["at"]) for t in w1["touches"]] == [
        datetime.fromisoformat("2024-03-01T10:00:00+00:00"),
        datetime.fromisoformat("2024-03-05T10:00:00+00:00"),
        datetime.fromisoformat("2024-03-09T10:00:00+00:00"),
    ]
    w2 = http.get("/api/v1/contacts/customer_no:W2").json()
    assert w2["first_channel"] is None and w2["touches"] == []
    assert http.get("/api/v1/stats").json()["contacts_by_first_channel"] == {"wecom-main": 1}
    with server.client.ctx.db.session() as s:
        rows = s.execute(select(Touch.channel_id, Touch.is_first).order_by(Touch.id)).all()
        assert [tuple(r) for r in rows] == [(wecom["id"], True), (wecom["id"], False), (store["id"], False)]


def test_campaign_source_naming_a_channel_is_a_touch(server, http, write_key) -> None:
    created(http.post("/api/v1/channels", json={"key": "douyin-ads", "name": "抖音投放", "kind": "douyin"}))
    ingest(
        http,
        write_key,
        "page",
        anonymousId="d-1",
        name="Landing",
        context={"campaign": {"source": "douyin-ads", "medium": "cpc", "name": "618"}},
        messageId="c-1",
    )
    ingest(
        http,
        write_key,
        "page",
        anonymousId="d-2",
        name="Landing",
        context={"campaign": {"source": "baidu"}},
        messageId="c-2",
    )
    d1 = http.get("/api/v1/contacts/app_device_id:d-1").json()
    assert d1["first_channel"] == "douyin-ads"
    assert [(t["channel"], t["first"]) for t in d1["touches"]] == [("douyin-ads", True)]
    d2 = http.get("/api/v1/contacts/app_device_id:d-2").json()
    assert d2["first_channel"] is None and d2["touches"] == []
    # a channel touch is recorded once per contact and channel, not on every event
    ingest(
        http,
        write_key,
        "page",
        anonymousId="d-1",
        name="Landing",
        context={"campaign": {"source": "douyin-ads"}},
        messageId="c-3",
    )
    assert len(http.get("/api/v1/contacts/app_device_id:d-1").json()["touches"]) == 1
    with server.client.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Touch)) == 1


# --- OpenAPI --------------------------------------------------------------------------------------
EXPECTED_ROUTES = {
    ("get", "/api/v1/wecom/entry-codes"),
    ("post", "/api/v1/wecom/entry-codes"),
    ("get", "/api/v1/wecom/entry-codes/{state}"),
    ("patch", "/api/v1/wecom/entry-codes/{state}"),
    ("delete", "/api/v1/wecom/entry-codes/{state}"),
    ("post", "/api/v1/wecom/entry-codes/{state}/link-customers"),
    ("get", "/api/v1/wecom/figures"),
    ("post", "/api/v1/wecom/sync"),
    ("get", "/api/v1/wecom/sync-runs"),
    ("get", "/api/v1/staff"),
    ("get", "/api/v1/staff/{userid}"),
    ("get", "/api/v1/wecom/transfers"),
    ("post", "/api/v1/wecom/transfers"),
    ("post", "/api/v1/wecom/transfers/poll"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{username}"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{key_id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/exports/contacts"),
    ("get", "/api/v1/analytics"),
    ("post", "/api/v1/analytics/{kind}"),
    ("post", "/api/v1/spend"),
    ("get", "/api/v1/spend"),
    ("post", "/api/v1/scores/churn"),
    ("post", "/v1/batch"),
    ("post", "/v1/track"),
    ("post", "/v1/identify"),
    ("post", "/v1/page"),
    ("post", "/v1/screen"),
    ("post", "/v1/group"),
    ("post", "/v1/alias"),
    ("get", "/healthz"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/contacts/{query}"),
    ("post", "/api/v1/contacts/{query}/consent"),
    ("get", "/api/v1/channels"),
    ("post", "/api/v1/channels"),
    ("get", "/api/v1/entry-codes"),
    ("post", "/api/v1/entry-codes"),
    ("get", "/api/v1/sources"),
    ("post", "/api/v1/sources"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/imports/{job_id}/rejected"),
    ("get", "/api/v1/segments"),
    ("post", "/api/v1/segments"),
    ("post", "/api/v1/segments/preview"),
    ("get", "/api/v1/segments/{key}"),
    ("delete", "/api/v1/segments/{key}"),
    ("put", "/api/v1/segments/{key}"),
    ("get", "/api/v1/segments/{key}/versions"),
    ("get", "/api/v1/segments/{key}/export"),
    ("get", "/api/v1/lists/contacts"),
    ("post", "/api/v1/lists/contacts/tag"),
    ("post", "/api/v1/lists/contacts/enrol"),
    ("post", "/api/v1/lists/contacts/export"),
    ("get", "/api/v1/segments/{key}/members"),
    ("post", "/api/v1/segments/{key}/recompute"),
    ("get", "/api/v1/tags"),
    ("post", "/api/v1/tags"),
    ("post", "/api/v1/tag-groups"),
    ("post", "/api/v1/tags/{key}/contacts"),
    ("post", "/api/v1/tags/{key}/remove"),
    ("post", "/api/v1/tags/{key}/segment/{segment}"),
    ("get", "/api/v1/contacts/{query}/tags"),
    ("get", "/api/v1/tag-rules"),
    ("post", "/api/v1/tag-rules"),
    ("post", "/api/v1/tag-rules/run"),
    ("get", "/api/v1/stages"),
    ("post", "/api/v1/stages/assign"),
    ("get", "/api/v1/stages/flow"),
    ("get", "/api/v1/stages/rules"),
    ("put", "/api/v1/stages/rules"),
    ("get", "/api/v1/contacts/{query}/stage"),
    ("post", "/api/v1/contacts/{query}/stage"),
    ("get", "/api/v1/rfm"),
    ("post", "/api/v1/rfm/compute"),
    ("get", "/api/v1/rfm/rules"),
    ("put", "/api/v1/rfm/rules"),
    ("get", "/api/v1/event-catalogue"),
    ("post", "/api/v1/event-catalogue/learn"),
    ("get", "/api/v1/event-catalogue/{name}"),
    ("put", "/api/v1/event-catalogue/{name}"),
    ("get", "/api/v1/contacts/{query}/rfm"),
    ("get", "/api/v1/content/templates"),
    ("post", "/api/v1/content/templates"),
    ("get", "/api/v1/content/templates/{key}"),
    ("put", "/api/v1/content/templates/{key}"),
    ("delete", "/api/v1/content/templates/{key}"),
    ("post", "/api/v1/content/templates/{key}/preview"),
    ("get", "/api/v1/content/materials"),
    ("post", "/api/v1/content/materials"),
    ("get", "/api/v1/content/materials/{key}"),
    ("put", "/api/v1/content/materials/{key}"),
    ("delete", "/api/v1/content/materials/{key}"),
    ("post", "/api/v1/content/files"),
    ("get", "/api/v1/content/files/{file_id}"),
    ("get", "/api/v1/content/variables"),
    ("post", "/api/v1/content/sms-count"),
    ("post", "/api/v1/content/preview"),
    ("get", "/api/v1/journeys"),
    ("post", "/api/v1/journeys"),
    ("get", "/api/v1/journeys/{key}"),
    ("put", "/api/v1/journeys/{key}"),
    ("post", "/api/v1/journeys/{key}/start"),
    ("post", "/api/v1/journeys/{key}/pause"),
    ("post", "/api/v1/journeys/{key}/archive"),
    ("get", "/api/v1/journeys/{key}/stats"),
    ("get", "/api/v1/journeys/{key}/steps"),
    ("post", "/api/v1/journeys/{key}/enrol"),
    ("get", "/api/v1/journeys/editor/options"),
    ("get", "/api/v1/journeys/editor/preview"),
    ("post", "/api/v1/journeys/editor/validate"),
    ("post", "/api/v1/journeys/timelines"),
    ("get", "/api/v1/journeys/{key}/timeline"),
    ("get", "/api/v1/journeys/{key}/versions"),
    ("get", "/api/v1/journeys/{key}/versions/{version}"),
    ("get", "/api/v1/journeys/{key}/steps/{step}/contacts"),
    ("get", "/api/v1/journeys/{key}/steps/{step}/contacts.csv"),
    ("get", "/api/v1/providers"),
    ("post", "/api/v1/providers"),
    ("delete", "/api/v1/providers/{key}"),
    ("post", "/api/v1/providers/{key}/callbacks/{kind}"),
    ("get", "/api/v1/providers/{key}/callbacks/events"),
    ("post", "/api/v1/providers/{key}/callbacks/events"),
    ("get", "/api/v1/wecom/callbacks"),
    ("post", "/api/v1/wecom/callbacks/{callback_id}/retry"),
    ("get", "/api/v1/wecom/corp-tags"),
    ("post", "/api/v1/wecom/corp-tags/sync"),
    ("post", "/api/v1/privacy/export"),
    ("post", "/api/v1/privacy/correct"),
    ("post", "/api/v1/privacy/delete"),
    ("get", "/api/v1/privacy/deletions"),
    ("get", "/api/v1/privacy/do-not-contact"),
    ("delete", "/api/v1/privacy/do-not-contact/{entry_id}"),
    ("get", "/api/v1/retention"),
    ("get", "/api/v1/settings/timezone"),
    ("put", "/api/v1/settings/timezone"),
    ("put", "/api/v1/retention"),
    ("post", "/api/v1/retention/run"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/groups"),
    ("post", "/api/v1/groups/sync"),
    ("post", "/api/v1/groups/messages"),
    ("get", "/api/v1/groups/{chat_id}"),
    ("get", "/api/v1/group-join-ways"),
    ("post", "/api/v1/group-join-ways"),
    ("post", "/api/v1/group-join-ways/swap"),
    ("get", "/api/v1/group-join-ways/{state}"),
    ("put", "/api/v1/group-join-ways/{state}"),
    ("delete", "/api/v1/group-join-ways/{state}"),
    ("post", "/api/v1/distribution/bindings"),
    ("get", "/api/v1/distribution/commissions"),
    ("get", "/api/v1/distribution/export"),
    ("post", "/api/v1/distribution/payouts"),
    ("get", "/api/v1/distribution/promoters"),
    ("post", "/api/v1/distribution/promoters"),
    ("patch", "/api/v1/distribution/promoters/{code}"),
    ("post", "/api/v1/distribution/promoters/{code}/approve"),
    ("get", "/api/v1/distribution/promoters/{code}/dashboard"),
    ("post", "/api/v1/distribution/promoters/{code}/reject"),
    ("get", "/api/v1/distribution/settings"),
    ("patch", "/api/v1/distribution/settings"),
    ("post", "/api/v1/distribution/settle"),
    ("get", "/api/v1/distribution/verify"),
    ("get", "/api/v1/referrals/campaigns"),
    ("post", "/api/v1/referrals/campaigns"),
    ("get", "/api/v1/referrals/campaigns/{key}"),
    ("patch", "/api/v1/referrals/campaigns/{key}"),
    ("post", "/api/v1/referrals/campaigns/{key}/codes"),
    ("get", "/api/v1/referrals/campaigns/{key}/leaderboard"),
    ("get", "/api/v1/referrals/campaigns/{key}/participants"),
    ("get", "/api/v1/referrals/campaigns/{key}/referrals"),
    ("post", "/api/v1/referrals/campaigns/{key}/rescore"),
    ("get", "/api/v1/referrals/campaigns/{key}/rewards"),
    ("get", "/api/v1/referrals/campaigns/{key}/stats"),
    ("get", "/api/v1/referrals/campaigns/{key}/tree"),
    ("post", "/api/v1/referrals/campaigns/{key}/{action}"),
    ("get", "/api/v1/referrals/review"),
    ("post", "/api/v1/referrals/review/{referral_id}/approve"),
    ("post", "/api/v1/referrals/review/{referral_id}/void"),
    ("post", "/api/v1/referrals/run"),
    ("get", "/api/v1/loyalty/programme"),
    ("patch", "/api/v1/loyalty/programme"),
    ("get", "/api/v1/loyalty/tiers"),
    ("post", "/api/v1/loyalty/tiers"),
    ("patch", "/api/v1/loyalty/tiers/{key}"),
    ("get", "/api/v1/loyalty/members"),
    ("post", "/api/v1/loyalty/members"),
    ("get", "/api/v1/loyalty/members/{query}"),
    ("get", "/api/v1/loyalty/members/{query}/balance"),
    ("get", "/api/v1/loyalty/members/{query}/ledger"),
    ("post", "/api/v1/loyalty/members/{query}/award"),
    ("post", "/api/v1/loyalty/members/{query}/spend"),
    ("get", "/api/v1/loyalty/verify"),
    ("post", "/api/v1/loyalty/jobs"),
    ("get", "/api/v1/loyalty/checkins/settings"),
    ("put", "/api/v1/loyalty/checkins/settings"),
    ("post", "/api/v1/loyalty/checkins"),
    ("get", "/api/v1/loyalty/checkins/{query}"),
    ("get", "/api/v1/loyalty/tasks"),
    ("post", "/api/v1/loyalty/tasks"),
    ("patch", "/api/v1/loyalty/tasks/{key}"),
    ("post", "/api/v1/loyalty/tasks/run"),
    ("get", "/api/v1/loyalty/badges/{query}"),
    ("get", "/api/v1/loyalty/catalogue"),
    ("post", "/api/v1/loyalty/catalogue"),
    ("patch", "/api/v1/loyalty/catalogue/{key}"),
    ("post", "/api/v1/loyalty/redemptions"),
    ("get", "/api/v1/loyalty/redemptions"),
    ("post", "/api/v1/loyalty/birthdays/run"),
    ("get", "/api/v1/community/pyramid"),
    ("post", "/api/v1/community/rank"),
    ("post", "/api/v1/community/health"),
    ("get", "/api/v1/group-sops"),
    ("post", "/api/v1/group-sops"),
    ("post", "/api/v1/group-sops/run"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/problems"),
    ("get", "/api/v1/orders/report"),
    ("get", "/api/v1/orders/{source}/{order_id}"),
    ("post", "/api/v1/orders/{source}/{order_id}/refunds"),
    ("get", "/api/v1/contacts/{query}/orders"),
    ("get", "/api/v1/subscriptions/plans"),
    ("post", "/api/v1/subscriptions/plans"),
    ("patch", "/api/v1/subscriptions/plans/{key}"),
    ("get", "/api/v1/subscriptions"),
    ("post", "/api/v1/subscriptions"),
    ("post", "/api/v1/subscriptions/renew"),
    ("get", "/api/v1/subscriptions/{subscription_id}"),
    ("post", "/api/v1/subscriptions/{subscription_id}/pause"),
    ("post", "/api/v1/subscriptions/{subscription_id}/resume"),
    ("post", "/api/v1/subscriptions/{subscription_id}/cancel"),
    ("post", "/api/v1/subscriptions/{subscription_id}/failures"),
    ("get", "/api/v1/coupons/templates"),
    ("post", "/api/v1/coupons/templates"),
    ("get", "/api/v1/coupons/templates/{key}"),
    ("patch", "/api/v1/coupons/templates/{key}"),
    ("post", "/api/v1/coupons/templates/{key}/codes"),
    ("post", "/api/v1/coupons/templates/{key}/codes/import"),
    ("get", "/api/v1/coupons/templates/{key}/funnel"),
    ("post", "/api/v1/coupons/issue"),
    ("post", "/api/v1/coupons/validate"),
    ("post", "/api/v1/coupons/redeem"),
    ("get", "/api/v1/coupons/held/{query}"),
    ("get", "/api/v1/coupons/abuse"),
    ("post", "/api/v1/coupons/expire"),
    ("get", "/api/v1/referrals/campaigns/{key}/participants/{code}/poster.png"),
}


def test_openapi_lists_every_route(server, http) -> None:
    resp = http.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    listed = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert listed == EXPECTED_ROUTES
    # every documented route is served: nothing answers with the router's 404 or 405
    for method, path in sorted(EXPECTED_ROUTES):
        resp = http.request(method.upper(), path.replace("{query}", "customer_no:nobody"))
        assert resp.status_code != 405, (method, path)
        assert not (resp.status_code == 404 and resp.json() == {"detail": "Not Found"}), (method, path)
    for op in ("/api/v1/channels", "/api/v1/sources", "/api/v1/stats"):
        assert doc["paths"][op]["get"]["responses"]["200"]
    assert http.get("/docs").status_code == 200
    assert http.get("/healthz").json()["status"] == "ok"


def test_a_201_means_committed(server, http) -> None:
    """Whoever got a 201 may use what it created in the very next request (the unit of work
    must commit before the response is sent, not after)."""
    for i in range(30):
        created(http.post("/api/v1/channels", json={"key": f"ch-{i}", "name": "c", "kind": "sms"}))
        code = http.post("/api/v1/entry-codes", json={"channel": f"ch-{i}", "state": f"st-{i}", "name": "n"})
        assert code.status_code == 201, (i, code.text)
        src = http.post("/api/v1/sources", json={"name": f"src-{i}", "channel": f"ch-{i}"})
        assert src.status_code == 201, (i, src.text)
        assert len(http.get("/api/v1/channels").json()) == i + 1
        assert len(http.get("/api/v1/entry-codes").json()) == i + 1
