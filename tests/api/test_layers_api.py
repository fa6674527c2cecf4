"""The segments and tags REST endpoints over real HTTP (docs/segments.md, docs/tags.md): happy
paths with their results checked against a small data set, and the error statuses of
``api.app`` (unknown → 404, conflicts → 409, invalid input → 422, with the node path for an
invalid definition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from siyu.store.models import Event

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
USERS = ["u1", "u2", "u3", "u4", "u5"]
ORDERS = {"u1": 3, "u2": 1, "u3": 2, "u4": 0, "u5": 4}


def phone(uid: str) -> str:
    return f"+86139000000{USERS.index(uid) + 1:02d}"


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


@pytest.fixture
def ids(server) -> dict[str, int]:
    calls: list[dict[str, Any]] = [
        {"type": "identify", "userId": u, "traits": {"phone": phone(u)}, "messageId": f"id-{u}"}
        for u in USERS
    ]
    calls += [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": u,
            "properties": {"total": 10 * (k + 1)},
            "messageId": f"o-{u}-{k}",
            "timestamp": (T0 + timedelta(days=k)).isoformat(),
        }
        for u, n in ORDERS.items()
        for k in range(n)
    ]
    assert server.client.batch(calls).rejected == []
    return {u: server.client.contact(f"customer_no:{u}")["id"] for u in USERS}


def buyers_of_vip(vip: list[str]) -> list[str]:
    return [u for u in USERS if u in vip and ORDERS[u] >= 2]


VIP = ["u1", "u2", "u5"]
DEFINITION = {
    "type": "and",
    "conditions": [
        {"type": "tags", "tags": ["vip"]},
        {"type": "event", "event": "Order Completed", "count": {"op": "gte", "value": 2}},
    ],
}
BAD = {
    "type": "and",
    "conditions": [
        {"type": "tags", "tags": ["vip"]},
        {"type": "or", "conditions": [{"type": "event", "event": "X", "count": {"op": "gte", "value": -1}}]},
    ],
}

DEEP = "definition.conditions[1].conditions[0].count.value"


def tag_vips(http: httpx.Client, ids: dict[str, int]) -> None:
    ok(http.post("/api/v1/tags", json={"key": "vip"}), 201)
    body = ok(http.post("/api/v1/tags/vip/contacts", json={"contacts": [ids[u] for u in VIP]}))
    assert body["added"] == len(VIP)


# --- segments ---------------------------------------------------------------------------------------


def test_segment_endpoints(server, http, ids) -> None:
    tag_vips(http, ids)
    want = sorted(ids[u] for u in buyers_of_vip(VIP))
    assert len(want) == 2
    preview = ok(http.post("/api/v1/segments/preview", json={"definition": DEFINITION, "sample": 100}))
    assert (preview["count"], preview["sample"]) == (len(want), want)
    assert ok(http.get("/api/v1/segments")) == []

    doc = {"key": "vip-buyers", "name": "VIP 复购", "definition": DEFINITION}
    created = ok(http.post("/api/v1/segments", json=doc), 201)
    assert (created["key"], created["name"], created["kind"], created["members"]) == (
        "vip-buyers",
        "VIP 复购",
        "dynamic",
        len(want),
    )
    dup = http.post("/api/v1/segments", json={**doc, "name": "again"})
    assert dup.status_code == 409, dup.text
    assert "vip-buyers" in dup.json()["detail"]
    listed = ok(http.get("/api/v1/segments"))
    assert [(s["key"], s["name"], s["members"]) for s in listed] == [("vip-buyers", "VIP 复购", len(want))]
    got = ok(http.get("/api/v1/segments/vip-buyers"))
    assert got["definition"]["conditions"][1]["count"] == {"op": "gte", "value": 2}
    assert ok(http.get("/api/v1/segments/vip-buyers/members")) == want
    assert ok(http.get("/api/v1/segments/vip-buyers/members", params={"limit": 1, "offset": 1})) == want[1:]

    # u3 (two orders) becomes a VIP: a recompute lets it enter
    ok(http.post("/api/v1/tags/vip/contacts", json={"contacts": [phone("u3")]}))
    result = ok(http.post("/api/v1/segments/vip-buyers/recompute"))
    assert (result["members"], result["entered"], result["exited"]) == (len(want) + 1, [ids["u3"]], [])
    full = ok(http.post("/api/v1/segments/vip-buyers/recompute", params={"full": True}))
    assert (full["mode"], full["members"], full["entered"]) == ("full", len(want) + 1, [])

    assert http.delete("/api/v1/segments/vip-buyers").status_code == 204
    assert ok(http.get("/api/v1/segments")) == []


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/segments/nope"),
        ("GET", "/api/v1/segments/nope/members"),
        ("POST", "/api/v1/segments/nope/recompute"),
        ("DELETE", "/api/v1/segments/nope"),
    ],
)
def test_unknown_segment_is_404(server, http, method: str, url: str) -> None:
    resp = http.request(method, url)
    assert resp.status_code == 404, resp.text
    assert "nope" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        ("/api/v1/segments/preview", {"definition": BAD}, DEEP),
        ("/api/v1/segments", {"key": "x", "name": "x", "definition": BAD}, DEEP),
        ("/api/v1/segments", {"key": "Bad Key", "name": "x", "definition": DEFINITION}, "key"),
        ("/api/v1/segments/preview", {"definition": {"type": "tags", "tags": ["nope"]}}, "definition.tags"),
        ("/api/v1/segments/preview", {"definition": {"type": "magic"}}, "definition"),
        ("/api/v1/segments/preview", {"definition": {"type": "tags", "tags": []}}, "definition.tags"),
    ],
)
def test_invalid_definition_is_422_with_the_path(server, http, ids, url: str, body: dict, path: str) -> None:
    ok(http.post("/api/v1/tags", json={"key": "vip"}), 201)
    resp = http.post(url, json=body)
    assert resp.status_code == 422, resp.text
    data = resp.json()
    assert data["path"] == path, data
    assert data["detail"].startswith(data["path"] + ": ")
    assert ok(http.get("/api/v1/segments")) == []


# --- tags -------------------------------------------------------------------------------------------


def test_tag_endpoints(server, http, ids) -> None:
    group = ok(http.post("/api/v1/tag-groups", json={"name": "年龄段", "exclusive": True}), 201)
    assert (group["name"], group["exclusive"]) == ("年龄段", True)
    tea = ok(http.post("/api/v1/tags", json={"key": "interest/tea", "half_life_days": 30}), 201)
    assert (tea["key"], tea["half_life_days"]) == ("interest/tea", 30.0)

    applied = ok(
        http.post(
            "/api/v1/tags/interest/tea/contacts",
            json={"contacts": [ids["u1"], phone("u2"), "customer_no:u3", "+8613000000999"], "weight": 2},
        )
    )
    assert (applied["tag"], applied["added"], applied["reinforced"]) == ("interest/tea", 3, 0)
    assert [m["contact"] for m in applied["not_found"]] == ["+8613000000999"]
    again = ok(http.post("/api/v1/tags/interest/tea/contacts", json={"contacts": [ids["u1"]], "weight": 1.5}))
    assert (again["added"], again["reinforced"]) == (0, 1)
    made = ok(http.post("/api/v1/tags/兴趣/奶茶/contacts", json={"contacts": [ids["u4"]], "create": True}))
    assert made["added"] == 1
    for key in ("年龄段/18-24", "年龄段/25-34"):
        ok(http.post(f"/api/v1/tags/{key}/contacts", json={"contacts": [ids["u1"]], "create": True}))

    listed = {t["key"]: (t["group"], t["contacts"]) for t in ok(http.get("/api/v1/tags"))}
    assert listed == {
        "interest/tea": ("interest", 3),
        "兴趣/奶茶": ("兴趣", 1),
        "年龄段/18-24": ("年龄段", 0),  # the exclusive group kept the newer one
        "年龄段/25-34": ("年龄段", 1),
    }
    shown = ok(http.get(f"/api/v1/contacts/id:{ids['u1']}/tags"))
    assert shown["contact_id"] == ids["u1"]
    weights = {t["key"]: t["weight"] for t in shown["tags"]}
    assert weights == {"interest/tea": pytest.approx(3.5, abs=1e-3), "年龄段/25-34": 1.0}
    assert ("年龄段/18-24", "removed") in [(h["tag"], h["action"]) for h in shown["history"]]
    assert ok(http.get(f"/api/v1/contacts/{phone('u2')}/tags"))["contact_id"] == ids["u2"]

    removed = ok(http.post("/api/v1/tags/interest/tea/remove", json={"contacts": [phone("u2"), ids["u5"]]}))
    assert (removed["removed"], removed["unchanged"]) == (1, 1)
    assert [t["key"] for t in ok(http.get(f"/api/v1/contacts/{phone('u2')}/tags"))["tags"]] == []


def test_tag_a_segment(server, http, ids) -> None:
    tag_vips(http, ids)
    doc = {"key": "vip-buyers", "name": "VIP buyers", "definition": DEFINITION}
    ok(http.post("/api/v1/segments", json=doc), 201)
    res = ok(http.post("/api/v1/tags/loyal/repeat/segment/vip-buyers", params={"create": True}))
    assert (res["tag"], res["added"]) == ("loyal/repeat", len(buyers_of_vip(VIP)))
    holders = sorted(
        c for c in ids.values() if "loyal/repeat" in [t["key"] for t in server.client.tags.of(c)["tags"]]
    )
    assert holders == sorted(ids[u] for u in buyers_of_vip(VIP))
    assert ok(http.get(f"/api/v1/contacts/id:{holders[0]}/tags"))["tags"][0]["source"] == "segment"
    resp = http.post("/api/v1/tags/loyal/repeat/segment/nope")
    assert resp.status_code == 404 and "nope" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/tags/nope/contacts", {"contacts": [1]}),
        ("/api/v1/tags/interest/nope/contacts", {"contacts": [1]}),
        ("/api/v1/tags/nope/remove", {"contacts": [1]}),
        ("/api/v1/tags/nope/segment/buyers", None),
    ],
)
def test_unknown_tag_is_404(server, http, ids, url: str, body: dict | None) -> None:
    buyers = {"key": "buyers", "name": "Buyers", "definition": {"type": "event", "event": "Order Completed"}}
    server.client.segments.create(buyers)
    resp = http.post(url, json=body)
    assert resp.status_code == 404, resp.text
    assert "nope" in resp.json()["detail"]
    assert ok(http.get("/api/v1/tags")) == []


def test_unknown_contact_query_is_404(server, http, ids) -> None:
    resp = http.get("/api/v1/contacts/+8613000000999/tags")
    assert resp.status_code == 404 and "+8613000000999" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/tags", {"key": "a/b/c"}),
        ("/api/v1/tags", {"key": " vip"}),
        ("/api/v1/tags", {"key": "vip", "half_life_days": 0}),
        ("/api/v1/tags", {}),
        ("/api/v1/tag-groups", {"name": "a/b"}),
        ("/api/v1/tags/vip/contacts", {"contacts": []}),
        ("/api/v1/tags/vip/contacts", {"contacts": [1], "weight": 0}),
        ("/api/v1/tags/vip/contacts", {"contacts": [1], "weight": -1}),
        ("/api/v1/tags/vip/contacts", {"weight": 1}),
    ],
)
def test_bad_tag_input_is_422(server, http, ids, url: str, body: dict) -> None:
    ok(http.post("/api/v1/tags", json={"key": "vip"}), 201)
    resp = http.post(url, json=body)
    assert resp.status_code == 422, resp.text
    assert [t["contacts"] for t in ok(http.get("/api/v1/tags"))] == [0]
    assert len(ok(http.get("/api/v1/tags"))) == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/tags", {"key": "interest/tea"}),
        ("/api/v1/tag-groups", {"name": "interest"}),
        ("/api/v1/tag-rules", {"name": "r", "rule": {"kind": "event", "event": "E", "tag": "t"}}),
    ],
)
def test_duplicates_are_409_conflicts(server, http, url: str, body: dict) -> None:
    """api/layers.py: "conflicts → 409", as for a duplicate segment, channel or source."""
    ok(http.post("/api/v1/tags", json={"key": "interest/tea"}), 201)
    ok(
        http.post(
            "/api/v1/tag-rules",
            json={"name": "r", "rule": {"kind": "keyword", "keywords": ["x"], "tag": "t"}},
        ),
        201,
    )
    resp = http.post(url, json=body)
    assert resp.status_code == 409, resp.text
    assert "already exists" in resp.json()["detail"]


def test_contact_tags_by_phone_number(server, http, ids) -> None:
    """`siyu tags show 13800138000` and GET /api/v1/contacts/13800138000 read a bare number as a
    phone; the tags endpoint of the same contact must too."""
    ok(http.post("/api/v1/tags/vip/contacts", json={"contacts": [ids["u2"]], "create": True}))
    national = phone("u2").removeprefix("+86")
    assert ok(http.get(f"/api/v1/contacts/{national}"))["id"] == ids["u2"]
    shown = ok(http.get(f"/api/v1/contacts/{national}/tags"))
    assert (shown["contact_id"], [t["key"] for t in shown["tags"]]) == (ids["u2"], ["vip"])


def test_contact_tags_of_a_missing_contact_id_is_404(server, http, ids) -> None:
    resp = http.get(f"/api/v1/contacts/{max(ids.values()) + 100}/tags")
    assert resp.status_code == 404, resp.text


# --- tag rules --------------------------------------------------------------------------------------


def test_tag_rule_endpoints(server, http, ids) -> None:
    rule = {
        "kind": "event",
        "event": "Order Completed",
        "where": [{"property": "total", "op": "gte", "value": 30}],
        "tag": "big-order",
        "weight": 2,
    }
    created = ok(http.post("/api/v1/tag-rules", json={"name": "big", "rule": rule}), 201)
    assert (created["name"], created["kind"], created["enabled"]) == ("big", "event", True)
    keyword = {"kind": "keyword", "keywords": ["奶茶"], "tag": "兴趣/茶"}
    ok(http.post("/api/v1/tag-rules", json={"name": "tea", "rule": keyword}), 201)
    assert [(r["name"], r["spec"]["tag"]) for r in ok(http.get("/api/v1/tag-rules"))] == [
        ("big", "big-order"),
        ("tea", "兴趣/茶"),
    ]
    bad = http.post("/api/v1/tag-rules", json={"name": "x", "rule": {**rule, "weight": 0}})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("rule.event.weight:"), bad.text
    message = {"type": "track", "event": "Message Received", "userId": "u4", "messageId": "msg-1"}
    server.client.batch([{**message, "properties": {"text": "来杯奶茶"}, "timestamp": T0.isoformat()}])
    # the endpoint reads events received more than 5 s ago: set them back instead of waiting
    with server.client.ctx.db.session() as s:
        s.execute(update(Event).values(received_at=datetime.now(UTC) - timedelta(minutes=5)))
    ran = ok(http.post("/api/v1/tag-rules/run"))
    big = {u: n - 2 for u, n in ORDERS.items() if n >= 3}  # totals 10, 20, 30…: orders from the third
    assert ran["matched"] == sum(big.values()) + 1
    assert ran["tags"] == {"big-order": len(big), "兴趣/茶": 1}
    for u, n in big.items():
        tags = ok(http.get(f"/api/v1/contacts/id:{ids[u]}/tags"))["tags"]
        assert [(t["key"], t["weight"], t["source"]) for t in tags] == [("big-order", 2.0 * n, "rule")]
    assert ok(http.post("/api/v1/tag-rules/run"))["matched"] == 0
