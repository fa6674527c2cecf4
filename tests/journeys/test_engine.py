"""The engine and its step handlers (src/siyu/journeys/engine.py, steps.py, conditions.py):
waits in the contact's own time zone, waiting for an event, branches on what the system of
record knows, deterministic splits, the profile-changing steps, and the guards (the step limit
per claim, paused journeys, edited journeys)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from siyu.store.models import ContactStage, JourneyEnrolment, TagChange

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # = jk.T0: Monday 10:00 in Shanghai


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def tag_step(step_id: str, tag: str, nxt: str | None = None) -> dict:
    return {"id": step_id, "add_tag": tag, **({"next": nxt} if nxt else {})}


# --- wait -----------------------------------------------------------------------------------------
def test_wait_parks_then_resumes_after_the_duration(jk) -> None:
    jk.journey([{"id": "pause", "wait": "2h"}, tag_step("done", "j/done")])
    c = jk.contact()
    jk.enrol([c])
    first = jk.run(T0)
    assert (first.claimed, first.steps) == (1, 1)
    e = jk.enrolment(c)
    assert (e["status"], e["step"], e["due_at"]) == ("active", "pause", at(hours=2))
    assert jk.step_report("pause")["waiting"] == 1
    assert jk.run(at(hours=2, seconds=-1)).claimed == 0
    assert "j/done" not in jk.tags_of(c)
    assert jk.run(at(hours=2)).claimed == 1
    assert jk.tags_of(c) == {"j/done": "journey"}
    assert jk.enrolment(c)["status"] == "completed"
    assert jk.outcomes(c) == [("pause", "entered"), ("done", "entered")]  # entered once, not on resume
    report = jk.report()
    assert (report["completed"], report["active"], jk.step_report("pause")["waiting"]) == (1, 0, 0)


# --- wait_until -----------------------------------------------------------------------------------
ZONES = {"Asia/Shanghai": 0, "Europe/Berlin": 1, "America/Los_Angeles": 2}
# Entered at T0 = Mon 4 May 02:00 UTC: 10:00 in Shanghai, 04:00 in Berlin, Sun 3 May 19:00 in LA.
DUE = {
    0: [T0, datetime(2026, 5, 4, 8, 0, tzinfo=UTC), None],  # LA's day 0 10:00 has passed: go on now
    1: [
        datetime(2026, 5, 5, 2, 0, tzinfo=UTC),
        datetime(2026, 5, 5, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 4, 17, 0, tzinfo=UTC),
    ],
    3: [
        datetime(2026, 5, 7, 2, 0, tzinfo=UTC),
        datetime(2026, 5, 7, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 6, 17, 0, tzinfo=UTC),
    ],
}


@pytest.mark.parametrize("day", [0, 1, 3])
def test_wait_until_is_local_10_00_in_each_contacts_zone(jk, day: int) -> None:
    jk.journey([{"id": "morning", "wait_until": {"day": day, "at": "10:00"}}, tag_step("woke", "j/woke")])
    contacts = [jk.contact(timezone=z) for z in ZONES]
    jk.enrol(contacts)
    jk.run(T0)
    due = DUE[day]
    for c, expected in zip(contacts, due, strict=True):
        e = jk.enrolment(c)
        if expected is None or expected <= T0:  # already past (or exactly now): moved on at once
            assert e["status"] == "completed" and "j/woke" in jk.tags_of(c)
        else:
            assert (e["status"], e["step"], e["due_at"]) == ("active", "morning", expected)
            assert "j/woke" not in jk.tags_of(c)
    for expected in sorted(d for d in due if d is not None and d > T0):
        jk.run(expected - timedelta(seconds=1))
        woke = {c for c in contacts if "j/woke" in jk.tags_of(c)}
        jk.run(expected)
        newly = {c for c in contacts if "j/woke" in jk.tags_of(c)} - woke
        assert newly == {contacts[due.index(expected)]}
    assert all(e["status"] == "completed" for e in jk.enrolments())


def test_wait_until_uses_the_configured_default_zone_without_a_trait(jk) -> None:
    jk.journey([{"id": "morning", "wait_until": {"day": 1, "at": "09:00"}}, tag_step("woke", "j/woke")])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0, default_timezone="Europe/Berlin")
    assert jk.enrolment(c)["due_at"] == datetime(2026, 5, 5, 7, 0, tzinfo=UTC)  # 09:00 CEST


# --- wait_for -------------------------------------------------------------------------------------
WAIT_FOR = [
    {
        "id": "await",
        "wait_for": {
            "event": "order.paid",
            "where": [{"property": "amount", "op": "gte", "value": 100}],
            "timeout": "1d",
            "on_event": "paid",
            "on_timeout": "nudge",
        },
    },
    tag_step("paid", "j/paid", "exit"),
    tag_step("nudge", "j/nudge"),
]


def test_wait_for_takes_the_event_branch_when_the_event_arrives(jk) -> None:
    jk.journey(WAIT_FOR)
    c, other = jk.contact(), jk.contact()
    jk.enrol([c, other])
    jk.run(T0)
    e = jk.enrolment(c)
    assert (e["step"], e["wait_event"], e["due_at"]) == ("await", "order.paid", at(days=1))
    jk.track(c, "order.paid", at(hours=1), amount=150)
    woken = jk.follow(at(hours=1, seconds=10))
    assert woken.woken == 1
    assert jk.run(at(hours=1, seconds=10)).claimed == 1
    assert jk.tags_of(c) == {"j/paid": "journey"}
    assert jk.enrolment(c)["status"] == "completed"
    assert jk.outcomes(c) == [
        ("await", "entered"),
        ("await", "waiting"),
        ("await", "event"),
        ("paid", "entered"),
    ]
    assert jk.enrolment(other)["step"] == "await"  # the other contact is still waiting


def test_wait_for_times_out_at_the_deadline(jk) -> None:
    jk.journey(WAIT_FOR)
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    assert jk.run(at(days=1, seconds=-1)).claimed == 0
    jk.run(at(days=1))
    assert jk.tags_of(c) == {"j/nudge": "journey"}
    assert ("await", "timeout") in jk.outcomes(c)


def test_wait_for_ignores_a_non_matching_event_and_keeps_waiting(jk) -> None:
    jk.journey(WAIT_FOR)
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.track(c, "order.paid", at(hours=1), amount=50)  # the where filter wants >= 100
    assert jk.follow(at(hours=1, seconds=10)).woken == 1
    jk.run(at(hours=1, seconds=10))
    e = jk.enrolment(c)
    assert (e["status"], e["step"], e["wait_event"], e["due_at"]) == (
        "active",
        "await",
        "order.paid",
        at(days=1),
    )
    assert jk.tags_of(c) == {}
    jk.run(at(days=1))
    assert jk.tags_of(c) == {"j/nudge": "journey"}
    assert [o for _, o in jk.outcomes(c)].count("entered") == 2  # await once, nudge once


def test_wait_for_does_not_count_an_event_from_before_the_wait(jk) -> None:
    jk.journey([{"id": "pre", "wait": "2h"}, *WAIT_FOR])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.track(c, "order.paid", at(hours=1), amount=500)  # paid while still in the first wait
    jk.follow(at(hours=1, seconds=10))
    jk.run(at(hours=2))  # arrives at the wait_for step now
    assert jk.enrolment(c)["step"] == "await"
    jk.run(at(hours=2, days=1))
    assert jk.tags_of(c) == {"j/nudge": "journey"}


# --- branches -------------------------------------------------------------------------------------
def test_branch_routes_on_what_the_system_of_record_knows(jk) -> None:
    routes = [
        ({"has_tag": "vip"}, "r-tag"),
        ({"attribute": {"property": "city", "op": "eq", "value": "sh"}}, "r-attr"),
        ({"event": {"name": "visit"}}, "r-event"),
        ({"segment": "big"}, "r-seg"),
        ({"stage": "conversion"}, "r-stage"),
    ]
    steps = [
        {"id": "settle", "wait": "1h"},
        {
            "id": "route",
            "branch": {"routes": [{"if": cond, "next": nxt} for cond, nxt in routes], "else": "r-else"},
        },
        *[tag_step(nxt, f"route/{nxt}", "exit") for _, nxt in routes],
        tag_step("r-else", "route/r-else"),
    ]
    tagged, city = jk.contact(), jk.contact(city="sh")
    visitor, early, member, staged, nobody = (jk.contact(city="bj") for _ in range(5))
    jk.segment("big", [member])
    jk.journey(steps)
    jk.tag("vip", [tagged], T0)
    jk.stage(staged, "conversion", T0)
    jk.track(early, "visit", at(minutes=-5))  # before entry: does not count
    jk.enrol([tagged, city, visitor, early, member, staged, nobody])
    jk.run(T0)
    jk.track(visitor, "visit", at(minutes=30))
    jk.run(at(hours=1))
    expected = {
        tagged: "r-tag",
        city: "r-attr",
        visitor: "r-event",
        member: "r-seg",
        staged: "r-stage",
        early: "r-else",
        nobody: "r-else",
    }
    for c, route in expected.items():
        assert f"route/{route}" in jk.tags_of(c), (c, route)
        assert len([t for t in jk.tags_of(c) if t.startswith("route/")]) == 1
    routed = Counter(o for _, st, o in jk.runs() if st == "route")
    assert routed == {
        "entered": 7,
        "route:0": 1,
        "route:1": 1,
        "route:2": 1,
        "route:3": 1,
        "route:4": 1,
        "route:else": 2,
    }


def test_branch_on_clicked_link(jk) -> None:
    jk.template()
    steps = [
        jk.sms_step("offer"),
        {"id": "later", "wait": "1d"},
        {
            "id": "check",
            "branch": {"routes": [{"if": {"clicked": "offer"}, "next": "yes"}], "else": "no"},
        },
        tag_step("yes", "clicked/yes", "exit"),
        tag_step("no", "clicked/no"),
    ]
    jk.journey(steps)
    a, b = jk.contact(), jk.contact()
    jk.enrol([a, b])
    jk.run(T0)
    rows = {r["contact"]: r["id"] for r in jk.outbox()}
    assert set(rows) == {a, b}
    jk.set_outbox([rows[a]], clicked_at=at(hours=3))
    jk.run(at(days=1))
    assert jk.tags_of(a) == {"clicked/yes": "journey"}
    assert jk.tags_of(b) == {"clicked/no": "journey"}


def test_branch_all_any_not_combine(jk) -> None:
    cond = {"all": [{"any": [{"has_tag": "a"}, {"has_tag": "b"}]}, {"not": {"has_tag": "x"}}]}
    jk.journey(
        [
            {"id": "route", "branch": {"routes": [{"if": cond, "next": "hit"}], "else": "exit"}},
            tag_step("hit", "hit"),
        ]
    )
    only_a, only_b, a_and_x, none = (jk.contact() for _ in range(4))
    jk.tag("a", [only_a, a_and_x], T0)
    jk.tag("b", [only_b], T0)
    jk.tag("x", [a_and_x], T0)
    jk.enrol([only_a, only_b, a_and_x, none])
    jk.run(T0)
    assert {c for c in (only_a, only_b, a_and_x, none) if "hit" in jk.tags_of(c)} == {only_a, only_b}


# --- split ----------------------------------------------------------------------------------------
SPLIT = [
    {
        "id": "ab",
        "split": {
            "variants": [{"name": "a", "weight": 1, "next": "va"}, {"name": "b", "weight": 3, "next": "vb"}]
        },
    },
    tag_step("va", "variant/a", "exit"),
    tag_step("vb", "variant/b"),
]


def test_split_is_deterministic_per_contact_and_kept_on_reentry(jk) -> None:
    jk.journey(SPLIT, entry={"reentry": True})
    contacts = [jk.contact() for _ in range(120)]
    jk.enrol(contacts, label="first")
    jk.run(T0)
    first = {e["contact"]: e["variants"]["ab"] for e in jk.enrolments()}
    assert set(first.values()) == {"a", "b"}
    for c, v in first.items():
        assert f"variant/{v}" in jk.tags_of(c)
    counts = Counter(first.values())
    assert 15 <= counts["a"] <= 45  # weight 1 of 4 of 120: 30 expected, ± 3 sd
    # Everyone finished; they enter again (in reverse order) and land in the same variant.
    jk.enrol(list(reversed(contacts)), now=at(days=1), label="second")
    jk.run(at(days=1))
    second = [e for e in jk.enrolments() if e["entered_at"] == at(days=1)]
    assert len(second) == 120
    assert {e["contact"]: e["variants"]["ab"] for e in second} == first
    variant_runs = [r for r in jk.step_runs() if r["step"] == "ab" and r["outcome"] == "variant"]
    assert all(r["variant"] == first[r["contact"]] for r in variant_runs) and len(variant_runs) == 240


# --- profile-changing steps -----------------------------------------------------------------------
def test_add_and_remove_tag_record_source_journey(jk) -> None:
    jk.journey(
        [
            tag_step("add", "j/welcomed"),
            {"id": "drop", "remove_tag": "old"},
            {"id": "gone", "remove_tag": "never"},
        ]
    )
    c = jk.contact()
    jk.tag("old", [c], T0)
    jk.enrol([c])
    jk.run(at(minutes=1))
    assert jk.tags_of(c) == {"j/welcomed": "journey"}
    with jk.ctx.db.session() as s:
        changes = s.execute(select(TagChange.action, TagChange.source).order_by(TagChange.id)).all()
    assert [tuple(r) for r in changes][-2:] == [("added", "journey"), ("removed", "journey")]
    assert jk.enrolment(c)["status"] == "completed"


def test_set_stage_and_set_attribute(jk) -> None:
    jk.journey(
        [
            {"id": "stage", "set_stage": "retention"},
            {"id": "attr", "set_attribute": {"welcomed": True, "city": "bj"}},
        ]
    )
    c = jk.contact(city="sh")
    jk.enrol([c])
    jk.run(T0)
    with jk.ctx.db.session() as s:
        assert s.scalar(select(ContactStage.stage).where(ContactStage.contact_id == c)) == "retention"
    assert jk.attribute(c, "welcomed") is True
    assert jk.attribute(c, "city") == "bj"
    changed = [p for cid, _, p in jk.events("stage.changed") if cid == c]
    assert [p["to"] for p in changed] == ["retention"]


def test_award_points_books_the_ledger_once_even_when_the_step_runs_again(jk) -> None:
    from siyu.loyalty.ledger import Ledger
    from siyu.loyalty.service import LoyaltyService
    from siyu.store.models import PointsEntry

    jk.journey([{"id": "points", "award_points": {"points": 50, "reason": "welcome"}}])
    member, stranger = jk.contact(), jk.contact()
    with jk.ctx.db.session() as s:
        LoyaltyService(s, now=T0).enrol(member, source="test")
    jk.enrol([member, stranger])
    jk.run(T0)
    enrolment, jid = jk.enrolment(member), jk.journey_id()
    with jk.ctx.db.session() as s:
        rows = s.execute(
            select(
                PointsEntry.contact_id, PointsEntry.points, PointsEntry.source, PointsEntry.external_id
            ).where(PointsEntry.kind == "award")
        ).all()
        assert rows == [(member, 50, "journey", f"journey:{jid}:{enrolment['id']}:points")]
        assert Ledger(s, now=T0).balance(member).active == 50
    # the non-member was skipped and went on: the journey finished for both
    assert {jk.enrolment(c)["status"] for c in (member, stranger)} == {"completed"}
    assert [cid for cid, _, _ in jk.events("Points Earned")] == [member]
    # A worker that died after booking but before saving the state runs the step again.
    with jk.ctx.db.session() as s:
        s.execute(
            update(JourneyEnrolment).values(status="active", step="points", due_at=T0, finished_at=None)
        )
    assert jk.run(at(minutes=1)).claimed == 2
    with jk.ctx.db.session() as s:
        assert Ledger(s, now=at(minutes=1)).balance(member).active == 50
    assert len(jk.events("Points Earned")) == 1


def test_exit_step_ends_the_journey(jk) -> None:
    jk.journey([{"id": "leave", "exit": True}, tag_step("never", "never")])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    e = jk.enrolment(c)
    assert (e["status"], e["step"], e["exit_reason"]) == ("completed", None, "end")
    assert jk.tags_of(c) == {}


# --- guards ---------------------------------------------------------------------------------------
def test_a_branch_loop_without_waits_is_parked_after_the_step_limit(jk) -> None:
    from siyu.journeys.engine import MAX_STEPS_PER_CLAIM

    jk.journey(
        [{"id": "spin", "branch": {"routes": [{"if": {"has_tag": "never"}, "next": "exit"}], "else": "spin"}}]
    )
    c = jk.contact()
    jk.enrol([c])
    stats = jk.run(T0)
    assert stats.steps == MAX_STEPS_PER_CLAIM == 50
    e = jk.enrolment(c)
    assert (e["status"], e["step"], e["due_at"]) == ("active", "spin", at(minutes=1))
    assert jk.run(at(seconds=59)).claimed == 0
    assert jk.run(at(minutes=1)).steps == 50
    assert Counter(o for _, _, o in jk.runs()) == {"entered": 100, "route:else": 100}


def test_a_paused_journey_runs_nothing_until_started_again(jk) -> None:
    jk.journey([tag_step("hello", "hello")])
    c = jk.contact()
    jk.enrol([c])
    jk.pause()
    assert jk.run(T0).claimed == 0
    assert jk.runs() == [] and jk.tags_of(c) == {}
    jk.resume()
    assert jk.run(T0).claimed == 1
    assert jk.tags_of(c) == {"hello": "journey"}


def test_an_edited_journey_without_the_current_step_exits_the_enrolment(jk) -> None:
    doc = {"key": "j", "name": "j", "trigger": {"list": True}}
    jk.journey([{"id": "pause", "wait": "1h"}, tag_step("after", "after")])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.pause()
    jk.update({**doc, "steps": [tag_step("after", "after")]})
    jk.resume()
    jk.run(at(hours=1))
    e = jk.enrolment(c)
    assert (e["status"], e["exit_reason"]) == ("exited", "step_removed")
    assert jk.outcomes(c)[-1] == ("pause", "failed")
    assert jk.tags_of(c) == {}


def test_an_edit_that_keeps_the_step_lets_the_enrolment_go_on_with_the_new_version(jk) -> None:
    doc = {"key": "j", "name": "j", "trigger": {"list": True}}
    jk.journey([{"id": "pause", "wait": "1h"}, tag_step("after", "v1")])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.pause()
    jk.update({**doc, "steps": [{"id": "pause", "wait": "1h"}, tag_step("after", "v2")]})
    jk.resume()
    jk.run(at(hours=1))
    assert jk.tags_of(c) == {"v2": "journey"}


@pytest.mark.postgresql_only("SQLite has one writer at a time: a second claim waits for the first")
def test_concurrent_claims_on_postgresql_never_share_an_enrolment(jk) -> None:
    from siyu.journeys.engine import Engine

    jk.journey([{"id": "pause", "wait": "1h"}])  # touches nothing the two claims could share
    a, b = jk.contact(), jk.contact()
    jk.enrol([a, b])
    first, second = jk.ctx.db.sessionmaker(), jk.ctx.db.sessionmaker()
    try:
        one = Engine(first, jk.ctx.keyring, jk.config()).run_due(1, now=T0)
        other = Engine(second, jk.ctx.keyring, jk.config()).run_due(10, now=T0)  # skips the locked row
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert (one.claimed, other.claimed) == (1, 1)
    assert Counter(c for c, _, o in jk.runs() if o == "entered") == {a: 1, b: 1}
    assert [(e["step"], e["due_at"]) for e in jk.enrolments()] == [("pause", at(hours=1))] * 2


def test_wait_for_event_after_the_deadline_is_a_timeout_even_when_the_engine_is_late(jk) -> None:
    jk.journey(WAIT_FOR)
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.track(c, "order.paid", at(days=1, hours=1), amount=150)  # an hour after the deadline
    jk.follow(at(days=1, hours=1, seconds=10))
    jk.run(at(days=1, hours=1, seconds=10))  # the first claim since the deadline
    assert jk.tags_of(c) == {"j/nudge": "journey"}
