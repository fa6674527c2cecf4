"""The journey definition language (src/siyu/journeys/schemas.py): every trigger kind and step
action parses, and a bad document is refused with the path of the bad field. No database."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.journeys.schemas import JourneyDefinitionError, parse_duration, parse_journey


def doc(steps: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "key": "welcome",
        "name": "Welcome",
        "trigger": {"list": True},
        "steps": steps or [{"id": "hi", "send": {"channel": "sms", "template": "hello"}}],
        **fields,
    }


def refused(raw: Any) -> JourneyDefinitionError:
    with pytest.raises(JourneyDefinitionError) as exc:
        parse_journey(raw)
    return exc.value


# --- what parses ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("trigger", "kind"),
    [
        ({"segment_entered": "vip"}, "segment_entered"),
        (
            {
                "event": {
                    "name": "order.paid",
                    "where": [{"property": "amount", "op": "gte", "value": 100}],
                    "key": "order_id",
                }
            },
            "event",
        ),
        ({"tag_added": "interest/tea"}, "tag_added"),
        ({"stage_changed": "conversion"}, "stage_changed"),
        ({"date": {"attribute": "birthday", "at": "09:30", "days_before": 3}}, "date"),
        ({"broadcast": {"segment": "vip", "at": "2026-05-04T02:00:00Z", "every": "week"}}, "broadcast"),
        ({"list": True}, "list"),
    ],
)
def test_every_trigger_kind_parses(trigger: dict[str, Any], kind: str) -> None:
    spec = parse_journey(doc(trigger=trigger))
    assert spec.trigger.kind == kind


def test_every_step_action_parses_and_the_graph_follows_the_list() -> None:
    steps = [
        {"id": "s-wait", "wait": "2h"},
        {"id": "s-until", "wait_until": {"day": 1, "at": "10:00"}},
        {
            "id": "s-for",
            "wait_for": {
                "event": "order.paid",
                "timeout": "3d",
                "on_event": "s-tag",
                "on_timeout": "s-split",
            },
        },
        {
            "id": "s-branch",
            "branch": {
                "routes": [
                    {"if": {"has_tag": "vip"}, "next": "s-send"},
                    {"if": {"all": [{"stage": "conversion"}, {"not": {"clicked": True}}]}, "next": "s-hook"},
                    {"if": {"event": {"name": "visit", "within": "7d", "min_count": 2}}, "next": "exit"},
                    {"if": {"attribute": {"property": "city", "op": "eq", "value": "sh"}}, "next": "s-stage"},
                    {"if": {"any": [{"segment": "vip"}, {"clicked": "s-send"}]}, "next": "s-attr"},
                ],
                "else": "s-split",
            },
        },
        {
            "id": "s-split",
            "split": {
                "variants": [
                    {"name": "a", "weight": 1, "next": "s-send"},
                    {"name": "b", "weight": 3, "next": "s-hook"},
                ]
            },
        },
        {"id": "s-send", "send": {"channel": "email", "template": "mail", "purpose": "service"}},
        {"id": "s-hook", "webhook": {"event": "crm.sync", "data": {"a": 1}}},
        {"id": "s-tag", "add_tag": "journey/done"},
        {"id": "s-untag", "remove_tag": "journey/todo"},
        {"id": "s-stage", "set_stage": "retention"},
        {"id": "s-attr", "set_attribute": {"welcomed": True}},
        {"id": "s-points", "award_points": {"points": 50, "reason": "welcome"}},
        {"id": "s-exit", "exit": True},
    ]
    spec = parse_journey(doc(steps))
    assert [s.action for s in spec.steps] == [
        "wait",
        "wait_until",
        "wait_for",
        "branch",
        "split",
        "send",
        "webhook",
        "add_tag",
        "remove_tag",
        "set_stage",
        "set_attribute",
        "award_points",
        "exit",
    ]
    assert spec.step("s-wait").wait == 7200
    assert spec.step("s-for").wait_for.timeout == 3 * 86400
    assert spec.following("s-wait") == "s-until"
    assert spec.following("s-exit") == "exit"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("3d", 259200.0),
        ("1w", 604800.0),
        ("1.5h", 5400.0),
    ],
)
def test_durations(value: Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


# --- what is refused, and where -------------------------------------------------------------------
def test_unknown_send_channel_names_the_step() -> None:
    err = refused(doc([{"id": "a", "send": {"channel": "telegram", "template": "t"}}]))
    assert err.path == "steps[0].send"
    assert "unknown channel 'telegram'" in err.message


def test_unknown_cap_channel_names_the_cap() -> None:
    err = refused(doc(caps=[{"channel": "any", "max": 3}, {"channel": "fax", "max": 1}]))
    assert err.path == "caps[1].channel"
    assert "unknown channel 'fax'" in err.message


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ({"id": "a", "wait": "1h", "next": "nowhere"}, "steps[0].next"),
        (
            {"id": "a", "branch": {"routes": [{"if": {"has_tag": "x"}, "next": "b"}], "else": "nowhere"}},
            "steps[0].branch.else",
        ),
        (
            {"id": "a", "branch": {"routes": [{"if": {"has_tag": "x"}, "next": "nowhere"}], "else": "b"}},
            "steps[0].branch.routes[0].next",
        ),
        (
            {
                "id": "a",
                "split": {
                    "variants": [
                        {"name": "x", "weight": 1, "next": "b"},
                        {"name": "y", "weight": 1, "next": "nowhere"},
                    ]
                },
            },
            "steps[0].split.variants[1].next",
        ),
        (
            {"id": "a", "wait_for": {"event": "e", "timeout": "1d", "on_timeout": "nowhere"}},
            "steps[0].wait_for.on_timeout",
        ),
    ],
)
def test_unknown_next_step_names_the_reference(step: dict[str, Any], path: str) -> None:
    err = refused(doc([step, {"id": "b", "exit": True}]))
    assert err.path == path
    assert "no step 'nowhere'" in err.message


def test_duplicate_step_ids_are_named() -> None:
    err = refused(doc([{"id": "a", "wait": 1}, {"id": "b", "wait": 1}, {"id": "a", "exit": True}]))
    assert err.path == "journey"
    assert "step ids must be unique: a" in err.message


def test_two_actions_in_one_step_are_refused() -> None:
    err = refused(doc([{"id": "a", "wait": "1h", "add_tag": "x"}]))
    assert err.path == "steps[0]"
    assert "exactly one action (got wait, add_tag)" in err.message


def test_a_step_without_action_is_refused() -> None:
    err = refused(doc([{"id": "a", "next": "exit"}]))
    assert err.path == "steps[0]"
    assert "got none" in err.message


@pytest.mark.parametrize("bad", ["soon", "2 days", "-1h", "400d", True, "1y"])
def test_bad_duration_names_the_field(bad: Any) -> None:
    err = refused(doc([{"id": "a", "wait": "1h"}, {"id": "b", "wait": bad}]))
    assert err.path == "steps[1].wait"


def test_bad_wait_for_timeout_names_the_field() -> None:
    err = refused(doc([{"id": "a", "wait_for": {"event": "e", "timeout": "later"}}]))
    assert err.path == "steps[0].wait_for.timeout"
    assert "not a duration" in err.message


@pytest.mark.parametrize(("start", "end"), [("22:00", "19:00"), ("08:00", "04:01"), ("00:00", "23:00")])
def test_quiet_hours_longer_than_20_hours_are_refused(start: str, end: str) -> None:
    err = refused(doc(quiet_hours={"start": start, "end": end}))
    assert err.path == "quiet_hours"
    assert "at most 20 hours" in err.message


def test_quiet_hours_of_exactly_20_hours_are_allowed() -> None:
    assert parse_journey(doc(quiet_hours={"start": "22:00", "end": "18:00"})).quiet_hours.end == "18:00"


def test_bad_clock_names_the_field() -> None:
    err = refused(doc([{"id": "a", "wait_until": {"day": 1, "at": "25:00"}}]))
    assert err.path == "steps[0].wait_until.at"


def test_template_and_content_together_are_refused() -> None:
    step = {"id": "a", "send": {"channel": "webhook", "template": "t", "content": {"event": "x"}}}
    err = refused(doc([step]))
    assert err.path == "steps[0].send"
    assert "either template or content" in err.message


def test_send_needs_template_or_content() -> None:
    err = refused(doc([{"id": "a", "send": {"channel": "sms"}}]))
    assert err.path == "steps[0].send"
    assert "either template or content" in err.message


def test_exit_is_not_a_step_id() -> None:
    err = refused(doc([{"id": "exit", "wait": "1h"}]))
    assert err.path == "steps[0].id"
    assert "reserved" in err.message


def test_condition_with_two_keys_is_refused() -> None:
    step = {
        "id": "a",
        "branch": {
            "routes": [{"if": {"has_tag": "x", "stage": "retention"}, "next": "exit"}],
            "else": "exit",
        },
    }
    err = refused(doc([step]))
    assert err.path == "steps[0].branch.routes[0].if"
    assert "exactly one of" in err.message and "has_tag, stage" in err.message


def test_trigger_with_two_kinds_is_refused() -> None:
    err = refused(doc(trigger={"tag_added": "x", "segment_entered": "y"}))
    assert err.path == "trigger"
    assert "exactly one of" in err.message


def test_split_needs_two_variants_with_positive_weights() -> None:
    one = {"id": "a", "split": {"variants": [{"name": "x", "weight": 1, "next": "exit"}]}}
    assert refused(doc([one])).path == "steps[0].split.variants"
    zero = {
        "id": "a",
        "split": {
            "variants": [
                {"name": "x", "weight": 1, "next": "exit"},
                {"name": "y", "weight": 0, "next": "exit"},
            ]
        },
    }
    assert refused(doc([zero])).path == "steps[0].split.variants[1].weight"


def test_unknown_fields_and_non_objects_are_refused() -> None:
    assert refused(doc(colour="red")).path == "colour"
    assert refused(doc([{"id": "a", "wait": "1h", "delay": 3}])).path == "steps[0].delay"
    assert refused(["not", "a", "journey"]).path == "journey"


def test_global_quiet_hours_setting_is_checked_and_used() -> None:
    from pydantic import ValidationError

    from siyu.config import Settings
    from siyu.journeys.worker import engine_config

    cfg = engine_config(
        Settings(quiet_hours="21:30-07:00", frequency_caps=[{"channel": "sms", "per": "week", "max": 2}])
    )
    assert cfg.quiet_hours is not None and (cfg.quiet_hours.start, cfg.quiet_hours.end) == ("21:30", "07:00")
    assert [(c.channel, c.per, c.max) for c in cfg.caps] == [("sms", "week", 2)]
    assert engine_config(Settings(quiet_hours="")).quiet_hours.enabled is False  # type: ignore[union-attr]
    for bad in ("22-08", "25:00-08:00", "22:00"):
        with pytest.raises(ValidationError, match="quiet_hours"):
            Settings(quiet_hours=bad)


# --- loops that would message a contact as fast as the engine runs ---------------------------------
SEND = {"channel": "sms", "template": "hello"}


@pytest.mark.parametrize(
    ("steps", "path", "loop"),
    [
        # the harness's journey: 912 messages to one contact in 70 s
        (
            [{"id": "hi", "send": SEND}, {"id": "again", "wait": 0, "next": "hi"}],
            "steps[0], steps[1]",
            "hi → again → hi",
        ),
        ([{"id": "hi", "send": SEND, "next": "hi"}], "steps[0]", "hi → hi"),
        (
            [
                {"id": "tag", "add_tag": "x"},
                {"id": "hi", "send": SEND},
                {
                    "id": "b",
                    "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "exit"}], "else": "tag"},
                },
            ],
            "steps[1], steps[2], steps[0]",
            "hi → b → tag → hi",
        ),
        (
            [
                {
                    "id": "ab",
                    "split": {
                        "variants": [
                            {"name": "a", "weight": 1, "next": "hi"},
                            {"name": "b", "weight": 1, "next": "exit"},
                        ]
                    },
                },
                {"id": "hi", "send": SEND, "next": "ab"},
            ],
            "steps[1], steps[0]",
            "hi → ab → hi",
        ),
        (  # a wait_for without a timeout waits for nothing
            [
                {"id": "hi", "send": SEND},
                {"id": "w", "wait_for": {"event": "x", "timeout": 0, "on_event": "exit", "on_timeout": "hi"}},
            ],
            "steps[0], steps[1]",
            "hi → w → hi",
        ),
        (  # day N after entry is already past on the second pass
            [{"id": "hi", "send": SEND}, {"id": "d1", "wait_until": {"day": 1, "at": "10:00"}, "next": "hi"}],
            "steps[0], steps[1]",
            "hi → d1 → hi",
        ),
        (  # a loop that waits elsewhere but also has an instant way back
            [
                {"id": "hi", "send": SEND},
                {"id": "b", "branch": {"routes": [{"if": {"has_tag": "x"}, "next": "slow"}], "else": "hi"}},
                {"id": "slow", "wait": "1d", "next": "hi"},
            ],
            "steps[0], steps[1]",
            "hi → b → hi",
        ),
    ],
)
def test_a_send_loop_without_a_wait_is_refused_naming_its_steps(
    steps: list[dict[str, Any]], path: str, loop: str
) -> None:
    err = refused(doc(steps))
    assert err.path == path
    assert loop in err.message and "wait" in err.message
    assert (err.code, err.params) == ("send_loop", {"loop": loop})


@pytest.mark.parametrize(
    "steps",
    [
        [{"id": "hi", "send": SEND}, {"id": "pause", "wait": "1h", "next": "hi"}],
        [
            {"id": "hi", "send": SEND},
            {"id": "w", "wait_for": {"event": "x", "timeout": "1d", "on_event": "hi", "on_timeout": "exit"}},
        ],
        # a loop without a send is the engine's business (it parks after 50 steps), not spam
        [
            {"id": "t", "add_tag": "x"},
            {"id": "b", "branch": {"routes": [{"if": {"has_tag": "y"}, "next": "exit"}], "else": "t"}},
        ],
        [{"id": "hi", "send": SEND}, {"id": "again", "wait": 0}, {"id": "bye", "send": SEND}],  # no loop
    ],
)
def test_loops_that_wait_and_sends_that_do_not_loop_are_accepted(steps: list[dict[str, Any]]) -> None:
    parse_journey(doc(steps))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", ".nan"])
def test_a_wait_that_is_not_a_number_is_an_error_on_wait(value: Any) -> None:
    err = refused(doc([{"id": "w", "wait": value}, {"id": "hi", "send": SEND}]))
    assert err.path == "steps[0].wait"
    assert "duration" in err.message
    err = refused(doc([{"id": "w", "wait_for": {"event": "x", "timeout": value}}]))
    assert err.path == "steps[0].wait_for.timeout"


def test_limits_are_checked() -> None:
    spec = parse_journey(doc(limits={"sends_per_enrolment": 5, "sends_per_contact": 20}))
    assert (spec.limits.sends_per_enrolment, spec.limits.sends_per_contact) == (5, 20)
    assert refused(doc(limits={"sends_per_enrolment": 0})).path == "limits.sends_per_enrolment"
    assert refused(doc(limits={"sends": 5})).path == "limits.sends"


def test_inline_content_that_runs_away_is_refused_when_the_journey_is_validated() -> None:
    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    err = refused(
        doc([{"id": "hi", "send": {"channel": "webhook", "content": {"event": "x", "note": loop}}}])
    )
    assert err.path == "steps[0].send"
    assert "content.note" in err.message and "loops ran more than" in err.message
