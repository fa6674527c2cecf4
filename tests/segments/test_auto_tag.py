"""A segment with ``tag:`` keeps the tag in sync with its membership."""

from __future__ import annotations

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.segments.schemas import SegmentDefinitionError


def _calls(event: str, users: range) -> list[dict]:
    return [{"type": "track", "event": event, "userId": f"u{i}", "messageId": f"{event}-{i}"} for i in users]


def test_members_get_the_tag_on_entry_and_lose_it_on_exit(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.batch(_calls("Viewed", range(6)))
    client.batch(_calls("Bought", range(3)))
    created = client.segments.create(
        {
            "key": "buyers",
            "name": "Buyers",
            "tag": "auto/buyer",
            "definition": {"type": "not", "condition": {"type": "event", "event": "Refunded"}},
        }
    )
    assert created["members"] == 6 and created["tag"] == "auto/buyer"
    assert {t["key"]: t["contacts"] for t in client.tags.list()}["auto/buyer"] == 6
    client.batch(_calls("Refunded", range(2)))
    result = client.segments.recompute("buyers")[0]
    assert result["exited_count"] == 2
    assert {t["key"]: t["contacts"] for t in client.tags.list()}["auto/buyer"] == 4
    history = client.tags.of(result["exited"][0])["history"]
    assert [(h["action"], h["source"]) for h in history] == [("added", "segment"), ("removed", "segment")]


def test_a_bad_tag_key_is_rejected_before_anything_is_stored(ctx: AppContext) -> None:
    client = Siyu(ctx)
    with pytest.raises(SegmentDefinitionError, match="tag"):
        client.segments.create(
            {"key": "x", "name": "X", "tag": "a/b/c", "definition": {"type": "event", "event": "E"}}
        )
    assert client.segments.list() == []
