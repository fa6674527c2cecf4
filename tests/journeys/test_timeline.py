"""The timeline SOP: its conversion to the journey language (the same document a YAML file
holds, so the engine is unchanged), the way back, errors located on its rows, a run of the
converted journey through the engine, and the rule for contacts inside a journey edited while
it runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from siyu.journeys.schemas import JourneyDefinitionError, parse_journey
from siyu.journeys.timeline import from_journey, parse_sop, to_journey

NEW_CUSTOMER: dict[str, Any] = {
    "key": "new-sop",
    "name": "新客 SOP",
    "audience": "tag",
    "audience_value": "new",
    "rows": [
        {"day": 0, "channel": "wecom_private", "template": "welcome"},
        {"day": 1, "at": "10:00", "channel": "smart_sms", "template": "card"},
        {"day": 3, "at": "20:00", "channel": "sms", "template": "coupon", "unless_event": "Order Completed"},
    ],
    "exit_event": "Order Completed",
}

#: The journey document the timeline above stands for, written by hand.
NEW_CUSTOMER_DOC: dict[str, Any] = {
    "key": "new-sop",
    "name": "新客 SOP",
    "trigger": {"tag_added": "new"},
    "goal": {"event": "Order Completed"},
    "steps": [
        {"id": "send-1", "send": {"channel": "wecom_private", "template": "welcome"}},
        {"id": "wait-2", "wait_until": {"day": 1, "at": "10:00"}},
        {"id": "send-2", "send": {"channel": "smart_sms", "template": "card"}},
        {"id": "wait-3", "wait_until": {"day": 3, "at": "20:00"}},
        {
            "id": "check-3",
            "branch": {
                "routes": [{"if": {"event": {"name": "Order Completed"}}, "next": "exit"}],
                "else": "send-3",
            },
        },
        {"id": "send-3", "send": {"channel": "sms", "template": "coupon"}},
    ],
}


def test_a_timeline_is_the_journey_document_a_yaml_file_would_hold() -> None:
    doc = to_journey(parse_sop(NEW_CUSTOMER))
    assert doc == NEW_CUSTOMER_DOC
    parse_journey(doc)  # the journey language accepts it as it is


def test_a_journey_document_reads_back_as_its_timeline() -> None:
    sop = from_journey(NEW_CUSTOMER_DOC)
    assert sop is not None
    assert [(r["id"], r["day"], r["at"], r["template"], r["unless_event"]) for r in sop["rows"]] == [
        ("1", 0, None, "welcome", None),
        ("2", 1, "10:00", "card", None),
        ("3", 3, "20:00", "coupon", "Order Completed"),
    ]
    assert (sop["audience"], sop["audience_value"], sop["exit_event"]) == ("tag", "new", "Order Completed")
    assert to_journey(parse_sop(sop)) == NEW_CUSTOMER_DOC


def test_a_skip_condition_goes_to_the_next_rows_first_step() -> None:
    rows = [
        {"day": 0, "at": "09:00", "channel": "sms", "template": "a", "unless_event": "Paid"},
        {"day": 0, "channel": "sms", "template": "b", "unless_event": "Paid"},
        {"day": 0, "channel": "sms", "template": "c"},
    ]
    doc = to_journey(parse_sop({**NEW_CUSTOMER, "rows": rows}))
    routes = {s["id"]: s["branch"]["routes"][0]["next"] for s in doc["steps"] if "branch" in s}
    assert routes == {"check-1": "check-2", "check-2": "send-3"}
    assert doc["steps"][0] == {"id": "wait-1", "wait_until": {"day": 0, "at": "09:00"}}


def test_more_than_a_timeline_is_not_read_as_one() -> None:
    split = {**NEW_CUSTOMER_DOC, "steps": [*NEW_CUSTOMER_DOC["steps"][:1], {"id": "ab", "split": {}}]}
    event_trigger = {**NEW_CUSTOMER_DOC, "trigger": {"event": {"name": "Signed Up"}}}
    wait = {**NEW_CUSTOMER_DOC, "steps": [{"id": "w", "wait": "2h"}, *NEW_CUSTOMER_DOC["steps"]]}
    renamed = {**NEW_CUSTOMER_DOC, "steps": [{**NEW_CUSTOMER_DOC["steps"][0], "id": "hello"}]}
    for doc in (split, event_trigger, wait, renamed):
        assert from_journey(doc) is None, doc


def test_rows_added_in_an_edit_keep_the_old_rows_ids() -> None:
    sop = from_journey(NEW_CUSTOMER_DOC)
    assert sop is not None
    del sop["rows"][1]  # row 2 removed, a new row added at the end
    sop["rows"].append({"day": 5, "at": "09:00", "channel": "sms", "template": "last"})
    ids = [s["id"] for s in to_journey(parse_sop(sop), NEW_CUSTOMER_DOC)["steps"]]
    assert ids == ["send-1", "wait-3", "check-3", "send-3", "wait-4", "send-4"]
    # without the version before, the free number is taken
    ids = [s["id"] for s in to_journey(parse_sop(sop))["steps"]]
    assert ids[-2:] == ["wait-2", "send-2"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"rows": [{"day": 1, "channel": "sms", "template": "x"}]}, "rows[0]"),
        ({"rows": [{"day": 0, "at": "25:00", "channel": "sms", "template": "x"}]}, "rows[0].at"),
        ({"rows": [{"day": 0, "channel": "fax", "template": "x"}]}, "rows[0].channel"),
        ({"rows": [NEW_CUSTOMER["rows"][1], NEW_CUSTOMER["rows"][0]]}, "rows[1].day"),
        ({"audience": "stage", "audience_value": "vip"}, "audience_value"),
        ({"key": "Bad Key"}, "key"),
        ({"rows": []}, "rows"),
    ],
)
def test_timeline_errors_name_the_row_and_field(change: dict[str, Any], path: str) -> None:
    with pytest.raises(JourneyDefinitionError) as err:
        parse_sop({**NEW_CUSTOMER, **change})
    assert err.value.path == path


def test_the_converted_timeline_runs_in_the_engine(jk) -> None:
    """Day 0 at once, day 1 at 10:00, day 3 at 20:00 in Beijing time, and the day-3 coupon only
    to those who have not ordered (no goal here, so the buyer stays in the journey)."""
    for t in ("welcome", "card", "coupon"):
        jk.template(t)
    rows = [{**r, "channel": "sms"} for r in NEW_CUSTOMER["rows"]]
    doc = to_journey(parse_sop({**NEW_CUSTOMER, "key": "j", "rows": rows, "exit_event": None}))
    jk.journey(doc["steps"], trigger=doc["trigger"])
    a, b = jk.contact(), jk.contact()
    jk.tag("new", [a, b], jk.T0)
    jk.follow(jk.at(seconds=10))
    jk.run_until_idle(jk.at(seconds=10))
    assert sorted((o["contact"], o["template"]) for o in jk.outbox()) == [(a, "welcome"), (b, "welcome")]
    jk.run_until_idle(jk.at(days=1) - timedelta(minutes=1))  # T0 is 10:00 in Beijing
    assert len(jk.outbox()) == 2
    jk.run_until_idle(jk.at(days=1))
    jk.track(b, "Order Completed", jk.at(days=2))
    jk.run_until_idle(jk.at(days=3, hours=10))  # day 3, 20:00 in Beijing
    sent = sorted((o["contact"], o["template"]) for o in jk.outbox())
    assert sent == sorted([(a, "welcome"), (b, "welcome"), (a, "card"), (b, "card"), (a, "coupon")])
    assert ("check-3", "route:0") in jk.outcomes(b) and ("check-3", "route:else") in jk.outcomes(a)


def test_editing_a_running_timeline_keeps_contacts_at_their_row(jk) -> None:
    """The documented rule: contacts stay at the step id they stand at and go on with the new
    version; a wait already scheduled keeps its deadline; those at a removed row leave."""
    for t in ("welcome", "card", "coupon", "coupon2"):
        jk.template(t)
    rows = [{**r, "channel": "sms", "unless_event": None} for r in NEW_CUSTOMER["rows"]]
    sop = {**NEW_CUSTOMER, "key": "j", "rows": rows, "exit_event": None}
    doc = to_journey(parse_sop(sop))
    jk.journey(doc["steps"], trigger=doc["trigger"])
    a = jk.contact()
    jk.tag("new", [a], jk.T0)
    jk.follow(jk.at(seconds=10))
    jk.run_until_idle(jk.at(days=1))  # day 1, 10:00: the card, then a waits at wait-3
    assert jk.enrolment(a)["step"] == "wait-3"
    # the live edit: row 2 (day 1) removed, row 3 changes template and time, a row is added
    edited = from_journey(jk.client.journeys.get("j")["definition"])
    assert edited is not None
    edited["rows"] = [edited["rows"][0], {**edited["rows"][2], "at": "21:00", "template": "coupon2"}]
    edited["rows"].append({"day": 5, "at": "09:00", "channel": "sms", "template": "welcome"})
    with jk.ctx.db.session() as s:
        from siyu.journeys.service import JourneyService

        JourneyService(s).update("j", to_journey(parse_sop(edited), doc))
    assert jk.client.journeys.get("j")["status"] == "active"
    jk.run_until_idle(jk.at(days=3, hours=10))  # a's old deadline: day 3, 20:00 — kept
    coupons = [(o["contact"], o["template"]) for o in jk.outbox() if o["template"].startswith("coupon")]
    assert coupons == [(a, "coupon2")]
    assert jk.enrolment(a)["step"] == "wait-4"


def test_a_contact_at_a_removed_row_leaves_the_journey(jk) -> None:
    for t in ("welcome", "card"):
        jk.template(t)
    rows = [{**r, "channel": "sms", "unless_event": None} for r in NEW_CUSTOMER["rows"][:2]]
    doc = to_journey(parse_sop({**NEW_CUSTOMER, "key": "j", "rows": rows, "exit_event": None}))
    jk.journey(doc["steps"], trigger=doc["trigger"])
    a = jk.contact()
    jk.tag("new", [a], jk.T0)
    jk.follow(jk.at(seconds=10))
    jk.run_until_idle(jk.at(seconds=10))
    shorter = to_journey(parse_sop({**NEW_CUSTOMER, "key": "j", "rows": rows[:1], "exit_event": None}))
    assert jk.client.journeys.validate(shorter, key="j")["leaving"] == {"wait-2": 1}
    jk.update(shorter)
    jk.run_until_idle(jk.at(days=1))
    e = jk.enrolment(a)
    assert (e["status"], e["exit_reason"]) == ("exited", "step_removed")
    assert [o["template"] for o in jk.outbox()] == ["welcome"]
