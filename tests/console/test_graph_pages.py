"""The journey graph editor's server side over real HTTP: a document holding every step kind
saves through the editor's endpoint and reads back unchanged (the editor edits the same
document the YAML path uses), problems come back located on their step in the reader's
language, a running journey gets a new version, and the journey page lists the versions with
who saved each and what changed."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from siyu.content.service import ContentService

#: Every step kind and every condition kind the editor offers, with explicit jumps.
EVERY: dict[str, Any] = {
    "key": "every",
    "name": "全部步骤",
    "trigger": {"tag_added": "new"},
    "goal": {"event": "Order Completed"},
    "exit": {"on_goal": True, "on_segment_exit": False},
    "entry": {"reentry": True, "cooldown": "7d"},
    "steps": [
        {"id": "hello", "send": {"channel": "sms", "template": "hello"}},
        {"id": "pause", "wait": "2h"},
        {"id": "day1", "wait_until": {"day": 1, "at": "10:00"}},
        {"id": "order", "wait_for": {"event": "Order Completed", "timeout": "3d", "on_timeout": "nudge"}},
        {
            "id": "check",
            "branch": {
                "routes": [
                    {"if": {"has_tag": "vip"}, "next": "ab"},
                    {"if": {"segment": "buyers"}, "next": "ab"},
                    {"if": {"event": {"name": "Order Completed", "within": "7d"}}, "next": "ab"},
                    {"if": {"attribute": {"property": "city", "op": "eq", "value": "上海"}}, "next": "ab"},
                    {"if": {"stage": "conversion"}, "next": "ab"},
                    {"if": {"clicked": "hello"}, "next": "ab"},
                    {"if": {"all": [{"has_tag": "vip"}, {"not": {"has_tag": "blocked"}}]}, "next": "ab"},
                ],
                "else": "done",
            },
        },
        {
            "id": "ab",
            "split": {
                "variants": [
                    {"name": "A", "weight": 50, "next": "tag-a"},
                    {"name": "B", "weight": 50, "next": "hook"},
                ]
            },
        },
        {"id": "tag-a", "add_tag": "got-a", "next": "done"},
        {"id": "hook", "webhook": {"event": "joined", "data": {"name": "{{ name }}"}}},
        {"id": "untag", "remove_tag": "new"},
        {"id": "stage", "set_stage": "conversion"},
        {"id": "attr", "set_attribute": {"welcomed": True}},
        {"id": "points", "award_points": {"points": 50, "reason": "welcome"}, "next": "done"},
        {"id": "nudge", "send": {"channel": "sms", "template": "hello"}, "next": "done"},
        {"id": "done", "exit": True},
    ],
}


AB, ORDER = "steps[5].split.variants", "steps[3].wait_for"


@pytest.fixture
def hello(server: Any) -> None:
    with server.client.ctx.db.session() as s:
        ContentService(s).create_template(
            {
                "key": "hello",
                "name": "你好",
                "channel": "sms",
                "body": {"template_code": "SMS_1", "params": {}, "text": "你好"},
                "variants": {},
            }
        )
    definition = {"type": "attribute", "name": "city", "op": "eq", "value": "上海"}
    server.client.segments.create({"key": "buyers", "name": "买家", "definition": definition})


def save(session: Any, document: dict[str, Any], key: str | None = None, **flags: bool) -> Any:
    return session.post(
        "/console/journeys/graph",
        json={"document": document, "key": key, **flags},
        headers={"x-csrf-token": session.csrf},
    )


def zh_operator(server: Any, console_login: Any) -> Any:
    server.client.users.create("yun", "correct horse battery", "operator", language="zh", actor="test")
    return console_login(server.url, "yun")


def test_every_step_kind_round_trips_through_the_editor(server: Any, console_as: Any, hello: None) -> None:
    op = console_as("operator")
    resp = save(op, EVERY)
    assert resp.status_code == 200 and resp.json()["redirect"] == "/console/journeys/every?done=saved", (
        resp.text
    )
    assert server.client.journeys.get("every")["definition"] == EVERY
    # the editor opens it with exactly that document (graph.js also shows it in the JSON fold)
    page = op.get("/console/journeys/every/graph")
    assert page.status_code == 200
    embedded = re.search(r'<script id="g-data" type="application/json">(.*?)</script>', page.text, re.S)
    assert embedded and json.loads(embedded.group(1))["document"] == EVERY
    assert 'id="g-advanced"' in page.text


def test_saving_and_starting_makes_versions_listed_on_the_journey_page(
    server: Any, console_as: Any, hello: None
) -> None:
    op = console_as("operator")
    assert save(op, EVERY, start=True).status_code == 200
    assert server.client.journeys.get("every")["status"] == "active"
    edited = copy.deepcopy(EVERY)
    edited["steps"][1]["wait"] = "3h"
    del edited["steps"][9]  # "stage": contacts there would leave (none stand there)
    assert save(op, edited, key="every", check=True).json() == {"ok": True, "errors": [], "leaving": 0}
    assert server.client.journeys.get("every")["version"] == 1  # a check saves nothing
    second = save(op, edited, key="every")
    assert second.status_code == 200 and second.json()["version"] == 2
    history = server.client.journeys.versions("every")
    assert [(v["version"], v["actor"]) for v in history] == [(2, "user:operator-0"), (1, "user:operator-0")]
    assert history[0]["changes"]["changed"] == ["pause"] and history[0]["changes"]["removed"] == ["stage"]
    page = op.get("/console/journeys/every").text
    versions = page[page.index('id="journey-versions"') :]
    assert "operator-0" in versions and "Removed: stage" in versions and "Changed: pause" in versions
    old = op.get("/console/journeys/every/versions/1")
    assert old.status_code == 200 and "set_stage: conversion" in old.text
    assert op.get("/console/journeys/every/versions/3").status_code == 404
    # a new journey under a taken key is refused on the key
    taken = save(op, EVERY)
    assert taken.status_code == 409 and taken.json()["errors"][0]["path"] == "key"


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["steps"][1].update(wait="soon"), "steps[1].wait", "时长"),
        (
            lambda d: d["steps"][5]["split"]["variants"][0].update(weight=0),
            "steps[5].split.variants[0].weight",
            "权重",
        ),
        (lambda d: d["steps"][0]["send"].update(template="nope"), "steps[0].send.template", "“nope”不存在"),
        (lambda d: d["steps"][0]["send"].pop("template"), "steps[0].send", "请选择内容模板"),
        (
            lambda d: d["steps"][3]["wait_for"].update(on_timeout="gone"),
            "steps[3].wait_for.on_timeout",
            "“gone”不存在",
        ),
        (lambda d: d["steps"][3]["wait_for"].pop("event"), "steps[3].wait_for.event", "必填"),
        (lambda d: d["steps"][6].update(add_tag=None), "steps[6]", "必填"),
        (lambda d: d.update(trigger={"tag_added": None}), "trigger", "必填"),
        (lambda d: d["steps"][5]["split"]["variants"].pop(), "steps[5].split.variants", "至少需要两组"),
    ],
)
def test_problems_are_located_on_their_step_in_the_readers_language(
    server: Any, console_login: Any, hello: None, change: Any, path: str, words: str
) -> None:
    op = zh_operator(server, console_login)
    bad = copy.deepcopy(EVERY)
    change(bad)
    for flags in ({"check": True}, {}):
        resp = save(op, bad, **flags)
        assert resp.status_code == 422, resp.text
        errors = resp.json()["errors"]
        assert errors[0]["path"] == path and words in errors[0]["message"], errors
        assert not re.search(r"[A-Za-z]{4,}", errors[0]["message"].replace("nope", "").replace("gone", ""))
    assert server.client.journeys.list() == []


def test_a_document_that_is_not_an_object_is_refused(server: Any, console_as: Any) -> None:
    resp = save(console_as("operator"), ["not", "a", "journey"])  # type: ignore[arg-type]
    assert resp.status_code == 422 and resp.json()["errors"][0]["path"] == "journey"


def test_viewer_may_read_versions_but_not_open_the_editor(server: Any, console_as: Any, hello: None) -> None:
    server.client.journeys.create(EVERY, actor="cli")
    viewer = console_as("viewer")
    assert viewer.get("/console/journeys/every/graph").status_code == 403
    assert viewer.get("/console/journeys/graph/new").status_code == 403
    page = viewer.get("/console/journeys/every/versions/1")
    assert page.status_code == 200 and "Command line" in page.text
