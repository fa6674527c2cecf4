"""Each retention policy removes exactly what it should and nothing else; running twice is
harmless; a dry run changes nothing; the warehouse loses the same rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.audit import chain
from siyu.consent.service import ConsentService
from siyu.context import AppContext
from siyu.retention.runner import is_due, run_retention
from siyu.retention.service import RetentionError, RetentionService
from siyu.store.models import AuditEntry, Contact, ContactTag, Identity, OutboxMessage, WarehouseErasure
from siyu.store.settings import put_setting
from siyu.warehouse.store import Warehouse

from .conftest import NOW, add_audit, add_outbox, backdate_contact, contact_id, days_ago, events_of


def set_policies(ctx: AppContext, **policies: Any) -> None:
    base: dict[str, Any] = {"outbox_body_days": None}
    with ctx.db.session() as s:
        RetentionService(s).set_policies({**base, **policies}, actor="test")


def test_defaults_keep_everything_but_delivered_bodies(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        policies = RetentionService(s).policies()
    assert policies.dump() == {
        "events": [],
        "inactive_contacts_years": None,
        "outbox_body_days": 180,
        "audit_years": None,
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"events": [{"event": "A", "days": 30}, {"event": "B", "days": 0}]}, "events[1].days"),
        ({"events": [{"event": "A", "days": 30}, {"event": "A", "days": 9}]}, "events"),
        ({"events": [{"event": "  ", "days": 3}]}, "events[0].event"),
        ({"inactive_contacts_years": -1}, "inactive_contacts_years"),
        ({"outbox_body_days": "soon"}, "outbox_body_days"),
        ({"audit_years": 10**9}, "audit_years"),
        ({"audit_yeers": 3}, "audit_yeers"),
        ({"events": {"event": "A"}}, "events"),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(ctx: AppContext, data: Any, field: str) -> None:
    with ctx.db.session() as s:
        with pytest.raises(RetentionError) as info:
            RetentionService(s).set_policies(data, actor="test")
        assert info.value.field == field
        assert RetentionService(s).policies().outbox_body_days == 180  # unchanged


def test_event_rules_remove_old_events_of_their_name_only(
    ctx: AppContext, track: Callable[..., None]
) -> None:
    track("C1", "Page Viewed", 100, "pv-old")
    track("C1", "Page Viewed", 10, "pv-new")
    track("C1", "Order Completed", 400, "oc-old")
    track("C1", "Order Completed", 100, "oc-mid")
    track("C2", "Coupon Claimed", 400, "cc-old")
    track("C2", "Coupon Claimed", 5, "cc-new")  # the newest id: never deleted anyway
    set_policies(
        ctx,
        events=[
            {"event": "*", "days": 365},
            {"event": "Page Viewed", "days": 30},
            {"event": "Order Completed", "days": 3650},
        ],
    )
    preview = run_retention(ctx.db, NOW, dry_run=True)
    assert preview.removed["events"] == {"Page Viewed": 1, "Order Completed": 0, "*": 1}
    assert {m for m, _, _ in events_of(ctx)} >= {"pv-old", "oc-old", "cc-old"}  # dry run: nothing gone

    run = run_retention(ctx.db, NOW)
    assert run.removed["events"] == preview.removed["events"]
    kept = {m for m, _, _ in events_of(ctx)}
    assert {"pv-new", "oc-old", "oc-mid", "cc-new"} <= kept  # orders have their own, longer rule
    assert not {"pv-old", "cc-old"} & kept

    again = run_retention(ctx.db, NOW)
    assert again.removed["events"] == {"Page Viewed": 0, "Order Completed": 0, "*": 0}
    assert {m for m, _, _ in events_of(ctx)} == kept


def test_the_newest_event_is_kept_so_its_id_is_never_handed_out_again(
    ctx: AppContext, track: Callable[..., None]
) -> None:
    track("C1", "Old", 500, "a")
    track("C1", "Old", 500, "b")
    set_policies(ctx, events=[{"event": "*", "days": 1}])
    assert run_retention(ctx.db, NOW).removed["events"] == {"*": 1}
    assert [m for m, _, _ in events_of(ctx)][-1] == "b"


def test_deleted_events_leave_the_warehouse_too(ctx: AppContext, track: Callable[..., None]) -> None:
    for i in range(5):
        track("C1", "Page Viewed", 100 + i, f"pv-{i}")
        track("C2", "Order Completed", 100 + i, f"oc-{i}")
    track("C3", "Page Viewed", 1, "pv-new")
    path = ctx.settings.resolved_warehouse_path
    with Warehouse(path) as wh:
        wh.feed(ctx.db)  # shipped before retention ran
    # Page views go after 30 days; every other event after 102 (oc-3 and oc-4, not oc-0…2)
    set_policies(ctx, events=[{"event": "Page Viewed", "days": 30}, {"event": "*", "days": 102}])
    assert run_retention(ctx.db, NOW).removed["events"] == {"Page Viewed": 5, "*": 2}
    track("C4", "Page Viewed", 200, "pv-late")  # arrives after the run: kept until the next one
    with Warehouse(path) as wh:
        result = wh.feed(ctx.db)
        shipped = wh.conn.execute("SELECT message_id FROM events ORDER BY id").fetchall()
    assert result.removals == 2
    assert [m for (m,) in shipped] == [m for m, _, _ in events_of(ctx)]
    assert {"pv-late", "oc-0", "oc-2", "pv-new"} <= {m for (m,) in shipped}
    assert not {"pv-0", "pv-4", "oc-3", "oc-4"} & {m for (m,) in shipped}
    with Warehouse(path) as wh:  # a rebuild from the system of record agrees
        wh.rebuild(ctx.db)
        rebuilt = wh.conn.execute("SELECT message_id FROM events ORDER BY id").fetchall()
    assert rebuilt == shipped


def test_inactive_contacts_are_deleted_completely_and_active_ones_kept(
    ctx: AppContext, client: Any, track: Callable[..., None]
) -> None:
    track("OLD", "Order Completed", 1500, "old-1")
    track("ACTIVE", "Order Completed", 1500, "active-1")
    track("ACTIVE", "Page Viewed", 20, "active-2")
    track("MESSAGED", "Order Completed", 1500, "messaged-1")
    track("ABSORBED", "Page Viewed", 1500, "absorbed-1")
    track("NEWEST", "Page Viewed", 1500, "newest-1")
    old, active, messaged = contact_id(ctx, "OLD"), contact_id(ctx, "ACTIVE"), contact_id(ctx, "MESSAGED")
    absorbed, newest = contact_id(ctx, "ABSORBED"), contact_id(ctx, "NEWEST")
    # being sent a message is not activity; the absorbed contact was merged into OLD long ago
    client.batch([{"type": "track", "event": "message.sent", "identifiers": {"customer_no": "MESSAGED"}}])
    with ctx.db.session() as s:
        ctx.profiles(s).merge(old, absorbed, "same person", actor="test")
        ConsentService(s).record(old, "marketing", "sms", True, "test")
    client.tags.create("vip")
    client.tags.apply("vip", [f"id:{old}", f"id:{active}"])
    for cid in (old, active, messaged, absorbed, newest):
        backdate_contact(ctx, cid, 1500)
    add_outbox(ctx, old, "m-old", "delivered", 1400)
    set_policies(ctx, inactive_contacts_years=3)

    assert run_retention(ctx.db, NOW, dry_run=True).removed["inactive_contacts"] == 2
    assert run_retention(ctx.db, NOW).removed["inactive_contacts"] == 3  # OLD, MESSAGED and ABSORBED
    with ctx.db.session() as s:
        left = set(s.scalars(select(Contact.id)))
        owners = set(s.scalars(select(Identity.contact_id)))
        tagged = set(s.scalars(select(ContactTag.contact_id)))
        outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
        erasure = s.scalars(select(WarehouseErasure)).one()  # the warehouse's queue
    assert left == {active, newest} == owners
    assert tagged == {active}
    assert outbox == 0
    assert {c for _, c, _ in events_of(ctx)} == {active, newest}
    assert sorted(erasure.erased_ids) == sorted([old, messaged, absorbed])
    assert run_retention(ctx.db, NOW).removed["inactive_contacts"] == 0


def test_deleted_contacts_leave_the_warehouse(
    ctx: AppContext, client: Any, track: Callable[..., None]
) -> None:
    track("OLD", "Order Completed", 1500, "old-1")
    track("KEEP", "Order Completed", 3, "keep-1")
    old = contact_id(ctx, "OLD")
    client.tags.create("vip")
    client.tags.apply("vip", [f"id:{old}"])
    backdate_contact(ctx, old, 1500)
    path = ctx.settings.resolved_warehouse_path
    with Warehouse(path) as wh:
        wh.feed(ctx.db)
        assert wh.conn.execute("SELECT count(*) FROM contact_tags").fetchall() == [(1,)]
    set_policies(ctx, inactive_contacts_years=2)
    run_retention(ctx.db, NOW)
    with Warehouse(path) as wh:
        wh.feed(ctx.db)
        assert wh.conn.execute("SELECT count(*) FROM events WHERE contact_id = ?", [old]).fetchall() == [(0,)]
        assert wh.conn.execute("SELECT count(*) FROM contacts WHERE id = ?", [old]).fetchall() == [(0,)]
        assert wh.conn.execute("SELECT count(*) FROM contact_tags").fetchall() == [(0,)]
        assert wh.conn.execute("SELECT count(*) FROM events").fetchall() == [(1,)]


def test_delivered_bodies_are_blanked_and_their_rows_kept(
    ctx: AppContext, track: Callable[..., None]
) -> None:
    track("C1", "Page Viewed", 1, "x")
    cid = contact_id(ctx, "C1")
    add_outbox(ctx, cid, "delivered-old", "delivered", 200)
    add_outbox(ctx, cid, "delivered-new", "delivered", 10)
    add_outbox(ctx, cid, "sent-old", "sent", None)  # the provider never confirmed delivery
    add_outbox(ctx, cid, "pending", "pending", None)
    add_outbox(ctx, cid, "failed-old", "failed", None)
    set_policies(ctx, outbox_body_days=180)
    assert run_retention(ctx.db, NOW, dry_run=True).removed["outbox_bodies"] == 1
    assert run_retention(ctx.db, NOW).removed["outbox_bodies"] == 1
    with ctx.db.session() as s:
        rows = {m.key: m for m in s.scalars(select(OutboxMessage))}
    assert rows["delivered-old"].content == {} and rows["delivered-old"].content_removed_at is not None
    assert rows["delivered-old"].status == "delivered"  # the row stays: key, status, times
    for key in ("delivered-new", "sent-old", "pending", "failed-old"):
        assert rows[key].content == {"text": f"张三您好，您的券码 {key}"}
        assert rows[key].content_removed_at is None
    assert run_retention(ctx.db, NOW).removed["outbox_bodies"] == 0


def test_old_audit_entries_go_and_the_chain_still_verifies(ctx: AppContext) -> None:
    for i in range(4):
        add_audit(ctx, "old.thing", 900 - i, i=i)
    add_audit(ctx, "recent.thing", 30)
    set_policies(ctx, audit_years=2)  # itself audited, now
    assert run_retention(ctx.db, NOW, dry_run=True).removed["audit_entries"] == 4
    assert run_retention(ctx.db, NOW).removed["audit_entries"] == 4
    with ctx.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        result = chain.verify(s)
    assert actions[:2] == ["recent.thing", "retention.policies_set"]
    assert chain.CHECKPOINT_ACTION in actions and "retention.run" in actions
    assert result.ok, result.broken
    assert result.checkpoint is not None and result.checkpoint["seq"] == 4
    assert run_retention(ctx.db, NOW).removed["audit_entries"] == 0
    with ctx.db.session() as s:
        assert chain.verify(s).ok


def test_a_moved_checkpoint_is_reported(ctx: AppContext) -> None:
    for i in range(4):
        add_audit(ctx, "old.thing", 900 - i, i=i)
    add_audit(ctx, "recent.thing", 30)
    set_policies(ctx, audit_years=2)
    run_retention(ctx.db, NOW)
    with ctx.db.session() as s:  # someone hides the first kept entry by moving the checkpoint
        first = s.scalars(select(AuditEntry).order_by(AuditEntry.seq).limit(1)).one()
        put_setting(s, chain.CHECKPOINT_SETTING, {"seq": first.seq, "hash": first.hash})
        s.delete(first)
    with ctx.db.session() as s:
        broken = chain.verify(s).broken
    assert broken is not None and broken.problem == "checkpoint"


def test_policies_that_are_off_remove_nothing(ctx: AppContext, track: Callable[..., None]) -> None:
    track("C1", "Page Viewed", 5000, "ancient")
    track("C1", "Page Viewed", 1, "new")
    cid = contact_id(ctx, "C1")
    backdate_contact(ctx, cid, 5000)
    add_outbox(ctx, cid, "m", "delivered", 5000)
    add_audit(ctx, "ancient", 5000)
    set_policies(ctx)
    run = run_retention(ctx.db, NOW)
    assert run.off == ["events", "inactive_contacts", "outbox_bodies", "audit_entries"]
    assert run.removed == {"events": {}, "inactive_contacts": 0, "outbox_bodies": 0, "audit_entries": 0}
    assert len(events_of(ctx)) == 2


def test_the_last_run_is_kept_and_decides_when_the_next_is_due(ctx: AppContext) -> None:
    assert is_due(ctx.db, 3600, NOW)
    run = run_retention(ctx.db, NOW)
    with ctx.db.session() as s:
        last = RetentionService(s).last_run()
    assert last is not None and last["removed"] == run.removed and last["dry_run"] is False
    assert not is_due(ctx.db, 3600, NOW)
    assert is_due(ctx.db, 3600, days_ago(-1))
    run_retention(ctx.db, NOW, dry_run=True)  # a dry run is not a run
    with ctx.db.session() as s:
        assert RetentionService(s).last_run() == last


def test_two_runs_at_once_remove_each_row_once(ctx: AppContext, track: Callable[..., None]) -> None:
    """Two server processes (or a CLI run during the background round) running at once."""
    for i in range(6):
        track(f"C{i}", "Page Viewed", 100, f"pv-{i}")
    for i in range(3):
        track(f"GONE{i}", "Order Completed", 1500, f"gone-{i}")
        backdate_contact(ctx, contact_id(ctx, f"GONE{i}"), 1500)
        add_outbox(ctx, contact_id(ctx, "C0"), f"m-{i}", "delivered", 400)
    track("NEW", "Page Viewed", 1, "pv-new")  # the newest event and contact
    for i in range(5):
        add_audit(ctx, "old.thing", 900 - i, i=i)
    set_policies(
        ctx,
        events=[{"event": "Page Viewed", "days": 30}],
        outbox_body_days=180,
        audit_years=2,
        inactive_contacts_years=3,
    )
    runs: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            runs.append(run_retention(ctx.db, NOW))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and all(r.errors == [] for r in runs)
    assert sum(r.removed["events"]["Page Viewed"] for r in runs) == 6
    assert sum(r.removed["outbox_bodies"] for r in runs) == 3
    assert sum(r.removed["audit_entries"] for r in runs) == 5
    assert sum(r.removed["inactive_contacts"] for r in runs) == 3
    assert [m for m, _, _ in events_of(ctx)] == ["pv-new"]
    with ctx.db.session() as s:
        assert chain.verify(s).ok
