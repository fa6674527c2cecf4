"""One bad call never costs the batch: hostile calls among valid ones, as the testers sent them.

Each hostile call is rejected by its index with the field and a reason; every valid call of the
same batch is stored exactly once; nothing answers 500 (the official Segment SDK retries a 500
three times and then drops all the calls of the batch). The same checks hold per line of a file
import. Bodies are written as raw JSON text where Python's json could not write them (lone
surrogates, ``1e400``, 3,000 levels of nesting).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.api.test_segment_compat import basic

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.ingest import dead_letters
from siyu.store.models import Event

NOW = datetime.now(UTC)


def valid(n: int) -> str:
    return json.dumps(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"V{n}",
            "messageId": f"valid-{n}",
            "timestamp": (NOW - timedelta(hours=1)).isoformat(),
            "properties": {"n": n},
        }
    )


def track(label: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "E", "userId": "H1", "messageId": f"hostile-{label}", **fields}


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


#: label → (the call as JSON text, the field its rejection must name, a word of the reason)
HOSTILE: dict[str, tuple[str, str, str]] = {
    "overflow-utc": (
        json.dumps(track("overflow-utc", timestamp="9999-12-31T23:59:59-05:00")),
        "timestamp",
        "range",
    ),
    "epoch-1e20": (json.dumps(track("epoch-1e20", timestamp=1e20)), "timestamp", "range"),
    "epoch-negative": (json.dumps(track("epoch-negative", timestamp=-1e20)), "timestamp", "range"),
    "original-overflow": (
        json.dumps(track("original-overflow", originalTimestamp="0001-01-01T00:00:00+05:00")),
        "originalTimestamp",
        "range",
    ),
    "future": (
        json.dumps(track("future", timestamp=(NOW + timedelta(days=3)).isoformat())),
        "timestamp",
        "ahead",
    ),
    "nested-254": (
        json.dumps(track("nested-254"))[:-1] + f', "properties": {{"x": {nested(254)}}}}}',
        "properties",
        "nested deeper",
    ),
    "nested-3000": (
        json.dumps(track("nested-3000"))[:-1] + f', "properties": {{"x": {nested(3000)}}}}}',
        "properties",
        "nested deeper",
    ),
    "nested-context": (
        json.dumps(track("nested-context"))[:-1] + f', "context": {{"x": {nested(40)}}}}}',
        "context",
        "nested deeper",
    ),
    "nul-event": (json.dumps(track("nul-event", event="Order\u0000Completed")), "event", "NUL"),
    "nul-property": (
        json.dumps(track("nul-property", properties={"sku": "A\u0000"})),
        "properties.sku",
        "NUL",
    ),
    "nul-key": (json.dumps(track("nul-key", properties={"k\u0000": 1})), "properties.k\\u0000", "NUL"),
    "nul-user": (json.dumps(track("nul-user", userId="U\u0000")), "userId", "NUL"),
    "surrogate": (
        json.dumps(track("surrogate"))[:-1] + ', "properties": {"name": "\\ud800"}}',
        "properties.name",
        "surrogate",
    ),
    "number-1e400": (
        json.dumps(track("number-1e400"))[:-1] + ', "properties": {"revenue": 1e400}}',
        "properties.revenue",
        "out of range",
    ),
    "oversized": (json.dumps(track("oversized", properties={"blob": "x" * 40_000})), "(call)", "bytes"),
    "many-ids": (
        json.dumps(
            {
                "type": "identify",
                "userId": "H2",
                "messageId": "hostile-many-ids",
                "identifiers": {"app_device_id": [f"dev-{i}" for i in range(51)]},
            }
        ),
        "identifiers.app_device_id",
        "identifiers",
    ),
    "100k-ids": (
        json.dumps(
            {
                "type": "identify",
                "userId": "H3",
                "messageId": "hostile-100k-ids",
                "identifiers": {"app_device_id": [f"d{i}" for i in range(100_000)]},
            }
        ),
        "(call)",
        "bytes",
    ),
    "bad-sent-at": (
        json.dumps(track("bad-sent-at", timestamp=NOW.isoformat(), sentAt="soon")),
        "sentAt",
        "ISO",
    ),
}


def stored(ctx: AppContext) -> list[Event]:
    with ctx.db.session() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def post(server: Any, key: str, body: str, path: str = "/v1/batch") -> httpx.Response:
    headers = {**basic(key), "Content-Type": "application/json"}
    return httpx.post(f"{server.url}{path}", content=body.encode(), headers=headers, timeout=60)


@pytest.fixture
def write_key(server: Any) -> str:
    return str(server.client.create_source("hostile")["write_key"])


def test_hostile_calls_are_rejected_by_index_and_the_rest_stored(server, write_key) -> None:
    labels = list(HOSTILE)
    calls: list[str] = []
    expected: dict[int, tuple[str, str]] = {}
    for n, label in enumerate(labels):
        calls.append(valid(n))
        expected[len(calls)] = HOSTILE[label][1:]
        calls.append(HOSTILE[label][0])
    calls.append(valid(len(labels)))
    resp = post(server, write_key, '{"batch": [' + ", ".join(calls) + "]}")
    assert resp.status_code == 200, resp.text[:2000]
    answer = resp.json()
    assert answer["accepted"] == len(labels) + 1
    assert answer["success"] is False
    got = {r["index"]: r for r in answer["rejected"]}
    assert set(got) == set(expected), answer["rejected"]
    for index, (field, word) in expected.items():
        assert got[index]["field"] == field, (labels[index // 2], got[index])
        assert word.lower() in got[index]["reason"].lower(), (labels[index // 2], got[index])
    events = stored(server.client.ctx)
    assert sorted(e.message_id for e in events) == sorted(f"valid-{n}" for n in range(len(labels) + 1))
    assert all(e.properties == {"n": int(e.message_id.split("-")[1])} for e in events)


@pytest.mark.parametrize("label", ["overflow-utc", "epoch-1e20", "nested-3000", "nul-event", "surrogate"])
def test_single_call_endpoints_reject_without_500(server, write_key, label: str) -> None:
    resp = post(server, write_key, HOSTILE[label][0], "/v1/track")
    assert resp.status_code == 200, resp.text[:2000]
    assert resp.json()["accepted"] == 0
    assert [(r["index"], r["field"]) for r in resp.json()["rejected"]] == [(0, HOSTILE[label][1])]
    assert stored(server.client.ctx) == []


# --- time ---------------------------------------------------------------------------------------
def test_clock_skew_is_corrected_from_sent_at(server, write_key) -> None:
    """A phone whose clock runs 2 days behind: its events are placed by the server's clock,
    keeping the intervals the phone measured (receivedAt − (sentAt − timestamp))."""
    phone_now = NOW - timedelta(days=2)
    calls = [
        track("skew-a", timestamp=(phone_now - timedelta(minutes=10)).isoformat()),
        track(
            "skew-b", timestamp=(phone_now - timedelta(minutes=3)).isoformat(), sentAt=phone_now.isoformat()
        ),
    ]
    body = json.dumps({"batch": calls, "sentAt": phone_now.isoformat()})
    assert post(server, write_key, body).json()["accepted"] == 2
    by_id = {e.message_id: e for e in stored(server.client.ctx)}
    a, b = by_id["hostile-skew-a"], by_id["hostile-skew-b"]
    assert a.timestamp == a.received_at - timedelta(minutes=10)
    assert b.timestamp == b.received_at - timedelta(minutes=3)
    assert a.received_at >= NOW


def test_future_is_judged_after_skew_correction(server, write_key) -> None:
    """A phone 3 days ahead sends an event of a minute ago by its clock: accepted (corrected);
    an event 2 days ahead of the phone's own clock is rejected, by index."""
    phone_now = NOW + timedelta(days=3)
    calls = [
        track("ahead-ok", timestamp=(phone_now - timedelta(minutes=1)).isoformat()),
        track("ahead-bad", timestamp=(phone_now + timedelta(days=2)).isoformat()),
        track("no-sent-at-future", timestamp=phone_now.isoformat(), sentAt=None),
    ]
    body = json.dumps({"batch": calls, "sentAt": phone_now.isoformat()})
    answer = post(server, write_key, body).json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "timestamp")]
    assert "after correcting" in answer["rejected"][0]["reason"]
    (ok,) = [e for e in stored(server.client.ctx) if e.message_id == "hostile-ahead-ok"]
    assert ok.timestamp == ok.received_at - timedelta(minutes=1)


def test_without_sent_at_the_future_limit_is_24_hours(server, write_key) -> None:
    calls = [
        track("in-23h", timestamp=(NOW + timedelta(hours=23)).isoformat()),
        track("in-25h", timestamp=(NOW + timedelta(hours=25)).isoformat()),
    ]
    answer = post(server, write_key, json.dumps({"batch": calls})).json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "timestamp")]
    (e,) = stored(server.client.ctx)
    assert e.timestamp == datetime.fromisoformat(calls[0]["timestamp"])


# --- file imports: the same checks per line -------------------------------------------------------
def test_jsonl_import_rejects_hostile_lines_and_keeps_the_rest(ctx: AppContext, tmp_path: Path) -> None:
    lines: list[str] = []
    expected: dict[int, str] = {}
    skipped = {"bad-sent-at"}  # files are history: sentAt is not used to correct their times
    for n, (label, (text, field, _)) in enumerate(HOSTILE.items()):
        lines.append(valid(n))
        if label in skipped:
            continue
        lines.append(text)
        expected[len(lines)] = field
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = Siyu(ctx).import_file(path, "events")
    assert {e["line"]: e["field"] for e in report.errors} == expected
    assert report.accepted == len(HOSTILE)
    assert sorted(e.message_id for e in stored(ctx)) == sorted(f"valid-{n}" for n in range(len(HOSTILE)))
    dead = dead_letters.read(report.dead_letter, ctx.keyring)  # encrypted at rest
    assert sorted(d["line"] for d in dead) == sorted(expected)


def test_csv_import_rejects_bad_timestamps_and_nul_per_row(ctx: AppContext, tmp_path: Path) -> None:
    rows = [
        ("C1", "Paid", "2024-05-01T10:00:00+08:00", "ok"),
        ("C2", "Paid", "9999-12-31T23:59:59-05:00", "ok"),
        ("C3", "Paid", (NOW + timedelta(days=2)).isoformat(), "ok"),
        ("C4", "Paid", "2024-05-01T10:00:00+08:00", "bad\u0000note"),
        ("C5", "Paid", "2024-05-02T10:00:00+08:00", "ok"),
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["userId", "event", "timestamp", "note"])
    writer.writerows(rows)
    path = tmp_path / "orders.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = Siyu(ctx).import_file(path, "events")
    assert [(e["line"], e["field"]) for e in report.errors] == [
        (3, "timestamp"),
        (4, "timestamp"),
        (5, "properties.note"),
    ]
    assert report.accepted == 2
    events = stored(ctx)
    assert sorted(e.timestamp for e in events) == [
        datetime(2024, 5, 1, 2, tzinfo=UTC),
        datetime(2024, 5, 2, 2, tzinfo=UTC),
    ]
