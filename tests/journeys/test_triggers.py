"""Entering and leaving journeys (src/siyu/journeys/triggers.py, service.py): the follower's
event triggers, entry rules (once per contact, re-entry after a cooldown, never two active
enrolments, keyed occurrences), goals and segment exits, broadcasts, date triggers and list
enrolment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from siyu.journeys.service import JourneyConflict
from siyu.journeys.triggers import CURSOR
from siyu.store.settings import get_setting, put_setting

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # = jk.T0
SETTLED = timedelta(seconds=10)
DONE = [{"id": "mark", "add_tag": "entered"}]  # finishes at the first run
LONG = [{"id": "pause", "wait": "7d"}, {"id": "mark", "add_tag": "entered"}]


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def contacts_of(jk, key: str = "j") -> list[int]:
    return [e["contact"] for e in jk.enrolments(key)]


# --- event triggers -------------------------------------------------------------------------------
def test_tag_added_enrols_the_tagged_contact(jk) -> None:
    jk.journey(LONG, trigger={"tag_added": "vip"})
    a, b = jk.contact(), jk.contact()
    jk.tag("vip", [a], T0)
    jk.tag("other", [b], T0)
    jk.follow(at(seconds=10))
    [e] = jk.enrolments()
    assert (e["contact"], e["status"], e["step"], e["entered_at"], e["due_at"]) == (
        a,
        "active",
        "pause",
        at(seconds=10),
        at(seconds=10),
    )
    assert e["trigger_key"].startswith("tag.added:")


def test_the_follower_waits_until_events_are_settled_on_postgresql_only(jk) -> None:
    jk.journey(LONG, trigger={"tag_added": "vip"})
    a = jk.contact()
    jk.tag("vip", [a], T0)
    jk.follow(at(seconds=4))
    if jk.ctx.db.engine.dialect.name == "postgresql":
        # received less than 5 s ago: may still have uncommitted neighbours with lower ids
        assert jk.enrolments() == []
        jk.follow(at(seconds=6))
    # SQLite has one writer at a time: what is visible is complete, no need to wait
    assert contacts_of(jk) == [a]


def test_stage_changed_enrols_contacts_entering_that_stage(jk) -> None:
    jk.journey(LONG, trigger={"stage_changed": "conversion"})
    a, b = jk.contact(), jk.contact()
    jk.stage(a, "conversion", T0)
    jk.stage(b, "retention", T0)
    jk.follow(at(seconds=10))
    assert contacts_of(jk) == [a]


def test_event_trigger_with_a_property_filter_keeps_the_event_for_templates(jk) -> None:
    trigger = {"event": {"name": "order.paid", "where": [{"property": "amount", "op": "gte", "value": 100}]}}
    jk.journey(LONG, trigger=trigger)
    big, small, other = jk.contact(), jk.contact(), jk.contact()
    jk.track(big, "order.paid", T0, amount=150, order_id="A1")
    jk.track(small, "order.paid", T0, amount=50, order_id="A2")
    jk.track(other, "order.refunded", T0, amount=500)
    jk.follow(at(seconds=10))
    [e] = jk.enrolments()
    assert e["contact"] == big
    assert e["data"] == {"trigger": {"amount": 150, "order_id": "A1"}}


def test_segment_entered_enrols_and_segment_exited_exits_unless_turned_off(jk) -> None:
    a, b = jk.contact(city="bj"), jk.contact(city="bj")
    definition = {"type": "attribute", "name": "city", "op": "eq", "value": "sh"}
    jk.client.segments.create({"key": "sh", "name": "SH", "definition": definition})
    trigger = {"segment_entered": "sh"}
    jk.journey(LONG, trigger=trigger, key="leave")
    jk.journey(LONG, trigger=trigger, key="stay", exit={"on_segment_exit": False})
    mark = jk.last_event_id()
    for c in (a, b):
        jk.client.identify({"customer_no": jk.uids[c]}, {"city": "sh"})
    assert sorted(jk.client.segments.recompute("sh")[0]["entered"]) == sorted([a, b])
    jk.restamp(mark, T0)
    jk.follow(at(seconds=10))
    assert sorted(contacts_of(jk, "leave")) == sorted(contacts_of(jk, "stay")) == sorted([a, b])
    mark = jk.last_event_id()
    jk.client.identify({"customer_no": jk.uids[a]}, {"city": "bj"})
    assert jk.client.segments.recompute("sh")[0]["exited"] == [a]
    jk.restamp(mark, at(hours=1))
    result = jk.follow(at(hours=1, seconds=10))
    assert result.exited == 1
    leave = {e["contact"]: (e["status"], e["exit_reason"]) for e in jk.enrolments("leave")}
    assert leave == {a: ("exited", "left_segment"), b: ("active", None)}
    assert {e["status"] for e in jk.enrolments("stay")} == {"active"}
    assert ("pause", "exited") in jk.outcomes(a, "leave")


# --- entry rules ----------------------------------------------------------------------------------
def test_once_per_contact_by_default(jk) -> None:
    jk.journey(DONE, trigger={"event": {"name": "visit"}})
    c = jk.contact()
    jk.track(c, "visit", T0)
    jk.follow(at(seconds=10))
    jk.run(at(seconds=10))
    assert [e["status"] for e in jk.enrolments()] == ["completed"]
    jk.track(c, "visit", at(days=30))
    jk.follow(at(days=30, seconds=10))
    assert len(jk.enrolments()) == 1


def test_reentry_after_the_cooldown(jk) -> None:
    jk.journey(DONE, trigger={"event": {"name": "visit"}}, entry={"reentry": True, "cooldown": "1d"})
    c = jk.contact()
    jk.track(c, "visit", T0)
    jk.follow(at(seconds=10))
    jk.run(at(seconds=10))
    jk.track(c, "visit", at(hours=2))  # within a day of entering: refused
    jk.follow(at(hours=2, seconds=10))
    assert len(jk.enrolments()) == 1
    jk.track(c, "visit", at(days=1, minutes=1))
    jk.follow(at(days=1, minutes=1, seconds=10))
    assert [e["entered_at"] for e in jk.enrolments()] == [at(seconds=10), at(days=1, minutes=1, seconds=10)]


def test_never_two_active_enrolments_of_one_contact(jk) -> None:
    jk.journey(LONG, trigger={"event": {"name": "visit"}}, entry={"reentry": True})
    c = jk.contact()
    jk.track(c, "visit", T0)
    jk.follow(at(seconds=10))
    jk.run(at(seconds=10))
    jk.track(c, "visit", at(hours=1))
    jk.follow(at(hours=1, seconds=10))
    jk.enrol([c], now=at(hours=2), label="a-list")
    assert [e["status"] for e in jk.enrolments()] == ["active"]


def test_keyed_event_trigger_never_enrols_the_same_order_twice(jk) -> None:
    trigger = {"event": {"name": "order.paid", "key": "order_id"}}
    jk.journey(DONE, trigger=trigger, entry={"reentry": True})
    c = jk.contact()
    primed = get_setting_value(jk)
    jk.track(c, "order.paid", T0, order_id="A1")
    jk.follow(at(seconds=10))
    jk.run(at(seconds=10))
    assert [(e["trigger_key"], e["status"]) for e in jk.enrolments()] == [("k:A1", "completed")]
    jk.track(c, "order.paid", at(hours=1), order_id="A1")  # the same order, reported again
    jk.follow(at(hours=1, seconds=10))
    assert len(jk.enrolments()) == 1
    with jk.ctx.db.session() as s:  # the follower replays everything from the start
        put_setting(s, CURSOR, primed)
    jk.follow(at(hours=2))
    assert len(jk.enrolments()) == 1
    jk.track(c, "order.paid", at(hours=3), order_id="A2")
    jk.follow(at(hours=3, seconds=10))
    assert [e["trigger_key"] for e in jk.enrolments()] == ["k:A1", "k:A2"]


def get_setting_value(jk) -> int:
    with jk.ctx.db.session() as s:
        return int(get_setting(s, CURSOR))


def test_events_before_the_journeys_start_are_ignored(jk) -> None:
    jk.journey(LONG, trigger={"event": {"name": "visit"}}, started_at=T0)
    early, late = jk.contact(), jk.contact()
    jk.track(early, "visit", at(seconds=-30))
    jk.track(late, "visit", at(seconds=1))
    jk.follow(at(seconds=20))
    assert contacts_of(jk) == [late]


def test_events_after_the_start_count_even_before_the_first_follower_run(jk) -> None:
    jk.journey(LONG, trigger={"event": {"name": "visit"}}, started_at=T0, prime=False)
    c = jk.contact()
    jk.track(c, "visit", at(seconds=1))
    jk.follow(at(seconds=20))
    assert contacts_of(jk) == [c]


def test_a_paused_journey_enrols_nobody(jk) -> None:
    jk.journey(LONG, trigger={"event": {"name": "visit"}})
    c = jk.contact()
    jk.pause()
    jk.track(c, "visit", T0)
    jk.follow(at(seconds=10))
    assert jk.enrolments() == []


# --- goals ----------------------------------------------------------------------------------------
def test_goal_event_converts_active_enrolments(jk) -> None:
    goal = {"event": "order.paid", "where": [{"property": "amount", "op": "gt", "value": 0}]}
    jk.journey(LONG, goal=goal)
    buyer, zero, idle = jk.contact(), jk.contact(), jk.contact()
    jk.enrol([buyer, zero, idle])
    jk.run(T0)
    jk.track(buyer, "order.paid", at(hours=1), amount=99)
    jk.track(zero, "order.paid", at(hours=1), amount=0)  # does not match the goal's filter
    result = jk.follow(at(hours=1, seconds=10))
    assert result.converted == 1
    status = {e["contact"]: (e["status"], e["exit_reason"], e["due_at"]) for e in jk.enrolments()}
    assert status[buyer] == ("converted", "goal", None)
    assert status[zero][0] == status[idle][0] == "active"
    report = jk.report()
    assert (report["enrolled"], report["converted"], report["conversion_rate"]) == (3, 1, round(1 / 3, 4))
    assert jk.step_report("pause")["converted"] == 1
    jk.run(at(days=7, hours=1))
    assert "entered" not in jk.tags_of(buyer) and "entered" in jk.tags_of(idle)


def test_goal_does_not_end_enrolments_when_on_goal_is_off(jk) -> None:
    jk.journey(LONG, goal={"event": "order.paid"}, exit={"on_goal": False})
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.track(c, "order.paid", at(hours=1))
    jk.follow(at(hours=1, seconds=10))
    assert jk.enrolment(c)["status"] == "active"


def test_goal_reached_right_after_the_trigger_in_one_batch_ends_the_enrolment(jk) -> None:
    jk.journey(LONG, trigger={"event": {"name": "cart.abandoned"}}, goal={"event": "order.paid"})
    c = jk.contact()
    jk.track(c, "cart.abandoned", T0)
    jk.track(c, "order.paid", at(seconds=2))
    jk.follow(at(seconds=20))
    assert [e["status"] for e in jk.enrolments()] in ([], ["converted"])


# --- broadcasts -----------------------------------------------------------------------------------
def test_one_off_broadcast_enrols_the_segment_once_at_its_time(jk) -> None:
    a, b, outsider = jk.contact(), jk.contact(), jk.contact()
    jk.segment("vip", [a, b])
    jk.journey(DONE, trigger={"broadcast": {"segment": "vip", "at": T0.isoformat()}})
    assert jk.schedules(at(seconds=-1)) == 0
    assert jk.enrolments() == []
    jk.schedules(T0)
    assert sorted(contacts_of(jk)) == sorted([a, b])
    jk.run(T0)
    jk.schedules(at(days=1))
    assert len(jk.enrolments()) == 2 and outsider not in contacts_of(jk)


def test_daily_broadcast_runs_every_day_for_contacts_not_active(jk) -> None:
    a, b = jk.contact(), jk.contact()
    jk.segment("vip", [a, b])
    jk.journey(DONE, trigger={"broadcast": {"segment": "vip", "at": T0.isoformat(), "every": "day"}})
    jk.schedules(T0)
    jk.run(T0)
    jk.schedules(at(hours=1))
    assert len(jk.enrolments()) == 2
    jk.schedules(at(days=1))
    assert len(jk.enrolments()) == 4
    # Missed days are not made up: after a gap, one run (stamped with the first missed time).
    jk.run(at(days=1))
    jk.schedules(at(days=3, hours=5))
    jk.schedules(at(days=3, hours=6))
    assert len(jk.enrolments()) == 6
    keys = sorted({e["trigger_key"].rsplit(":", 1)[0] for e in jk.enrolments()})
    assert keys == [f"b:{T0.isoformat()}", f"b:{at(days=1).isoformat()}", f"b:{at(days=2).isoformat()}"]


# --- date triggers --------------------------------------------------------------------------------
def test_birthday_enrols_on_the_local_day_at_the_configured_time_once_a_year(jk) -> None:
    jk.journey(DONE, trigger={"date": {"attribute": "birthday", "at": "10:00"}})
    shanghai = jk.contact(birthday="1990-11-25")
    la = jk.contact(birthday="1990-11-25", timezone="America/Los_Angeles")
    jk.contact(birthday="1990-11-26")
    jk.contact(birthday="not a date")

    def enrolled(now: datetime) -> list[int]:
        jk.schedules(now)
        jk.run(now)
        return contacts_of(jk)

    assert enrolled(datetime(2026, 11, 25, 1, 59, tzinfo=UTC)) == []  # 09:59 in Shanghai
    assert enrolled(datetime(2026, 11, 25, 2, 0, tzinfo=UTC)) == [shanghai]
    assert enrolled(datetime(2026, 11, 25, 17, 59, tzinfo=UTC)) == [shanghai]  # 09:59 PST
    assert enrolled(datetime(2026, 11, 25, 18, 0, tzinfo=UTC)) == [shanghai, la]
    assert enrolled(datetime(2026, 11, 25, 23, 0, tzinfo=UTC)) == [shanghai, la]  # once a year
    assert enrolled(datetime(2027, 11, 25, 2, 0, tzinfo=UTC)) == [shanghai, la, shanghai]
    assert [e["trigger_key"] for e in jk.enrolments()] == [
        f"d:2026:{shanghai}",
        f"d:2026:{la}",
        f"d:2027:{shanghai}",
    ]


def test_days_before_counts_back_across_the_new_year(jk) -> None:
    jk.journey(DONE, trigger={"date": {"attribute": "birthday", "at": "09:00", "days_before": 3}})
    c = jk.contact(birthday="1995-01-02")
    jk.schedules(datetime(2026, 12, 30, 0, 59, tzinfo=UTC))  # 08:59 in Shanghai
    assert contacts_of(jk) == []
    jk.schedules(datetime(2026, 12, 30, 1, 0, tzinfo=UTC))
    assert [e["trigger_key"] for e in jk.enrolments()] == [f"d:2027:{c}"]


def test_29_february_birthdays_fall_on_28_february_in_common_years(jk) -> None:
    jk.journey(DONE, trigger={"date": {"attribute": "birthday"}})
    c = jk.contact(birthday="2000-02-29")

    def on(y: int, m: int, d: int) -> int:
        now = datetime(y, m, d, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
        jk.schedules(now)
        jk.run(now)
        return len(jk.enrolments())

    assert on(2027, 2, 27) == 0
    assert on(2027, 2, 28) == 1
    assert on(2027, 3, 1) == 1
    assert on(2028, 2, 28) == 1  # a leap year: the real day comes tomorrow
    assert on(2028, 2, 29) == 2
    assert [e["trigger_key"] for e in jk.enrolments()] == [f"d:2027:{c}", f"d:2028:{c}"]


# --- list enrolment -------------------------------------------------------------------------------
def test_list_enrolment_is_idempotent_per_label(jk) -> None:
    jk.journey(DONE, entry={"reentry": True})
    a, b = jk.contact(), jk.contact()
    jk.enrol([a, b], label="march.csv")
    jk.run(T0)
    jk.enrol([a, b], now=at(hours=1), label="march.csv")  # the same file again
    assert len(jk.enrolments()) == 2
    jk.enrol([a], now=at(hours=2), label="april.csv")
    assert [e["contact"] for e in jk.enrolments()] == [a, b, a]


def test_list_enrolment_needs_a_started_journey(jk) -> None:
    jk.journey(DONE, start=False)
    c = jk.contact()
    with pytest.raises(JourneyConflict, match="start journey 'j'"):
        jk.enrol([c])


def test_enrol_and_the_follower_report_how_many_entered(jk) -> None:
    jk.template()
    jk.journey([jk.sms_step("hi"), *LONG], trigger={"tag_added": "vip"})
    a, b, c = jk.contact(), jk.contact(), jk.contact()
    jk.tag("vip", [a, b], T0)
    assert jk.follow(at(seconds=10)).enrolled == 2
    assert jk.enrol([a, b, c], now=at(minutes=1)) == 1
    assert jk.run(at(minutes=1)).queued == 3


@pytest.mark.postgresql_only("SQLite has one writer at a time: the second enrolment waits for the first")
def test_two_list_enrolments_at_once_leave_one_active_enrolment(jk) -> None:
    from siyu.journeys.service import JourneyService

    jk.journey(LONG)
    c = jk.contact()
    import threading

    first, second = jk.ctx.db.sessionmaker(), jk.ctx.db.sessionmaker()
    entered: list[int] = []

    def upload_2() -> None:  # blocks on the unique index until the first upload commits
        entered.append(JourneyService(second).enrol("j", [c], label="upload-2", now=T0))
        second.commit()

    try:
        entered.append(JourneyService(first).enrol("j", [c], label="upload-1", now=T0))
        thread = threading.Thread(target=upload_2)
        thread.start()
        thread.join(0.3)
        first.commit()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()
    assert sorted(entered) == [0, 1]
    assert [e["status"] for e in jk.enrolments()] == ["active"]
