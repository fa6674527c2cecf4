"""The journeys pages over real HTTP: the list with headline numbers, a journey's step graph
(SVG with every step and edge, per-step numbers from a real worker round), start / pause, the
JSON/YAML editor, and what a viewer may not do."""

from __future__ import annotations

import re
from typing import Any

import pytest

from siyu.content.service import ContentService

PHONES = ["+8613900000001", "+8613900000002", "+8613900000003"]
JOURNEY: dict[str, Any] = {
    "key": "welcome",
    "name": "新客欢迎",
    "trigger": {"list": True},
    "quiet_hours": {"enabled": False},
    "steps": [
        {"id": "tag", "add_tag": "welcomed"},
        {
            "id": "ab",
            "split": {
                "variants": [
                    {"name": "a", "weight": 1, "next": "hi"},
                    {"name": "b", "weight": 1, "next": "later"},
                ]
            },
        },
        {"id": "hi", "send": {"channel": "sms", "template": "hello"}, "next": "exit"},
        {"id": "later", "wait": "2d"},
        {"id": "check", "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "hi"}], "else": "exit"}},
    ],
}


@pytest.fixture
def journey(server: Any) -> list[int]:
    """The journey, started, with three contacts through one worker round."""
    with server.client.ctx.db.session() as s:
        ContentService(s).create_template(
            {
                "key": "hello",
                "name": "hello",
                "channel": "sms",
                "body": {"template_code": "SMS_1", "params": {"name": "{{ name }}"}, "text": "Hi {{ name }}"},
            }
        )
        s.commit()
    ids = []
    for n, phone in enumerate(PHONES, 1):
        assert server.client.identify({"phone": phone}, {"name": f"N{n}"}).rejected == []
        ids.append(server.client.contact(phone)["id"])
    server.client.journeys.create(JOURNEY)
    server.client.journeys.start("welcome")
    assert server.client.journeys.enrol("welcome", ids)["enrolled"] == 3
    server.client.journeys.run_worker(ticks=2, dispatch=False)
    return ids


def test_list_shows_status_trigger_and_numbers(server: Any, console_as: Any, journey: list[int]) -> None:
    page = console_as("viewer").get("/console/journeys")
    assert page.status_code == 200
    row = re.search(r'<tr data-journey="welcome">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    cells = row.group(1)
    assert "新客欢迎" in cells and 'data-status="active"' in cells and "<code>list</code>" in cells
    assert re.search(r'data-m="enrolled">3<', cells)
    report = server.client.journeys.stats("welcome")
    assert re.search(rf'data-m="active">{report["active"]}<', cells)
    assert 'id="journey-create"' not in page.text  # viewers do not create journeys


def test_graph_draws_every_step_with_its_numbers(server: Any, console_as: Any, journey: list[int]) -> None:
    page = console_as("viewer").get("/console/journeys/welcome")
    assert page.status_code == 200
    svg = re.search(r'<svg id="journey-graph".*?</svg>', page.text, re.S)
    assert svg
    boxes = re.findall(r'<g class="box[^"]*" data-step="([^"]+)"', svg.group(0))
    assert sorted(boxes) == sorted([s["id"] for s in JOURNEY["steps"]] + ["exit"])
    edges = set(re.findall(r'data-from="([^"]+)" data-to="([^"]+)" data-kind="([^"]+)"', svg.group(0)))
    assert {
        ("tag", "ab", "next"),
        ("ab", "hi", "variant"),
        ("ab", "later", "variant"),
        ("hi", "exit", "next"),
        ("later", "check", "next"),
        ("check", "hi", "route"),
        ("check", "exit", "else"),
    } == edges
    report = server.client.journeys.stats("welcome")
    by_id = {s["id"]: s for s in report["steps"]}
    assert by_id["tag"]["entered"] == 3
    for sid, s in by_id.items():
        assert re.search(
            rf'data-step="{sid}"[^>]*data-entered="{s["entered"]}" data-waiting="{s["waiting"]}"',
            svg.group(0),
        )
        row = re.search(rf'<tr data-step="{sid}">(.*?)</tr>', page.text, re.S)
        assert row and re.search(rf'data-m="entered">{s["entered"]}<', row.group(1))
    # the split's variants are reported
    assert 'id="journey-variants"' in page.text
    entered = sum(v["entered"] for v in report["variants"])
    assert entered == 3
    definition = re.search(r'<pre class="jr-def" id="journey-definition">(.*?)</pre>', page.text, re.S)
    assert definition and "add_tag: welcomed" in definition.group(1)  # the definition, as YAML
    assert 'id="journey-start"' not in page.text and 'id="journey-pause"' not in page.text  # viewer


def test_pause_and_start_change_the_status(server: Any, console_as: Any, journey: list[int]) -> None:
    op = console_as("operator")
    page = op.get("/console/journeys/welcome")
    assert 'id="journey-pause"' in page.text and 'id="journey-start"' not in page.text
    resp = op.post_form("/console/journeys/welcome/pause", follow_redirects=False)
    assert resp.status_code == 303
    assert server.client.journeys.get("welcome")["status"] == "paused"
    page = op.get(resp.headers["location"])
    assert 'data-status="paused"' in page.text and "The journey is paused" in page.text
    assert 'id="journey-start"' in page.text and "Resume" in page.text
    resp = op.post_form("/console/journeys/welcome/start")
    assert resp.status_code == 200 and "The journey is running." in resp.text
    assert server.client.journeys.get("welcome")["status"] == "active"


def test_start_with_a_missing_template_says_why(server: Any, console_as: Any) -> None:
    doc = {**JOURNEY, "key": "broken", "steps": [{"id": "s", "send": {"channel": "sms", "template": "nope"}}]}
    server.client.journeys.create(doc)
    op = console_as("operator")
    resp = op.post_form("/console/journeys/broken/start")
    assert resp.status_code == 422
    assert "Cannot start" in resp.text and "no template" in resp.text and "nope" in resp.text
    assert server.client.journeys.get("broken")["status"] == "draft"


def test_viewer_cannot_start_or_pause(server: Any, console_as: Any, journey: list[int]) -> None:
    viewer = console_as("viewer")
    assert viewer.post_form("/console/journeys/welcome/pause").status_code == 403
    assert viewer.post_form("/console/journeys", {"document": "key: x"}).status_code == 403
    assert server.client.journeys.get("welcome")["status"] == "active"


def test_editor_creates_a_draft_or_names_the_bad_field(server: Any, console_as: Any) -> None:
    op = console_as("operator")
    bad = "key: new-one\nname: 新的\ntrigger: {list: true}\nsteps:\n  - {id: a, wait: 2x}\n"
    resp = op.post_form("/console/journeys", {"document": bad})
    assert resp.status_code == 422
    assert "Invalid journey at steps[0].wait" in resp.text
    assert "wait: 2x" in resp.text  # the text is kept
    good = bad.replace("2x", "2h")
    resp = op.post_form("/console/journeys", {"document": good}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/console/journeys/new-one?done=created"
    assert server.client.journeys.get("new-one")["status"] == "draft"
    assert op.post_form("/console/journeys", {"document": good}).status_code == 409
    assert op.post_form("/console/journeys", {"document": "key: [unclosed"}).status_code == 422


def test_unknown_journey_is_404(server: Any, console_as: Any) -> None:
    op = console_as("operator")
    assert op.get("/console/journeys/nope").status_code == 404
    assert op.post_form("/console/journeys/nope/start").status_code == 404


def test_editor_refuses_a_send_loop_in_the_operators_language(server: Any, console_as: Any) -> None:
    op = console_as("operator")
    looping = (
        "key: spam\nname: 刷屏\ntrigger: {list: true}\nsteps:\n"
        "  - {id: hi, send: {channel: webhook, content: {event: x}}}\n"
        "  - {id: again, wait: 0, next: hi}\n"
    )
    resp = op.post_form("/console/journeys", {"document": looping})
    assert resp.status_code == 422
    assert "Invalid journey at steps[0], steps[1]: the loop hi → again → hi sends a message" in resp.text
    op.get("/console/lang/zh")
    resp = op.post_form("/console/journeys", {"document": looping})
    assert resp.status_code == 422
    assert "定义有误（位置 steps[0], steps[1]）：循环 hi → again → hi 每一轮都会发送消息" in resp.text
    assert "sends a message" not in resp.text
    assert server.client.journeys.list() == []


@pytest.mark.parametrize(
    "document",
    [
        '"/etc/passwd"',  # a bare string used to be read as a path on the server
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nkey: [*e, *e]\n",
        "[1, 2]",
    ],
)
def test_editor_refuses_documents_that_are_not_a_journey_object(
    server: Any, console_as: Any, document: str
) -> None:
    resp = console_as("operator").post_form("/console/journeys", {"document": document})
    assert resp.status_code == 422
    assert "Invalid journey at journey:" in resp.text
    assert "root:" not in resp.text
    assert server.client.journeys.list() == []
