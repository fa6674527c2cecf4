"""The journey report (src/siyu/journeys/report.py) after a small scripted run: eight contacts
through an A/B split, a first message, a day's wait with a goal, and a capped last message.
Every expected number is counted by hand from what the script did to each contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # = jk.T0


def sms(step_id: str, nxt: str | None = None) -> dict[str, Any]:
    return {"id": step_id, "send": {"channel": "sms", "template": "hello"}, **({"next": nxt} if nxt else {})}


STEPS = [
    {
        "id": "ab",
        "split": {
            "variants": [
                {"name": "a", "weight": 1, "next": "send-a"},
                {"name": "b", "weight": 1, "next": "send-b"},
            ]
        },
    },
    sms("send-a", "pause"),
    sms("send-b", "pause"),
    {"id": "pause", "wait": "1d"},
    sms("bye"),
]


@pytest.fixture
def scripted(jk) -> dict[str, Any]:
    """c1–c6 reachable, c7 has no phone, c8 withdrew marketing consent. After the first send:
    c1 delivered, c2–c4 sent, c5 failed, c6 still pending; c1 and c2 clicked; c1 paid (the
    goal) during the wait. The last message is capped at one per week: only c5 (whose first
    message failed) and nobody else reachable gets it."""
    jk.template()
    jk.journey(
        STEPS,
        goal={"event": "order.paid"},
        caps=[{"channel": "any", "per": "week", "max": 1}],
        quiet_hours={"enabled": False},
    )
    c = {f"c{i}": jk.contact() for i in range(1, 7)}
    c["c7"] = jk.contact(phone=False)
    c["c8"] = jk.contact()
    jk.consent(c["c8"], False)
    jk.enrol(list(c.values()))
    jk.run(T0)
    waiting_after_first_run = jk.step_report("pause")["waiting"]
    rows = {r["contact"]: r["id"] for r in jk.outbox()}
    jk.set_outbox([rows[c["c1"]]], status="delivered", sent_at=T0, delivered_at=T0)
    jk.set_outbox([rows[c[k]] for k in ("c2", "c3", "c4")], status="sent", sent_at=T0)
    jk.set_outbox([rows[c["c5"]]], status="failed")
    jk.set_outbox([rows[c["c1"]], rows[c["c2"]]], clicked_at=T0 + timedelta(minutes=5))
    jk.track(c["c1"], "order.paid", T0 + timedelta(hours=1))
    jk.follow(T0 + timedelta(hours=1, seconds=10))
    jk.run(T0 + timedelta(days=1))
    variant = {e["contact"]: e["variants"]["ab"] for e in jk.enrolments()}
    assert set(variant.values()) == {"a", "b"}, "the script needs both variants"
    return {"c": c, "variant": {k: variant[cid] for k, cid in c.items()}, "waiting": waiting_after_first_run}


def of(scripted: dict[str, Any], variant: str, names: list[str]) -> int:
    return sum(1 for n in names if scripted["variant"][n] == variant)


ALL = [f"c{i}" for i in range(1, 9)]


def test_totals(jk, scripted) -> None:
    report = jk.report()
    assert {
        k: report[k] for k in ("enrolled", "active", "completed", "exited", "converted", "conversion_rate")
    } == {
        "enrolled": 8,
        "active": 0,
        "completed": 7,
        "exited": 0,
        "converted": 1,
        "conversion_rate": 0.125,
    }
    assert scripted["waiting"] == 8


@pytest.mark.parametrize("variant", ["a", "b"])
def test_first_message_counts_per_step(jk, scripted, variant: str) -> None:
    item = jk.step_report(f"send-{variant}")
    n = lambda names: of(scripted, variant, names)  # noqa: E731
    assert item["channel"] == "sms"
    assert {
        k: item[k] for k in ("entered", "queued", "sent", "delivered", "clicked", "failed", "pending")
    } == {
        "entered": n(ALL),
        "queued": n(["c1", "c2", "c3", "c4", "c5", "c6"]),
        "sent": n(["c1", "c2", "c3", "c4"]),
        "delivered": n(["c1"]),
        "clicked": n(["c1", "c2"]),
        "failed": n(["c5"]),
        "pending": n(["c6"]),
    }
    assert (item["skipped_no_address"], item["skipped_consent"]) == (n(["c7"]), n(["c8"]))
    assert item["skipped_cap"] == item["held_quiet"] == item["converted"] == 0


def test_wait_and_last_message_counts(jk, scripted) -> None:
    pause = jk.step_report("pause")
    assert (pause["entered"], pause["converted"], pause["waiting"]) == (8, 1, 0)
    bye = jk.step_report("bye")
    assert {
        k: bye[k]
        for k in (
            "entered",
            "queued",
            "skipped_cap",
            "skipped_no_address",
            "skipped_consent",
            "sent",
            "pending",
        )
    } == {
        "entered": 7,  # c1 converted during the wait
        "queued": 1,  # c5: its failed first message does not count toward the cap
        "skipped_cap": 4,  # c2, c3, c4 (sent) and c6 (pending) had their one message this week
        "skipped_no_address": 1,
        "skipped_consent": 1,
        "sent": 0,
        "pending": 1,
    }
    split = jk.step_report("ab")
    assert (split["entered"], split["action"]) == (8, "split")


def test_variant_sends_and_clicks(jk, scripted) -> None:
    got = {v["variant"]: (v["split"], v["sent"], v["clicked"]) for v in jk.report()["variants"]}
    assert got == {
        v: ("ab", of(scripted, v, ["c1", "c2", "c3", "c4"]), of(scripted, v, ["c1", "c2"]))
        for v in ("a", "b")
    }


def test_variant_entered_counts_contacts_assigned(jk, scripted) -> None:
    entered = {v["variant"]: v["entered"] for v in jk.report()["variants"]}
    assigned = {v: of(scripted, v, ALL) for v in ("a", "b")}
    assert entered == assigned
    assert jk.step_report("ab")["variants"] == assigned


def test_variant_conversions(jk, scripted) -> None:
    converted = {v["variant"]: v["converted"] for v in jk.report()["variants"]}
    assert converted == {v: of(scripted, v, ["c1"]) for v in ("a", "b")}


def test_branch_routes_and_wait_for_outcomes_are_reported(jk) -> None:
    steps = [
        {
            "id": "route",
            "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "listen"}], "else": "exit"},
        },
        {"id": "listen", "wait_for": {"event": "visit", "timeout": "1h"}},
    ]
    jk.journey(steps)
    vips = [jk.contact() for _ in range(3)]
    others = [jk.contact() for _ in range(2)]
    jk.tag("vip", vips, T0)
    jk.enrol(vips + others)
    jk.run(T0)
    jk.track(vips[0], "visit", T0 + timedelta(minutes=10))
    jk.follow(T0 + timedelta(minutes=10, seconds=10))
    jk.run(T0 + timedelta(minutes=10, seconds=10))
    assert jk.step_report("listen")["waiting"] == 2
    jk.run(T0 + timedelta(hours=1))
    route, listen = jk.step_report("route"), jk.step_report("listen")
    assert route["routes"] == {"route:0": 3, "route:else": 2}
    assert (listen["entered"], listen["event"], listen["timeout"], listen["waiting"]) == (3, 1, 2, 0)


def test_split_report_carries_the_ab_test(jk, scripted) -> None:
    """The split's conversion test: variant b against a, with the sample-ratio check against
    the split's 1:1 weights (docs/analytics/experiments.md has the statistics)."""
    from scipy import stats

    (exp,) = jk.report()["experiments"]
    assert exp["split"] == "ab" and exp["control"] == "a"
    n = {v: of(scripted, v, ALL) for v in ("a", "b")}
    x = {v: of(scripted, v, ["c1"]) for v in ("a", "b")}
    assert [(v["name"], v["n"], v["conversions"]) for v in exp["variants"]] == [
        (v, n[v], x[v]) for v in ("a", "b")
    ]
    # SRM: chi-square goodness of fit of the assignment counts against 1:1
    expected_srm = stats.chisquare([n["a"], n["b"]]).pvalue
    assert abs(exp["srm_p_value"] - expected_srm) < 1e-9
