"""The ingest endpoints against payloads shaped exactly as the official libraries send them.

* analytics-python (segmentio): ``POST /v1/batch`` with ``{"batch": [...], "sentAt": ...}``;
  each call carries ``integrations``, ``anonymousId`` and ``userId`` (``null`` when not given),
  ``timestamp`` (ISO 8601, milliseconds), ``context.library``, ``type`` and ``messageId``; the
  write key is the HTTP basic-auth user with an empty password; ``gzip=True`` compresses the
  body with ``Content-Encoding: gzip``. Newer releases also put ``writeKey`` in the body.
* rudder-sdk-python: the same call shape plus ``"channel": "server"``; gzips by default.
* RudderStack JS / Android: ``originalTimestamp`` instead of ``timestamp``, ``sentAt``,
  ``channel``, ``userId: ""`` before identification, ``rudderId`` (Android), user traits in
  ``context.traits`` — for identify calls that is where the traits travel.

Expectations are computed here from the payloads, and checked in the ``events`` and
``identities`` tables directly.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from siyu.store.models import Event, Identity, Source

LIB = {"name": "analytics-python", "version": "2.3.4"}
RUDDER_JS_LIB = {"name": "RudderLabs JavaScript SDK", "version": "2.48.1"}


# --- payload builders ---------------------------------------------------------------------------
def mid(name: str) -> str:
    """A deterministic uuid4-looking message id, like the libraries' ``str(uuid4())``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"siyu-test/{name}"))


def segment_call(
    kind: str, label: str, ts: str = "2024-05-01T08:00:00.123+00:00", **fields: Any
) -> dict[str, Any]:
    """One call as analytics-python's ``Client._enqueue`` leaves it (after ``clean``)."""
    call: dict[str, Any] = {
        "integrations": {},
        "anonymousId": None,
        "timestamp": ts,
        "context": {"library": dict(LIB)},
        "type": kind,
        "userId": None,
        "messageId": mid(label),
    }
    if kind == "track":
        call["properties"] = {}
    if kind in ("identify", "group"):
        call["traits"] = {}
    if kind in ("page", "screen"):
        call.update(properties={}, category=None, name=None)
    call.update(fields)
    return call


def basic(key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def post_batch(
    http: httpx.Client,
    key: str | None,
    calls: list[Any],
    *,
    use_gzip: bool = False,
    extra: dict[str, Any] | None = None,
) -> httpx.Response:
    """What ``segment.analytics.request.post`` sends."""
    body = {"batch": calls, "sentAt": SENT_AT, **(extra or {})}
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "analytics-python/2.3.4"}
    if key is not None:
        headers.update(basic(key))
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
        data = gzip.compress(data)
    return http.post("/v1/batch", content=data, headers=headers)


def rudder_js_call(kind: str, label: str, anonymous_id: str, **fields: Any) -> dict[str, Any]:
    """A call as the RudderStack JS SDK (v1.1/v3) sends it to ``/v1/<type>``."""
    call: dict[str, Any] = {
        "channel": "web",
        "context": {
            "app": {
                "build": "1.0.0",
                "name": "RudderLabs JavaScript SDK",
                "namespace": "com.rudderlabs.javascript",
                "version": RUDDER_JS_LIB["version"],
            },
            "traits": {},
            "library": dict(RUDDER_JS_LIB),
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger",
            "os": {"name": "", "version": ""},
            "locale": "zh-CN",
            "screen": {"density": 3, "width": 390, "height": 844},
            "campaign": {},
            "page": {"path": "/", "url": "https://shop.example.cn/", "title": "首页"},
        },
        "type": kind,
        "messageId": mid(label),
        "originalTimestamp": "2024-05-02T10:11:12.345Z",
        "anonymousId": anonymous_id,
        "userId": "",
        "integrations": {"All": True},
        "sentAt": "2024-05-02T10:11:13.000Z",
    }
    call.update(fields)
    return call


# --- database helpers ---------------------------------------------------------------------------
def events(server: Any) -> list[Event]:
    with server.client.ctx.db.session() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def event_count(server: Any) -> int:
    with server.client.ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def owner(server: Any, kind: str, value: str) -> int | None:
    """Contact owning a non-PII identifier, read from the identities table itself."""
    with server.client.ctx.db.session() as s:
        return s.scalar(select(Identity.contact_id).where(Identity.type == kind, Identity.value == value))


def source_id(server: Any, key: str) -> int:
    with server.client.ctx.db.session() as s:
        return int(s.scalar(select(Source.id).where(Source.write_key == key)))  # type: ignore[arg-type]


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


SENT_AT = "2024-05-01T08:00:01.000+00:00"  # what post_batch sends as the batch's sentAt


def skew_corrected(e: Event, timestamp: str, sent_at: str = SENT_AT) -> datetime:
    """The time Segment would store: receivedAt − (sentAt − timestamp) (the client's clock is
    trusted for intervals, not for the absolute time)."""
    return e.received_at - (parse_ts(sent_at) - parse_ts(timestamp))


def ok(resp: httpx.Response, accepted: int, duplicates: int = 0) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body == {
        "success": True,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": [],
    }
    return body


# --- analytics-python ---------------------------------------------------------------------------
def test_analytics_python_batch_of_every_call_type(server, http, write_key) -> None:
    calls = [
        segment_call(
            "identify",
            "identify",
            userId="U1001",
            traits={"phone": "13800138000", "email": "Zhang.San@Example.com", "name": "张三"},
        ),
        segment_call(
            "track",
            "track",
            ts="2024-05-01T08:05:00.000+00:00",
            userId="U1001",
            event="Order Completed",
            properties={"order_id": "O-1", "revenue": 99.5, "currency": "CNY"},
        ),
        segment_call("page", "page", anonymousId="dev-A", name="首页"),
        segment_call("screen", "screen", userId="U1001", name="Home"),
        segment_call("group", "group", userId="U1001", groupId="g-42", traits={"name": "ACME"}),
        segment_call("alias", "alias", previousId="dev-A", userId="U1001"),
    ]
    resp = post_batch(http, write_key, calls)
    ok(resp, accepted=6)

    stored = {e.message_id: e for e in events(server)}
    assert set(stored) == {c["messageId"] for c in calls}
    survivor = owner(server, "customer_no", "U1001")
    assert survivor is not None
    # alias(previousId=dev-A, userId=U1001) stitched the anonymous page view to the customer
    assert owner(server, "app_device_id", "dev-A") == survivor
    src = source_id(server, write_key)
    for call in calls:
        e = stored[call["messageId"]]
        assert e.type == call["type"]
        assert e.contact_id == survivor, call["type"]
        assert e.source_id == src
        assert e.timestamp == skew_corrected(e, call["timestamp"])
    assert stored[mid("track")].event == "Order Completed"
    assert stored[mid("track")].properties == {"order_id": "O-1", "revenue": 99.5, "currency": "CNY"}
    assert stored[mid("page")].event == "首页"
    assert stored[mid("screen")].event == "Home"
    assert stored[mid("group")].properties["groupId"] == "g-42"

    profile = http.get("/api/v1/contacts/customer_no:U1001")
    assert profile.status_code == 200, profile.text
    idents = {(i["type"], i["value"]) for i in profile.json()["identifiers"]}
    assert idents == {
        ("customer_no", "U1001"),
        ("phone", "138****8000"),
        ("email", "z***@example.com"),
        ("app_device_id", "dev-A"),
    }
    assert profile.json()["event_count"] == 6
    assert profile.json()["traits"]["name"] == "张三"
    assert "13800138000" not in profile.text
    assert "zhang.san@example.com" not in profile.text.lower()


def test_user_id_is_customer_no_and_anonymous_id_is_app_device_id(server, http, write_key) -> None:
    calls = [
        segment_call("track", "u-only", userId="C-77", event="Signed Up"),
        segment_call("track", "a-only", anonymousId="9f1c-device", event="App Opened"),
        segment_call("track", "numeric", userId=12345, event="Numeric Id"),
    ]
    ok(post_batch(http, write_key, calls), accepted=3)
    by_id = {e.message_id: e for e in events(server)}
    c77 = owner(server, "customer_no", "C-77")
    dev = owner(server, "app_device_id", "9f1c-device")
    num = owner(server, "customer_no", "12345")
    assert None not in (c77, dev, num)
    assert len({c77, dev, num}) == 3  # nothing connects them
    assert by_id[mid("u-only")].contact_id == c77
    assert by_id[mid("a-only")].contact_id == dev
    assert by_id[mid("numeric")].contact_id == num
    with server.client.ctx.db.session() as s:
        kinds = {(t, v) for t, v in s.execute(select(Identity.type, Identity.value))}
    assert kinds == {
        ("customer_no", "C-77"),
        ("app_device_id", "9f1c-device"),
        ("customer_no", "12345"),
    }


def test_gzip_body_as_analytics_python_sends_it(server, http, write_key) -> None:
    calls = [
        segment_call("track", f"gz-{i}", userId=f"U{i % 3}", event="Viewed", properties={"i": i})
        for i in range(50)
    ]
    ok(post_batch(http, write_key, calls, use_gzip=True), accepted=50)
    stored = events(server)
    assert sorted(e.message_id for e in stored) == sorted(c["messageId"] for c in calls)
    owners = {f"U{i}": owner(server, "customer_no", f"U{i}") for i in range(3)}
    for e in stored:
        i = e.properties["i"]
        assert e.contact_id == owners[f"U{i % 3}"]


def test_write_key_in_body_as_newer_analytics_python_sends_it(server, http, write_key) -> None:
    # segment.analytics.request.post sets body["writeKey"] as well as the basic-auth header
    calls = [segment_call("track", "wk-body", userId="U1", event="E")]
    resp = http.post(
        "/v1/batch", json={"batch": calls, "sentAt": "2024-05-01T00:00:00+00:00", "writeKey": write_key}
    )
    ok(resp, accepted=1)


# --- single-call endpoints ----------------------------------------------------------------------
SINGLE_CASES = {
    "track": {"userId": "S1", "event": "Added to Cart", "properties": {"sku": "A1"}},
    "identify": {"userId": "S1", "traits": {"name": "王五"}},
    "page": {"userId": "S1", "name": "Product", "properties": {"path": "/p/1"}},
    "screen": {"userId": "S1", "name": "Cart"},
    "group": {"userId": "S1", "groupId": "store-9", "traits": {"city": "上海"}},
    "alias": {"userId": "S1", "previousId": "anon-S1"},
}
EXPECTED_EVENT_NAME = {
    "track": "Added to Cart",
    "identify": None,
    "page": "Product",
    "screen": "Cart",
    "group": None,
    "alias": "alias",
}


@pytest.mark.parametrize("kind", list(SINGLE_CASES))
def test_single_call_endpoints(server, http, write_key, kind: str) -> None:
    call = segment_call(kind, f"single-{kind}", **SINGLE_CASES[kind])
    resp = http.post(f"/v1/{kind}", json=call, headers=basic(write_key))
    ok(resp, accepted=1)
    (e,) = events(server)
    assert e.type == kind
    assert e.message_id == call["messageId"]
    assert e.event == EXPECTED_EVENT_NAME[kind]
    assert e.contact_id == owner(server, "customer_no", "S1")
    if kind == "alias":
        assert owner(server, "app_device_id", "anon-S1") == e.contact_id
    # the same call again is a duplicate, not a second event
    ok(http.post(f"/v1/{kind}", json=call, headers=basic(write_key)), accepted=0, duplicates=1)
    assert event_count(server) == 1


def test_single_endpoint_type_comes_from_the_path(server, http, write_key) -> None:
    call = {"userId": "P1", "event": "Clicked", "messageId": mid("no-type")}
    ok(http.post("/v1/track", json=call, headers=basic(write_key)), accepted=1)
    (e,) = events(server)
    assert (e.type, e.event) == ("track", "Clicked")


def test_identify_traits_phone_and_email_become_masked_identifiers(server, http, write_key) -> None:
    call = segment_call(
        "identify",
        "ident-pii",
        userId="U-88",
        traits={"phone": "+86 139 0013 9000", "email": "Li.Si@Example.COM", "name": "李四"},
    )
    ok(http.post("/v1/identify", json=call, headers=basic(write_key)), accepted=1)
    cid = owner(server, "customer_no", "U-88")
    for query in ("13900139000", "li.si@example.com", "customer_no:U-88", f"id:{cid}"):
        resp = http.get(f"/api/v1/contacts/{query}")
        assert resp.status_code == 200, (query, resp.text)
        data = resp.json()
        assert data["id"] == cid
        values = {i["type"]: i["value"] for i in data["identifiers"]}
        assert values == {
            "customer_no": "U-88",
            "phone": "139****9000",
            "email": "l***@example.com",
        }
        assert data["traits"] == {"name": "李四"}
        assert "13900139000" not in resp.text
        assert "li.si@" not in resp.text.lower()
    # and the PII never reached the events table in clear
    (e,) = events(server)
    dumped = json.dumps([e.properties, e.context], ensure_ascii=False).lower()
    assert "13900139000" not in dumped and "li.si@example.com" not in dumped


# --- authentication -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("not-a-real-key"),
        basic(""),
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic !!!not-base64"},
    ],
    ids=["none", "wrong-key", "empty-user", "bearer", "garbage"],
)
def test_missing_or_wrong_write_key_is_401(server, http, write_key, headers) -> None:
    calls = [segment_call("track", "auth", userId="U1", event="E")]
    body = json.dumps({"batch": calls, "sentAt": "2024-05-01T00:00:00+00:00"})
    resp = http.post("/v1/batch", content=body, headers={**headers, "Content-Type": "application/json"})
    assert resp.status_code == 401, resp.text
    for kind in ("track", "identify"):
        single = http.post(f"/v1/{kind}", json=calls[0], headers=headers)
        assert single.status_code == 401, single.text
    assert event_count(server) == 0


def test_key_given_as_password_is_not_a_write_key(server, http, write_key) -> None:
    calls = [segment_call("track", "pw", userId="U1", event="E")]
    resp = http.post("/v1/batch", json={"batch": calls}, headers=basic("", password=write_key))
    assert resp.status_code == 401
    assert event_count(server) == 0


def test_disabled_source_is_401(server, http, write_key) -> None:
    with server.client.ctx.db.session() as s:
        s.execute(update(Source).where(Source.write_key == write_key).values(disabled=True))
    resp = post_batch(http, write_key, [segment_call("track", "dis", userId="U1", event="E")])
    assert resp.status_code == 401
    assert event_count(server) == 0


# --- malformed requests -------------------------------------------------------------------------
def _raw(http: httpx.Client, key: str, data: bytes, **headers: str) -> httpx.Response:
    return http.post(
        "/v1/batch", content=data, headers={"Content-Type": "application/json", **basic(key), **headers}
    )


@pytest.mark.parametrize(
    "data",
    [b"this is not json", b'{"batch": [', b"", b"\xff\xfe{}", b"[1, 2]", b'"batch"'],
    ids=["text", "truncated", "empty", "bad-utf8", "array", "string"],
)
def test_non_json_body_is_400(server, http, write_key, data: bytes) -> None:
    resp = _raw(http, write_key, data)
    assert resp.status_code == 400, resp.text
    assert event_count(server) == 0


@pytest.mark.parametrize("batch", [None, {"type": "track"}, "calls"], ids=["missing", "object", "str"])
def test_batch_field_must_be_a_list(server, http, write_key, batch) -> None:
    body = {} if batch is None else {"batch": batch}
    resp = _raw(http, write_key, json.dumps(body).encode())
    assert resp.status_code == 400, resp.text


def test_more_than_1000_calls_is_400_and_stores_nothing(server, http, write_key) -> None:
    calls = [segment_call("track", f"big-{i}", userId="U1", event="E") for i in range(1001)]
    resp = post_batch(http, write_key, calls)
    assert resp.status_code == 400, resp.text
    assert "1001" in resp.json()["detail"]
    assert event_count(server) == 0
    # exactly the limit is fine
    ok(post_batch(http, write_key, calls[:1000], use_gzip=True), accepted=1000)
    assert event_count(server) == 1000


def test_invalid_gzip_is_400(server, http, write_key) -> None:
    body = json.dumps({"batch": [segment_call("track", "gzbad", userId="U1", event="E")]})
    resp = _raw(http, write_key, body.encode(), **{"Content-Encoding": "gzip"})
    assert resp.status_code == 400, resp.text
    assert event_count(server) == 0


def test_truncated_gzip_is_400_not_500(server, http, write_key) -> None:
    """A body cut short in transit: SDKs retry 5xx forever, so this must be a 4xx."""
    body = json.dumps({"batch": [segment_call("track", "gztrunc", userId="U1", event="E")]})
    packed = gzip.compress(body.encode())
    resp = _raw(http, write_key, packed[: len(packed) // 2], **{"Content-Encoding": "gzip"})
    assert resp.status_code == 400, resp.text
    assert event_count(server) == 0


# --- idempotency and partial acceptance ---------------------------------------------------------
def test_resending_the_same_batch_stores_nothing_new(server, http, write_key) -> None:
    calls = [
        segment_call("track", f"retry-{i}", userId=f"R{i}", event="Paid", properties={"i": i})
        for i in range(20)
    ]
    ok(post_batch(http, write_key, calls), accepted=20)
    before = [(e.id, e.message_id, e.contact_id) for e in events(server)]
    # an SDK retrying after a timeout sends the identical batch, possibly gzipped this time
    ok(post_batch(http, write_key, calls), accepted=0, duplicates=20)
    ok(post_batch(http, write_key, calls, use_gzip=True), accepted=0, duplicates=20)
    assert [(e.id, e.message_id, e.contact_id) for e in events(server)] == before
    # a batch mixing old and new calls stores only the new ones
    fresh = [segment_call("track", "retry-new", userId="R0", event="Paid")]
    ok(post_batch(http, write_key, calls[:5] + fresh), accepted=1, duplicates=5)
    assert event_count(server) == 21


def test_same_message_id_twice_in_one_batch(server, http, write_key) -> None:
    call = segment_call("track", "twice", userId="U1", event="E")
    ok(post_batch(http, write_key, [call, dict(call)]), accepted=1, duplicates=1)
    assert event_count(server) == 1


def test_partially_bad_batch_keeps_the_good_calls(server, http, write_key) -> None:
    good = [
        segment_call("track", "good-0", userId="G1", event="Viewed"),
        segment_call("identify", "good-1", userId="G1", traits={"name": "赵六"}),
        segment_call("page", "good-2", anonymousId="dev-G", name="Home"),
    ]
    bad: list[tuple[Any, str]] = [
        ({**segment_call("track", "bad-event", userId="G1")}, "event"),
        (segment_call("purchase", "bad-type", userId="G1"), "type"),
        (segment_call("track", "bad-ts", ts="yesterday", userId="G1", event="E"), "timestamp"),
        (segment_call("track", "bad-noid", event="Orphan"), "identifiers"),
        (segment_call("track", "bad-props", userId="G1", event="E", properties="x"), "properties"),
        (segment_call("identify", "bad-phone", userId="G2", traits={"phone": "12"}), "traits.phone"),
        (segment_call("group", "bad-group", userId="G1"), "groupId"),
        ("not an object", "(record)"),
    ]
    # interleave: good calls at 0, 4, 8; bad ones everywhere else
    calls: list[Any] = []
    expected_rejected = []
    bad_iter = iter(bad)
    good_iter = iter(good)
    for index in range(len(good) + len(bad)):
        if index % 4 == 0:
            calls.append(next(good_iter))
        else:
            call, field = next(bad_iter)
            calls.append(call)
            expected_rejected.append((index, field))
    resp = post_batch(http, write_key, calls)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["accepted"] == 3
    assert body["duplicates"] == 0
    assert [(r["index"], r["field"]) for r in body["rejected"]] == expected_rejected
    for r in body["rejected"]:
        assert isinstance(r["reason"], str) and r["reason"].strip()
    assert sorted(e.message_id for e in events(server)) == sorted(c["messageId"] for c in good)
    assert owner(server, "customer_no", "G2") is None  # the rejected identify created nobody
    # re-sending it: the good ones are now duplicates, the bad ones rejected again
    again = post_batch(http, write_key, calls).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert [(r["index"], r["field"]) for r in again["rejected"]] == expected_rejected


def test_calls_inherit_batch_level_context(server, http, write_key) -> None:
    own = segment_call("track", "own-ctx", userId="U1", event="E")
    bare = {
        k: v for k, v in segment_call("track", "no-ctx", userId="U1", event="E").items() if k != "context"
    }
    batch_ctx = {"ip": "203.0.113.9", "library": {"name": "http-api", "version": "1"}}
    ok(post_batch(http, write_key, [own, bare], extra={"context": batch_ctx}), accepted=2)
    stored = {e.message_id: e for e in events(server)}
    assert stored[own["messageId"]].context == {"library": LIB}
    assert stored[bare["messageId"]].context == batch_ctx


# --- RudderStack --------------------------------------------------------------------------------
def test_rudder_sdk_python_gzipped_batch(server, http, write_key) -> None:
    """rudder-sdk-python: analytics-python's call shape plus channel=server, gzip on by default."""
    calls = []
    for i in range(10):
        call = segment_call(
            "track",
            f"rudder-py-{i}",
            userId=f"RP{i % 2}",
            event="Order Completed",
            properties={"revenue": i},
        )
        call["channel"] = "server"
        call["timestamp"] = f"2024-05-03T09:00:0{i}.000000+00:00"
        calls.append(call)
    sent_at = "2024-05-03T09:00:10.000000+00:00"
    ok(post_batch(http, write_key, calls, use_gzip=True, extra={"sentAt": sent_at}), accepted=10)
    stored = {e.message_id: e for e in events(server)}
    for call in calls:
        e = stored[call["messageId"]]
        assert e.contact_id == owner(server, "customer_no", call["userId"])
        assert e.timestamp == skew_corrected(e, call["timestamp"], sent_at)


def test_rudder_js_track_uses_original_timestamp_and_masks_context_traits(server, http, write_key) -> None:
    call = rudder_js_call(
        "track",
        "rjs-track",
        "b5c2-anon",
        event="Product Viewed",
        properties={"sku": "SKU-1", "price": 59.0},
    )
    call["context"]["traits"] = {"phone": "13700137000", "email": "wang@example.com"}
    ok(http.post("/v1/track", json=call, headers=basic(write_key)), accepted=1)
    (e,) = events(server)
    assert e.timestamp == skew_corrected(e, call["originalTimestamp"], call["sentAt"])
    # userId "" (not identified yet) is no identifier; anonymousId is the device
    assert e.contact_id == owner(server, "app_device_id", "b5c2-anon")
    assert owner(server, "customer_no", "") is None
    assert e.properties == {"sku": "SKU-1", "price": 59.0}
    assert e.context["locale"] == "zh-CN"
    stored_ctx = json.dumps(e.context)
    assert "13700137000" not in stored_ctx
    assert "wang@example.com" not in stored_ctx


def test_rudder_js_identify_traits_in_context_become_identifiers(server, http, write_key) -> None:
    """RudderStack's JS SDK sends identify traits in ``context.traits`` (its documented sample
    payload has no top-level ``traits``); they must identify the contact like Segment's do."""
    call = rudder_js_call("identify", "rjs-identify", "c7d8-anon", userId="U-RJS")
    call["context"]["traits"] = {"phone": "13600136000", "email": "chen@example.com", "name": "陈"}
    ok(http.post("/v1/identify", json=call, headers=basic(write_key)), accepted=1)
    cid = owner(server, "customer_no", "U-RJS")
    assert cid is not None and owner(server, "app_device_id", "c7d8-anon") == cid
    resp = http.get("/api/v1/contacts/13600136000")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == cid
    values = {i["type"]: i["value"] for i in resp.json()["identifiers"]}
    assert values["phone"] == "136****6000"
    assert values["email"] == "c***@example.com"


def test_rudder_android_batch_with_rudder_id(server, http, write_key) -> None:
    """The Android SDK batches to /v1/batch with rudderId, channel=mobile, originalTimestamp."""
    device = "f0e1d2c3-anon-android"

    def android(kind: str, label: str, **fields: Any) -> dict[str, Any]:
        return {
            "messageId": mid(label),
            "channel": "mobile",
            "context": {
                "app": {"build": "42", "name": "Shop", "namespace": "cn.example.shop", "version": "3.1.0"},
                "device": {"id": "a1b2", "manufacturer": "Xiaomi", "model": "23013RK75C", "name": "mondrian"},
                "library": {"name": "com.rudderstack.android.sdk.core", "version": "1.20.1"},
                "locale": "zh-CN",
                "network": {"carrier": "中国移动", "wifi": True},
                "os": {"name": "Android", "version": "14"},
                "traits": {"anonymousId": device},
                "timezone": "Asia/Shanghai",
            },
            "originalTimestamp": "2024-05-04T01:02:03.456Z",
            "type": kind,
            "anonymousId": device,
            "rudderId": "c9a8b7d6-rudder-id",
            "integrations": {"All": True},
            **fields,
        }

    calls = [
        android("screen", "and-screen", name="MainActivity", properties={"automatic": True}),
        android("track", "and-track", event="Application Opened", properties={"version": "3.1.0"}),
    ]
    resp = http.post(
        "/v1/batch",
        json={"sentAt": "2024-05-04T01:02:05.000Z", "batch": calls},
        headers=basic(write_key),
    )
    ok(resp, accepted=2)
    dev = owner(server, "app_device_id", device)
    stored = events(server)
    assert [(e.type, e.event, e.contact_id) for e in stored] == [
        ("screen", "MainActivity", dev),
        ("track", "Application Opened", dev),
    ]
    sent_at = "2024-05-04T01:02:05.000Z"
    assert all(e.timestamp == skew_corrected(e, "2024-05-04T01:02:03.456Z", sent_at) for e in stored)


def test_analytics_js_page_with_utm_campaign(server, http, write_key) -> None:
    """analytics.js fills ``context.campaign`` from the landing page's utm_* parameters."""
    call = segment_call(
        "page",
        "utm-page",
        anonymousId="ajs-anon-1",
        name="Landing",
        properties={"path": "/s", "url": "https://shop.example.cn/s?utm_source=baidu"},
    )
    call["context"] = {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "campaign": {"name": "618", "source": "baidu", "medium": "cpc", "term": "连衣裙"},
        "page": {"path": "/s", "url": "https://shop.example.cn/s?utm_source=baidu"},
    }
    ok(http.post("/v1/page", json=call, headers=basic(write_key)), accepted=1)
    (e,) = events(server)
    assert e.contact_id == owner(server, "app_device_id", "ajs-anon-1")
    assert e.context["campaign"]["source"] == "baidu"
