"""Journey version history (siyu.journeys.versions): every create and update keeps its
document with who saved it, a past version reads back as it was, and each version says which
steps it added, removed or changed against the one before."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.journeys.service import JourneyNotFound, VersionNotFound
from siyu.journeys.versions import diff

DOC: dict[str, Any] = {
    "key": "v",
    "name": "版本",
    "trigger": {"tag_added": "new"},
    "steps": [
        {"id": "tag", "add_tag": "welcomed"},
        {"id": "later", "wait": "2d"},
        {"id": "bye", "remove_tag": "new"},
    ],
}


def edited(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    doc.update(changes)
    return doc


def test_create_and_each_update_are_recorded_with_their_author(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.journeys.create(DOC, actor="alice")
    second = edited(steps=[*DOC["steps"][:2], {"id": "vip", "add_tag": "vip"}])
    client.journeys.update("v", second, actor="bob")
    client.journeys.start("v")
    third = edited(name="版本 3", steps=[{"id": "tag", "add_tag": "hello"}, *second["steps"][1:]])
    client.journeys.update("v", third, actor="carol")

    history = client.journeys.versions("v")
    assert [(v["version"], v["actor"], v["current"]) for v in history] == [
        (3, "carol", True),
        (2, "bob", False),
        (1, "alice", False),
    ]
    assert history[2]["changes"]["added"] == ["tag", "later", "bye"]
    assert history[1]["changes"] == {"added": ["vip"], "removed": ["bye"], "changed": [], "settings": []}
    assert history[0]["changes"] == {"added": [], "removed": [], "changed": ["tag"], "settings": ["name"]}
    # a past version reads back exactly as it was saved, the current one as the journey holds it
    assert client.journeys.version("v", 1)["definition"] == DOC
    assert client.journeys.version("v", 2)["definition"] == second
    assert client.journeys.version("v", 3)["definition"] == client.journeys.get("v")["definition"]


def test_a_rejected_update_records_no_version(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.journeys.create(DOC, actor="alice")
    with pytest.raises(ValueError):
        client.journeys.update("v", edited(steps=[{"id": "x", "wait": "soon"}]), actor="bob")
    assert [v["version"] for v in client.journeys.versions("v")] == [1]


def test_unknown_journey_or_version_is_not_found(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.journeys.create(DOC)
    with pytest.raises(VersionNotFound, match="no saved version 9"):
        client.journeys.version("v", 9)
    with pytest.raises(JourneyNotFound):
        client.journeys.versions("nope")


@pytest.mark.parametrize(
    ("new_steps", "expected"),
    [
        ([DOC["steps"][1], DOC["steps"][0], DOC["steps"][2]], ["later", "tag"]),  # swapped: both moved
        ([*DOC["steps"][:2], {"id": "bye", "remove_tag": "old"}], ["bye"]),
        (DOC["steps"], []),
    ],
)
def test_diff_names_steps_changed_in_content_or_place(new_steps: list[Any], expected: list[str]) -> None:
    assert sorted(diff(DOC, edited(steps=new_steps))["changed"]) == sorted(expected)


def test_diff_names_changed_settings() -> None:
    changes = diff(DOC, edited(goal={"event": "Order Completed"}, trigger={"tag_added": "vip"}))
    assert changes["settings"] == ["goal", "trigger"]
    assert changes["added"] == changes["removed"] == changes["changed"] == []
