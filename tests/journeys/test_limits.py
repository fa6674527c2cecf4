"""Journeys that can never spam (src/siyu/journeys/engine.py, config.py, content/sandbox.py), as
the harness found the holes: a legal loop (with a wait) still stops at the ceiling of messages
per enrolment and per contact; the global frequency caps are on by default; a template that
runs away is skipped at send time with a reason instead of stalling the worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from tests.journeys.conftest import T0

from siyu.config import Settings
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.worker import engine_config
from siyu.store.models import ContentTemplate

NO_QUIET = {"enabled": False}
LOOP = [
    {"id": "hi", "send": {"channel": "sms", "template": "hello"}},
    {"id": "pause", "wait": "1h", "next": "hi"},  # legal: a positive wait in the loop
]


def run_hourly(jk, hours: int) -> None:
    for h in range(hours):
        jk.run(T0 + timedelta(hours=h, seconds=1))


def test_a_legal_loop_stops_at_the_journeys_ceiling_and_the_contact_exits_with_a_reason(jk) -> None:
    jk.template()
    jk.journey(LOOP, quiet_hours=NO_QUIET, limits={"sends_per_enrolment": 3})
    c, other = jk.contact(), jk.contact()
    jk.enrol([c, other])
    run_hourly(jk, 8)
    for cid in (c, other):
        assert [r["step"] for r in jk.outbox() if r["contact"] == cid] == ["hi"] * 3
        e = jk.enrolment(cid)
        assert (e["status"], e["exit_reason"]) == ("exited", "send_limit")
    limit = [r for r in jk.step_runs() if r["outcome"] == "send_limit" and r["contact"] == c]
    assert len(limit) == 1 and "limit 3" in limit[0]["detail"]
    assert jk.step_report("hi")["send_limit"] == 2


def test_without_its_own_limit_a_journey_takes_the_settings_default(jk) -> None:
    jk.template()
    jk.journey(LOOP, quiet_hours=NO_QUIET)
    c = jk.contact()
    jk.enrol([c])
    for h in range(6):
        jk.run(T0 + timedelta(hours=h, seconds=1), max_sends_per_enrolment=2)
    assert len(jk.outbox()) == 2
    assert jk.enrolment(c)["exit_reason"] == "send_limit"
    assert EngineConfig().max_sends_per_enrolment == Settings().journey_max_sends_per_enrolment == 50
    cfg = engine_config(Settings(journey_max_sends_per_enrolment=7, journey_max_sends_per_contact=9))
    assert (cfg.max_sends_per_enrolment, cfg.max_sends_per_contact) == (7, 9)


def test_the_ceiling_per_contact_counts_every_enrolment(jk) -> None:
    jk.template()
    jk.journey(
        [{"id": "hi", "send": {"channel": "sms", "template": "hello"}}],
        quiet_hours=NO_QUIET,
        entry={"reentry": True},
        limits={"sends_per_contact": 2},
    )
    c = jk.contact()
    for n in range(3):
        at = T0 + timedelta(days=n)
        assert jk.enrol([c], now=at, label=f"list-{n}") == 1
        jk.run(at + timedelta(seconds=1))
    assert len(jk.outbox()) == 2
    last = jk.enrolments()[-1]
    assert (last["status"], last["exit_reason"]) == ("exited", "send_limit")
    assert [e["status"] for e in jk.enrolments()[:2]] == ["completed", "completed"]


def test_webhooks_do_not_count_towards_the_ceiling(jk) -> None:
    jk.template()
    steps = [
        {"id": "hook", "webhook": {"event": "crm.sync"}},
        {"id": "hi", "send": {"channel": "sms", "template": "hello"}},
        {"id": "pause", "wait": "1h", "next": "hook"},
    ]
    jk.journey(steps, quiet_hours=NO_QUIET, limits={"sends_per_enrolment": 2})
    c = jk.contact()
    jk.enrol([c])
    run_hourly(jk, 5)
    assert [r["step"] for r in jk.outbox()].count("hi") == 2
    assert jk.enrolment(c)["exit_reason"] == "send_limit"


def test_global_caps_are_on_by_default(jk) -> None:
    """No SIYU_FREQUENCY_CAPS: one marketing SMS a contact a day, three messages a week."""
    caps = {(c.channel, c.per, c.max) for c in engine_config(Settings()).caps}
    assert caps == {("sms", "day", 1), ("wecom_private", "day", 1), ("any", "week", 3)}
    assert engine_config(Settings(frequency_caps=[])).caps == []  # explicitly off
    jk.template()
    jk.journey(
        [
            {"id": "first", "send": {"channel": "sms", "template": "hello"}},
            {"id": "second", "send": {"channel": "sms", "template": "hello"}},
            {"id": "receipt", "send": {"channel": "sms", "template": "hello", "transactional": True}},
        ],
        quiet_hours=NO_QUIET,
    )
    c = jk.contact()
    jk.enrol([c])
    with jk.ctx.db.session() as s:  # the engine's own default, as `siyu worker` builds it
        Engine(s, jk.ctx.keyring, EngineConfig(marketing_consent_default=True)).run_due(100, now=T0)
    assert [r["step"] for r in jk.outbox()] == ["first", "receipt"]  # transactional is exempt
    assert [o for st, o in jk.outcomes(c) if st == "second" and o != "entered"] == ["skipped_cap"]


def test_a_runaway_template_saved_before_the_limits_is_skipped_at_send_time(jk) -> None:
    jk.template()
    with jk.ctx.db.session() as s:  # written directly: the content service refuses it now
        body = {
            **jk.SMS_BODY,
            "text": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}您好",
        }
        s.execute(update(ContentTemplate).where(ContentTemplate.key == "hello").values(body=body))
    jk.journey(
        [{"id": "hi", "send": {"channel": "sms", "template": "hello"}}, {"id": "after", "add_tag": "after"}],
        quiet_hours=NO_QUIET,
    )
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    assert jk.outbox() == []
    failed = [r for r in jk.step_runs() if r["outcome"] == "failed"]
    assert len(failed) == 1 and "text: loops ran more than" in failed[0]["detail"]
    assert jk.enrolment(c)["status"] == "completed" and "after" in jk.tags_of(c)
