"""The send step (src/siyu/journeys/sends.py, facts.py): consent, address, quiet hours and
frequency caps are checked when the step runs, in the contact's own calendar; what passes is
rendered and written to the outbox in the step's transaction under the key
``journey:contact:enrolment:step``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from siyu.journeys.engine import Engine
from siyu.journeys.schemas import Cap, QuietHours
from siyu.store.models import JourneyEnrolment, OutboxMessage

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # = jk.T0: Monday 10:00 in Shanghai
NIGHT = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
MORNING = datetime(2026, 5, 5, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, the end of the quiet hours
NO_QUIET = {"enabled": False}


def sms(step_id: str = "hi", template: str = "hello", **send: Any) -> dict[str, Any]:
    return {"id": step_id, "send": {"channel": "sms", "template": template, **send}}


def outcome_of(jk, cid: int, step: str = "hi") -> list[str]:
    return [o for st, o in jk.outcomes(cid) if st == step and o != "entered"]


# --- consent and address --------------------------------------------------------------------------
def test_marketing_send_needs_consent_unless_the_default_grants_it(jk) -> None:
    jk.template()
    jk.journey([sms(), {"id": "after", "add_tag": "after"}])
    granted, unknown, withdrawn = jk.contact(), jk.contact(), jk.contact()
    jk.consent(granted, True)
    jk.consent(withdrawn, True)
    jk.consent(withdrawn, False)
    jk.consent(unknown, True, channel="email")  # consent on another channel does not count
    jk.enrol([granted, unknown, withdrawn])
    jk.run(T0, marketing_consent_default=False)
    assert {r["contact"] for r in jk.outbox()} == {granted}
    for c in (unknown, withdrawn):
        assert outcome_of(jk, c) == ["skipped_consent"]
        assert jk.tags_of(c) == {"after": "journey"}  # moved on to the next step
    detail = next(r["detail"] for r in jk.step_runs() if r["outcome"] == "skipped_consent")
    assert detail == "marketing/sms"


def test_consent_default_true_sends_to_contacts_without_a_record(jk) -> None:
    jk.template()
    jk.journey([sms()])
    unknown, withdrawn = jk.contact(), jk.contact()
    jk.consent(withdrawn, False, channel="*")
    jk.enrol([unknown, withdrawn])
    jk.run(T0, marketing_consent_default=True)
    assert {r["contact"] for r in jk.outbox()} == {unknown}
    assert outcome_of(jk, withdrawn) == ["skipped_consent"]


def test_contact_without_a_phone_is_skipped_for_sms(jk) -> None:
    jk.template()
    jk.journey([sms(), {"id": "after", "add_tag": "after"}])
    phoneless = jk.contact(phone=False, email="x@example.com")
    jk.enrol([phoneless])
    jk.run(T0)
    assert jk.outbox() == []
    assert outcome_of(jk, phoneless) == ["skipped_no_address"]
    assert jk.tags_of(phoneless) == {"after": "journey"}


# --- quiet hours ----------------------------------------------------------------------------------
def test_quiet_hours_hold_until_the_window_ends_then_send(jk) -> None:
    jk.template()
    jk.journey([sms()])
    c = jk.contact()
    jk.enrol([c], now=NIGHT)
    jk.run(NIGHT)
    assert jk.outbox() == []
    e = jk.enrolment(c)
    assert (e["status"], e["step"], e["due_at"]) == ("active", "hi", MORNING)
    assert jk.run(MORNING - timedelta(seconds=1)).claimed == 0
    jk.run(MORNING)
    [row] = jk.outbox()
    assert (row["local_day"], row["created_at"]) == ("2026-05-05", MORNING)
    assert jk.outcomes(c) == [("hi", "entered"), ("hi", "held_quiet"), ("hi", "queued")]
    held = next(r for r in jk.step_runs() if r["outcome"] == "held_quiet")
    assert held["detail"] == MORNING.isoformat()


def test_a_hold_claimed_again_inside_the_window_is_recorded_once(jk) -> None:
    jk.template()
    doc = {"key": "j", "name": "j", "trigger": {"list": True}, "steps": [sms()]}
    jk.journey(doc["steps"])
    c = jk.contact()
    jk.enrol([c], now=NIGHT)
    jk.run(NIGHT)
    # The operator lengthens the night to 09:00 while the message is held until 08:00.
    jk.pause()
    jk.update({**doc, "quiet_hours": {"start": "22:00", "end": "09:00"}})
    jk.resume()
    jk.run(MORNING)
    assert jk.outbox() == []
    assert jk.enrolment(c)["due_at"] == MORNING + timedelta(hours=1)
    jk.run(MORNING + timedelta(hours=1))
    assert len(jk.outbox()) == 1
    assert jk.outcomes(c) == [("hi", "entered"), ("hi", "held_quiet"), ("hi", "queued")]


def test_quiet_hours_in_drop_mode_skip_the_message(jk) -> None:
    jk.template()
    jk.journey([sms(), {"id": "after", "add_tag": "after"}], quiet_hours={"mode": "drop"})
    c = jk.contact()
    jk.enrol([c], now=NIGHT)
    jk.run(NIGHT)
    assert jk.outbox() == []
    assert outcome_of(jk, c) == ["skipped_quiet"]
    assert jk.enrolment(c)["status"] == "completed" and "after" in jk.tags_of(c)


def test_quiet_hours_are_the_contacts_own(jk) -> None:
    jk.template()
    jk.journey([sms()])
    shanghai, berlin = jk.contact(), jk.contact(timezone="Europe/Berlin")
    jk.enrol([shanghai, berlin], now=NIGHT)  # 23:30 in Shanghai, 17:30 in Berlin
    jk.run(NIGHT)
    assert {r["contact"] for r in jk.outbox()} == {berlin}
    assert jk.enrolment(shanghai)["due_at"] == MORNING


def test_the_global_quiet_hours_apply_when_the_journey_sets_none(jk) -> None:
    jk.template()
    jk.journey([sms()], key="plain")
    jk.journey([sms()], key="own", quiet_hours={"start": "22:00", "end": "08:00"})
    c = jk.contact()
    jk.enrol([c], now=NIGHT, key="plain")
    jk.enrol([c], now=NIGHT, key="own")
    jk.run(NIGHT, quiet_hours=QuietHours(enabled=False))
    assert [r["journey_id"] for r in jk.outbox(None)] == [jk.journey_id("plain")]


def test_transactional_send_ignores_quiet_hours_caps_and_marketing_consent(jk) -> None:
    jk.template()
    caps = [{"channel": "any", "per": "day", "max": 0}]
    jk.journey([sms(transactional=True)], caps=caps)
    c = jk.contact()
    jk.enrol([c], now=NIGHT)
    jk.run(NIGHT, marketing_consent_default=False)
    [row] = jk.outbox()
    assert row["transactional"] is True and row["contact"] == c
    assert outcome_of(jk, c) == ["queued"]


# --- frequency caps -------------------------------------------------------------------------------
def test_a_capped_contact_moves_on_and_the_skip_is_recorded(jk) -> None:
    jk.template()
    caps = [{"channel": "sms", "per": "day", "max": 1}]
    jk.journey([sms("first"), sms("second"), {"id": "after", "add_tag": "after"}], caps=caps)
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    assert [r["step"] for r in jk.outbox()] == ["first"]
    assert outcome_of(jk, c, "second") == ["skipped_cap"]
    assert next(r["detail"] for r in jk.step_runs() if r["outcome"] == "skipped_cap") == "sms/day max 1"
    assert jk.enrolment(c)["status"] == "completed" and "after" in jk.tags_of(c)
    assert jk.step_report("second")["skipped_cap"] == 1


def test_daily_cap_counts_in_the_contacts_calendar_day(jk) -> None:
    jk.template()
    caps = [{"channel": "sms", "per": "day", "max": 1}]
    jk.journey([sms("first"), {"id": "pause", "wait": "1h"}, sms("second")], caps=caps, quiet_hours=NO_QUIET)
    la, shanghai = jk.contact(timezone="America/Los_Angeles"), jk.contact()
    entered = datetime(2026, 5, 4, 6, 30, tzinfo=UTC)  # 23:30 PDT on 3 May; 14:30 in Shanghai
    jk.enrol([la, shanghai], now=entered)
    jk.run(entered)
    jk.run(entered + timedelta(hours=1))  # 00:30 PDT on 4 May: a new day in Los Angeles only
    days = {(r["contact"], r["step"]): r["local_day"] for r in jk.outbox()}
    assert days == {
        (la, "first"): "2026-05-03",
        (la, "second"): "2026-05-04",
        (shanghai, "first"): "2026-05-04",
    }
    assert outcome_of(jk, shanghai, "second") == ["skipped_cap"]


@pytest.mark.parametrize(
    ("cap", "earlier", "outcome"),
    [
        ({"channel": "any", "per": "day", "max": 1}, [("email", "2026-05-06", {})], "skipped_cap"),
        ({"channel": "sms", "per": "day", "max": 1}, [("email", "2026-05-06", {})], "queued"),
        ({"channel": "sms", "per": "day", "max": 1}, [("sms", "2026-05-06", {})], "skipped_cap"),
        (
            {"channel": "sms", "per": "day", "max": 1},
            [("sms", "2026-05-06", {"status": "pending"})],
            "skipped_cap",
        ),
        ({"channel": "sms", "per": "day", "max": 1}, [("sms", "2026-05-06", {"status": "failed"})], "queued"),
        (
            {"channel": "sms", "per": "day", "max": 1},
            [("sms", "2026-05-06", {"transactional": True})],
            "queued",
        ),
        ({"channel": "sms", "per": "day", "max": 1}, [("sms", "2026-05-05", {})], "queued"),
        (
            {"channel": "any", "per": "week", "max": 2},
            [("sms", "2026-05-04", {}), ("email", "2026-05-05", {})],
            "skipped_cap",
        ),
        (
            {"channel": "any", "per": "week", "max": 2},
            [("sms", "2026-05-03", {}), ("email", "2026-05-05", {})],
            "queued",
        ),
        (
            {"channel": "any", "per": "month", "max": 2},
            [("sms", "2026-05-01", {}), ("sms", "2026-05-02", {})],
            "skipped_cap",
        ),
        (
            {"channel": "any", "per": "month", "max": 2},
            [("sms", "2026-04-30", {}), ("sms", "2026-05-02", {})],
            "queued",
        ),
    ],
    ids=[
        "any-counts-email",
        "sms-ignores-email",
        "sms-counts-sms",
        "pending-counts",
        "failed-does-not-count",
        "transactional-does-not-count",
        "yesterday-does-not-count",
        "same-iso-week",
        "previous-iso-week",
        "same-month",
        "previous-month",
    ],
)
def test_caps_count_earlier_messages(jk, cap, earlier, outcome: str) -> None:
    jk.template()
    jk.journey([sms()], caps=[cap])
    c = jk.contact()
    for channel, day, values in earlier:
        jk.add_outbox(c, channel, day, **values)
    jk.enrol([c], now=T0 + timedelta(days=2))  # Wednesday 6 May, ISO week 19
    jk.run(T0 + timedelta(days=2))
    assert outcome_of(jk, c) == [outcome]


def test_global_caps_apply_on_top_of_the_journeys(jk) -> None:
    jk.template()
    jk.journey([sms()])
    c = jk.contact()
    jk.add_outbox(c, "email", "2026-05-04")
    jk.enrol([c])
    jk.run(T0, caps=[Cap(channel="any", per="day", max=1)])
    assert outcome_of(jk, c) == ["skipped_cap"]


@pytest.mark.parametrize(
    ("when", "month", "earlier", "outcome"),
    [
        (datetime(2026, 6, 15, 2, tzinfo=UTC), "2026-06", 30, "skipped_cap"),
        (datetime(2026, 6, 15, 2, tzinfo=UTC), "2026-06", 29, "queued"),
        (datetime(2026, 5, 15, 2, tzinfo=UTC), "2026-05", 30, "queued"),
        (datetime(2026, 5, 15, 2, tzinfo=UTC), "2026-05", 31, "skipped_cap"),
        (datetime(2026, 2, 15, 2, tzinfo=UTC), "2026-02", 28, "skipped_cap"),
        (datetime(2028, 2, 15, 2, tzinfo=UTC), "2028-02", 28, "queued"),
    ],
    ids=["june-30-full", "june-29", "may-30", "may-31-full", "feb-28-full", "leap-feb-28"],
)
def test_wecom_private_monthly_limit(jk, when: datetime, month: str, earlier: int, outcome: str) -> None:
    jk.template("wecom", channel="wecom_private", body={"text": "Hi {{ name }}"})
    jk.journey([{"id": "hi", "send": {"channel": "wecom_private", "template": "wecom"}}])
    c = jk.contact(wecom="wmAbc123")
    jk.add_outbox(c, "wecom_private", f"{month}-01", n=earlier)
    jk.add_outbox(c, "wecom_private", "2020-01-01", n=5)  # another month: never counted
    jk.enrol([c], now=when)
    jk.run(when)
    assert outcome_of(jk, c) == [outcome]
    if outcome == "skipped_cap":
        days = int(earlier)
        detail = next(r["detail"] for r in jk.step_runs() if r["outcome"] == "skipped_cap")
        assert detail == f"wecom_private/month max {days}"


# --- rendering and the outbox ---------------------------------------------------------------------
def test_outbox_row_carries_the_rendered_message_under_the_documented_key(jk) -> None:
    jk.template()
    jid = jk.journey([sms()])
    c = jk.contact(name="Ann")
    jk.enrol([c])
    jk.run(T0)
    [row] = jk.outbox()
    eid = jk.enrolment(c)["id"]
    assert row["key"] == f"{jid}:{c}:{eid}:hi"
    assert (row["journey_id"], row["enrolment_id"], row["contact"], row["step"]) == (jid, eid, c, "hi")
    assert (row["channel"], row["template"], row["status"], row["transactional"]) == (
        "sms",
        "hello",
        "pending",
        False,
    )
    assert (row["local_day"], row["local_week"]) == ("2026-05-04", "2026-W19")
    assert row["content"] == {"template_code": "SMS_1", "params": {"name": "Ann"}, "text": "Hi Ann"}


def test_a_render_error_fails_that_contact_only(jk) -> None:
    body = {"template_code": "SMS_1", "params": {"share": "{{ 100 // points }}"}, "text": "x"}
    jk.template(body=body)
    jk.journey([sms(), {"id": "after", "add_tag": "after"}])
    broken, fine = jk.contact(points=0), jk.contact(points=4)
    jk.enrol([broken, fine])
    jk.run(T0)
    [row] = jk.outbox()
    assert row["contact"] == fine and row["content"]["params"] == {"share": "25"}
    assert outcome_of(jk, broken) == ["failed"]
    detail = next(r["detail"] for r in jk.step_runs() if r["outcome"] == "failed")
    assert "ZeroDivisionError" in detail
    assert "after" in jk.tags_of(broken)
    assert jk.step_report("hi")["failed"] == 1


def test_split_variant_picks_the_template_variant(jk) -> None:
    jk.template(variants={"b": {"text": "B for {{ name }}"}})
    split = {"variants": [{"name": "a", "weight": 1, "next": "hi"}, {"name": "b", "weight": 1, "next": "hi"}]}
    jk.journey([{"id": "ab", "split": split}, sms()])
    contacts = [jk.contact() for _ in range(30)]
    jk.enrol(contacts)
    jk.run(T0)
    variant = {e["contact"]: e["variants"]["ab"] for e in jk.enrolments()}
    assert set(variant.values()) == {"a", "b"}
    for row in jk.outbox():
        name = f"N{contacts.index(row['contact']) + 1}"
        assert row["variant"] == variant[row["contact"]]
        assert row["content"]["text"] == (f"B for {name}" if row["variant"] == "b" else f"Hi {name}")


def test_webhook_step_needs_no_marketing_consent_or_address(jk) -> None:
    jk.journey([{"id": "hook", "webhook": {"event": "crm.sync", "data": {"who": "{{ name }}"}}}])
    c = jk.contact(phone=False, name="Bo")
    jk.enrol([c])
    jk.run(T0, marketing_consent_default=False)
    [row] = jk.outbox()
    assert (row["channel"], row["content"]) == ("webhook", {"event": "crm.sync", "data": {"who": "Bo"}})


def test_rolled_back_claim_run_again_writes_exactly_one_outbox_row(jk) -> None:
    jk.template(body={**jk.SMS_BODY, "text": "Sale {{ link('https://shop.example/sale') }}"})
    jk.journey([sms()])
    c = jk.contact()
    jk.enrol([c])
    with jk.ctx.db.sessionmaker() as s:  # a worker that dies before committing
        Engine(s, jk.ctx.keyring, jk.config()).run_due(100, now=T0)
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        s.rollback()
    assert jk.outbox() == [] and jk.enrolment(c)["step"] == "hi"
    jk.run(T0)
    [first] = jk.outbox()
    # The state change is lost but the row was written (or a claim is repeated): same key, no second row.
    with jk.ctx.db.session() as s:
        s.execute(
            update(JourneyEnrolment).values(status="active", step="hi", due_at=T0, finished_at=None, data={})
        )
    assert jk.run(T0 + timedelta(minutes=1)).claimed == 1
    [again] = jk.outbox()
    assert again["id"] == first["id"] and again["content"] == first["content"]
    assert first["content"]["text"].startswith("Sale http://127.0.0.1:8000/l/")  # a tracked short link


def test_many_contacts_at_one_step_are_sent_in_one_claim(jk) -> None:
    jk.template()
    jk.journey([sms()])
    contacts = [jk.contact() for _ in range(40)]
    jk.enrol(contacts)
    assert jk.run(T0).claimed == 40
    rows = jk.outbox()
    assert sorted(r["contact"] for r in rows) == sorted(contacts)
    assert len({r["key"] for r in rows}) == 40
    assert Counter(o for _, _, o in jk.runs()) == {"entered": 40, "queued": 40}


def test_consent_is_checked_again_when_a_held_message_goes_out(jk) -> None:
    jk.template()
    jk.journey([sms()])
    c = jk.contact()
    jk.consent(c, True)
    jk.enrol([c], now=NIGHT)
    jk.run(NIGHT, marketing_consent_default=False)
    jk.consent(c, False)  # withdrawn during the night
    jk.run(MORNING, marketing_consent_default=False)
    assert jk.outbox() == []
    assert jk.outcomes(c) == [("hi", "entered"), ("hi", "held_quiet"), ("hi", "skipped_consent")]
    assert jk.enrolment(c)["status"] == "completed"


def test_a_deleted_template_fails_its_step_without_blocking_other_journeys(jk) -> None:
    from siyu.content.service import ContentService

    jk.template()
    jk.journey([sms()], key="mail")
    jk.journey([{"id": "mark", "add_tag": "other"}], key="other")
    c = jk.contact()
    jk.enrol([c], key="mail")
    jk.enrol([c], key="other")
    with jk.ctx.db.session() as s:
        ContentService(s).delete_template("hello")
    jk.run(T0)
    assert jk.tags_of(c) == {"other": "journey"}
    mail = [o for st, o in jk.outcomes(c, "mail") if st == "hi" and o != "entered"]
    assert mail == ["failed"]  # the send fails with the reason; the run goes on
    assert jk.enrolment(c, "mail")["status"] == "completed"


def test_webhook_step_is_not_a_message_to_the_contact_for_caps(jk) -> None:
    caps = [{"channel": "any", "per": "day", "max": 1}]
    jk.template()
    jk.journey([sms(), {"id": "hook", "webhook": {"event": "crm.sync"}}], caps=caps)
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    assert [r["step"] for r in jk.outbox()] == ["hi", "hook"]


def test_a_reminder_loop_sends_each_time_round(jk) -> None:
    jk.template()
    check = {"routes": [{"if": {"not": {"clicked": True}}, "next": "hi"}], "else": "exit"}
    jk.journey([sms(), {"id": "pause", "wait": "1d"}, {"id": "check", "branch": check}])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.run(T0 + timedelta(days=1))
    assert outcome_of(jk, c) == ["queued", "queued"]
    assert len(jk.outbox()) == 2


# --- three time zones and a DST change through the engine ------------------------------------------
@pytest.mark.parametrize(
    ("tz", "night", "morning"),
    [
        # Berlin, the night the clocks go forward: 23:30 CET → 08:00 CEST (only 7.5 h later)
        ("Europe/Berlin", datetime(2026, 3, 28, 22, 30, tzinfo=UTC), datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # Los Angeles, the night the clocks go back: 23:30 PDT → 08:00 PST (9.5 h later)
        (
            "America/Los_Angeles",
            datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 16, 0, tzinfo=UTC),
        ),
        # Shanghai has no DST: 23:30 → 08:00 CST
        ("Asia/Shanghai", datetime(2026, 3, 28, 15, 30, tzinfo=UTC), datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_across_a_dst_change_end_at_local_0800(
    jk, tz: str, night: datetime, morning: datetime
) -> None:
    jk.template()
    jk.journey([sms()])
    c = jk.contact(timezone=tz)
    jk.enrol([c], now=night)
    jk.run(night)
    assert jk.outbox() == [] and jk.enrolment(c)["due_at"] == morning
    jk.run(morning - timedelta(minutes=1))
    assert jk.outbox() == []
    jk.run(morning)
    [row] = jk.outbox()
    assert row["created_at"] == morning


def test_a_daily_cap_in_three_zones_counts_each_contacts_own_day(jk) -> None:
    """One send a day, two sends two hours apart: 2026-11-01 06:30 and 08:30 UTC are 14:30 and
    16:30 in Shanghai and 07:30 and 09:30 in Berlin (the same day), but 23:30 on 31 Oct and
    01:30 on 1 Nov in Los Angeles (PDT, an hour before the clocks go back): Los Angeles gets
    both, the others are capped at the second."""
    caps = [{"channel": "any", "per": "day", "max": 1}]
    jk.template()
    steps = [sms("a"), {"id": "gap", "wait": "2h"}, sms("b")]
    jk.journey(steps, caps=caps, quiet_hours=NO_QUIET)
    zones = ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"]
    contacts = {z: jk.contact(timezone=z) for z in zones}
    first = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    jk.enrol(list(contacts.values()), now=first)
    jk.run(first)
    jk.run(first + timedelta(hours=2))
    sent = Counter(r["contact"] for r in jk.outbox())
    assert sent == {
        contacts["Asia/Shanghai"]: 1,
        contacts["Europe/Berlin"]: 1,
        contacts["America/Los_Angeles"]: 2,
    }
    days = {(r["contact"], r["step"]): r["local_day"] for r in jk.outbox()}
    assert days[(contacts["America/Los_Angeles"], "a")] == "2026-10-31"
    assert days[(contacts["America/Los_Angeles"], "b")] == "2026-11-01"
    for z in ("Asia/Shanghai", "Europe/Berlin"):
        assert outcome_of(jk, contacts[z], "b") == ["skipped_cap"]
