"""The 360° profile's pieces: events and journey messages merged newest first, enrolments
(active first), and profile_360 bringing tags, stage and RFM together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.profiles import search, timeline
from siyu.store.models import ContactRfm, Journey, JourneyEnrolment, OutboxMessage

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_timeline_merges_events_and_messages(ctx: AppContext) -> None:
    client = Siyu(ctx)
    for i in range(3):
        client.track("Viewed", {"customer_no": "C1"}, {"i": i}, timestamp=T0 + timedelta(hours=2 * i))
    cid = client.contact("customer_no:C1")["id"]
    with ctx.db.session() as s:
        j1 = Journey(key="welcome", name="欢迎旅程", status="active", definition={})
        j2 = Journey(key="winback", name="召回", status="active", definition={})
        s.add_all([j1, j2])
        s.flush()
        s.add_all(
            [
                JourneyEnrolment(
                    journey_id=j1.id,
                    contact_id=cid,
                    trigger_key="t1",
                    status="completed",
                    entered_at=T0 + timedelta(days=1),
                ),
                JourneyEnrolment(
                    journey_id=j2.id,
                    contact_id=cid,
                    trigger_key="t2",
                    status="active",
                    step="wait-3d",
                    entered_at=T0,
                ),
                OutboxMessage(
                    key="welcome:1",
                    journey_id=j1.id,
                    contact_id=cid,
                    step="send",
                    channel="sms",
                    content={},
                    status="sent",
                    local_day="2025-03-01",
                    local_week="2025-W09",
                    created_at=T0 + timedelta(hours=3),
                ),
            ]
        )
        s.add(
            ContactRfm(
                contact_id=cid,
                recency_days=3,
                frequency=2,
                monetary=88.5,
                r=5,
                f=3,
                m=2,
                segment="champions",
                computed_at=T0,
            )
        )
    with ctx.db.session() as s:
        items = timeline.timeline(s, cid, limit=3)
        assert [(i["kind"], i["at"]) for i in items] == [
            ("event", T0 + timedelta(hours=4)),
            ("message", T0 + timedelta(hours=3)),
            ("event", T0 + timedelta(hours=2)),
        ]
        assert items[1]["journey"] == "welcome" and items[1]["status"] == "sent"
        assert [(e["journey"], e["status"], e["step"]) for e in timeline.enrolments(s, cid)] == [
            ("winback", "active", "wait-3d"),
            ("welcome", "completed", None),
        ]
    client.tags.apply("VIP", [cid], create=True)
    with ctx.db.session() as s:
        full = timeline.profile_360(s, ctx.profiles(s), cid)
        assert [t["key"] for t in full["tags"]] == ["VIP"]
        assert full["rfm"]["segment"] == "champions" and full["rfm"]["r"] == 5
        # tagging raises a tag.added event: it is part of the contact's history too
        assert full["stage"] is None and full["event_count"] == 4
        assert full["timeline"][0]["name"] == "tag.added"
        assert len(full["timeline"]) == 5 and len(full["enrolments"]) == 2


def test_search_cases(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.identify({"phone": "13800138000", "wechat_openid": "wxapp:o_open1"}, traits={"name": "Zhang_San"})
    client.identify({"customer_no": "42"}, traits={"nickname": "ZhangXX"})
    a = client.contact("13800138000")["id"]
    b = client.contact("customer_no:42")["id"]
    with ctx.db.session() as s:
        p = ctx.profiles(s)

        def ids(q: str) -> list[int]:
            return search.search_contacts(s, p, ctx.parser, q).ids

        assert ids("zhang_") == [a]  # "_" is literal, not a wildcard
        assert sorted(ids("zhang")) == sorted([a, b])
        assert ids("openid:wxapp:o_open1") == [a]
        assert ids("id:abc") == [] and ids("customer_no:nope") == []
        assert set(ids("42")) == {b} | ({42} & {a, b})  # the customer_no, and contact 42 if it exists
        rows = search.contact_rows(s, p, [a])
        assert rows[0]["name"] == "Zhang_San"
        assert {i["value"] for i in rows[0]["identifiers"]} == {"138****8000", "o_open1"}
        found = search.search_contacts(s, p, ctx.parser, "", limit=1)
        assert (found.how, found.total, found.ids) == ("recent", 2, [b])
