"""Property: in any batch that mixes valid calls with arbitrary JSON, every valid call is stored
exactly once and every other entry is either stored or rejected by its index, with a reason.

The arbitrary entries are any JSON value (hypothesis ``recursive``), including NUL characters,
lone surrogates, ``NaN``/``Infinity``, integers beyond 64 bits and nesting up to 300 levels, and
valid calls with one field replaced by such a value. Posted over HTTP to the real server, on
SQLite and PostgreSQL. Never a 500.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tests.api.test_segment_compat import basic

from siyu.store.models import Event

#: Any character, NUL and lone surrogates included (json.dumps writes them as \\u escapes).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
#: Text any store keeps: no NUL, no surrogates.
SAFE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±Infinity too: json.dumps writes them, the lenient parser reads them
    | ANY_TEXT
    | st.integers(30, 300).map(nested)
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=10,
)
SAFE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELDS = (
    "type",
    "event",
    "userId",
    "anonymousId",
    "timestamp",
    "properties",
    "context",
    "identifiers",
    "sentAt",
)

ENTRIES = st.lists(
    st.one_of(
        st.tuples(
            st.just("valid"), st.sampled_from(["track", "identify", "page"]), st.integers(0, 5), SAFE_JSON
        ),
        st.tuples(st.just("raw"), ANY_JSON),
        st.tuples(st.just("mutated"), st.sampled_from(FIELDS), ANY_JSON),
    ),
    min_size=1,
    max_size=10,
)


def valid_call(kind: str, user: int, extra: Any, message_id: str) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": kind,
        "userId": f"P{user}",
        "messageId": message_id,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=user)).isoformat(),
    }
    if kind == "track":
        call.update(event="Order Completed", properties={"extra": extra})
    elif kind == "identify":
        call["traits"] = {"extra": extra}
    else:
        call.update(name="首页", properties={"extra": extra})
    return call


def build(entries: list[tuple[Any, ...]], prefix: str) -> tuple[list[Any], set[int], dict[int, str]]:
    """The batch, the indexes of the valid calls, and the message id each dict entry carries."""
    calls: list[Any] = []
    valid: set[int] = set()
    ids: dict[int, str] = {}
    for i, entry in enumerate(entries):
        mid = f"{prefix}-{i}"
        if entry[0] == "valid":
            valid.add(i)
            calls.append(valid_call(entry[1], entry[2], entry[3], mid))
        elif entry[0] == "raw":
            value = entry[1]
            if isinstance(value, dict):
                value = {**value, "messageId": mid}
            calls.append(value)
        else:
            call = valid_call("track", 0, None, mid)
            call[entry[1]] = entry[2]
            calls.append(call)
        if isinstance(calls[-1], dict):
            ids[i] = mid
    return calls, valid, ids


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=ENTRIES)
# found by this test: a call with an empty key holding deep nesting was named by an empty field
@example(entries=[("valid", "track", 0, None), ("raw", {"": _nested(40)})])
def test_every_valid_call_stored_once_every_other_named(server: Any, entries: list[tuple[Any, ...]]) -> None:
    prefix = f"prop-{uuid.uuid4().hex[:12]}"
    key = str(server.client.create_source(prefix)["write_key"])
    calls, valid, ids = build(entries, prefix)
    body = json.dumps({"batch": calls})  # ensure_ascii: NUL and lone surrogates become \\u escapes
    resp = httpx.post(
        f"{server.url}/v1/batch",
        content=body.encode(),
        headers={**basic(key), "Content-Type": "application/json"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text[:2000]
    answer = resp.json()
    rejected = {r["index"]: r for r in answer["rejected"]}
    assert len(rejected) == len(answer["rejected"])  # each index named once
    assert set(rejected) <= set(range(len(calls)))
    assert not set(rejected) & valid, [rejected[i] for i in set(rejected) & valid]
    for r in rejected.values():
        assert isinstance(r["field"], str) and r["field"]
        assert isinstance(r["reason"], str) and r["reason"]
        assert "could not be validated" not in r["reason"], r  # the safety net is not the answer
    kept = [i for i in range(len(calls)) if i not in rejected]
    assert all(i in ids for i in kept)  # only JSON objects can be calls
    assert answer["duplicates"] == 0 and answer["accepted"] == len(kept)
    with server.client.ctx.db.session() as s:
        stored = list(s.scalars(select(Event.message_id).where(Event.message_id.like(f"{prefix}-%"))))
    # every kept entry (the valid calls among them) stored exactly once, nothing else
    assert sorted(stored) == sorted(ids[i] for i in kept)
