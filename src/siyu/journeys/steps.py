"""Step handlers (one per action). Each gets every enrolment of a batch standing at the step and
returns those that go on now with their next step; the rest it parks or finishes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService
from siyu.journeys.conditions import Subject, evaluate
from siyu.journeys.engine import Enrolment, Handler, Run
from siyu.journeys.facts import time_zones
from siyu.journeys.policy import day_at
from siyu.journeys.schemas import EXIT, JourneySpec, Step
from siyu.journeys.sends import send, webhook, wecom_tags
from siyu.stages.service import StageService
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, Event, LoyaltyMember
from siyu.tags.rules import property_matches
from siyu.tags.service import TagService

Go = list[tuple[Enrolment, str]]


def _onward(spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    nxt = spec.following(step.id)
    return [(e, nxt) for e in group]


def _resumed(step: Step, group: list[Enrolment]) -> tuple[list[Enrolment], list[Enrolment]]:
    """Split a waiting step's group into enrolments whose wait is over (they stood at the step,
    parked there so the report counts them as waiting at it) and new arrivals."""
    done = [e for e in group if e.data.get("waited") == step.id]
    for e in done:
        e.data.pop("waited", None)
    return done, [e for e in group if e not in done]


def _park(e: Enrolment, step: Step, due: datetime) -> None:
    e.step, e.due_at, e.data["waited"] = step.id, due, step.id


def wait(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.wait is not None
    done, arriving = _resumed(step, group)
    due = run.now + timedelta(seconds=step.wait)
    for e in arriving:
        _park(e, step, due)
    return _onward(spec, step, done)


def wait_until(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """Day N after entry at HH:MM local; a time already past goes on at once."""
    assert step.wait_until is not None
    done, arriving = _resumed(step, group)
    out = _onward(spec, step, done)
    zones = time_zones(run.session, [e.contact_id for e in arriving], run.config.default_timezone)
    nxt = spec.following(step.id)
    for e in arriving:
        due = day_at(e.entered_at, step.wait_until.day, step.wait_until.at, zones[e.contact_id])
        if due <= run.now:
            out.append((e, nxt))
        else:
            _park(e, step, due)
    return out


def wait_for(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """Arrival: park until the timeout, listening for the event (the trigger follower wakes
    the enrolment early when it sees one). Resume: look the event up since arrival."""
    wf = step.wait_for
    assert wf is not None
    arriving = [e for e in group if e.data.get("wait_step") != step.id]
    for e in arriving:
        e.data["wait_step"], e.data["wait_since"] = step.id, run.now.isoformat()
        e.data["wait_until"] = (run.now + timedelta(seconds=wf.timeout)).isoformat()
        e.step, e.wait_event = step.id, wf.event
        e.due_at = run.now + timedelta(seconds=wf.timeout)
        run.record(e, step.id, "waiting")
    resuming = [e for e in group if e.data.get("wait_step") == step.id and e not in arriving]
    if not resuming:
        return []
    since = min(datetime.fromisoformat(e.data["wait_since"]) for e in resuming)
    seen: dict[int, list[tuple[datetime, dict[str, Any]]]] = {}
    for ch in chunked(sorted({e.contact_id for e in resuming})):
        for cid, received, props in run.session.execute(
            select(Event.contact_id, Event.received_at, Event.properties).where(
                Event.contact_id.in_(ch), Event.event == wf.event, Event.received_at >= since
            )
        ):
            if all(property_matches(f, props) for f in wf.where):
                seen.setdefault(cid, []).append((received, props))
    out: Go = []
    for e in resuming:
        arrived = datetime.fromisoformat(e.data["wait_since"])
        deadline = datetime.fromisoformat(e.data["wait_until"])
        # an event that came after the deadline does not count, however late this run is
        hit = any(arrived <= r <= deadline for r, _ in seen.get(e.contact_id, ()))
        if not hit and run.now < deadline:  # woken by a non-matching event: keep waiting
            e.step, e.wait_event, e.due_at = step.id, wf.event, deadline
            continue
        for k in ("wait_step", "wait_since", "wait_until"):
            e.data.pop(k, None)
        run.record(e, step.id, "event" if hit else "timeout")
        target = (wf.on_event if hit else wf.on_timeout) or spec.following(step.id)
        out.append((e, target))
    return out


def branch(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.branch is not None
    left = list(group)
    out: Go = []
    for i, route in enumerate(step.branch.routes):
        if not left:
            break
        subjects = [Subject(e.id, e.contact_id, e.entered_at) for e in left]
        hit = evaluate(run.session, route.when, subjects, run.now)
        for e in left:
            if e.id in hit:
                run.record(e, step.id, f"route:{i}")
                out.append((e, route.next))
        left = [e for e in left if e.id not in hit]
    for e in left:
        run.record(e, step.id, "route:else")
        out.append((e, step.branch.otherwise))
    return out


def pick_variant(journey_id: int, step_id: str, contact_id: int, weights: list[float]) -> int:
    """Deterministic: the same contact lands in the same variant on re-entry as long as the
    split's weights are unchanged (a hash, not stored state)."""
    digest = hashlib.sha256(f"{journey_id}:{step_id}:{contact_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if point < acc:
            return i
    return len(weights) - 1


def split(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.split is not None
    weights = [v.weight for v in step.split.variants]
    out: Go = []
    for e in group:
        v = step.split.variants[pick_variant(e.journey_id, step.id, e.contact_id, weights)]
        e.variants[step.id] = v.name
        run.record(e, step.id, "variant")
        out.append((e, v.next))
    return out


def add_tag(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    tags = TagService(run.session)
    if step.add_tag:
        tags.apply(step.add_tag, [e.contact_id for e in group], source="journey", create=True, at=run.now)
    else:
        assert step.remove_tag is not None
        if tags.repo.tag(step.remove_tag) is not None:
            tags.remove(step.remove_tag, [e.contact_id for e in group], source="journey", at=run.now)
    return _onward(spec, step, group)


def set_stage(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.set_stage is not None
    stages = StageService(run.session, None)
    for e in group:
        stages.set_stage(e.contact_id, step.set_stage, f"journey {spec.key}", actor=f"journey:{spec.key}")
    return _onward(spec, step, group)


def set_attribute(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.set_attribute is not None
    ids = [e.contact_id for e in group]
    for name, value in step.set_attribute.items():
        existing = set()
        for ch in chunked(ids):
            existing.update(
                run.session.scalars(
                    select(ContactAttribute.contact_id).where(
                        ContactAttribute.name == name, ContactAttribute.contact_id.in_(ch)
                    )
                )
            )
        for cid in ids:
            if cid in existing:
                row = run.session.get(ContactAttribute, (cid, name))
                assert row is not None
                row.value, row.updated_at = value, run.now
            else:
                run.session.add(ContactAttribute(contact_id=cid, name=name, value=value, updated_at=run.now))
    run.session.flush()
    note_changed(run.session, ids)
    return _onward(spec, step, group)


def award_points(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """Book the points in the ledger (source ``journey``) with the external id
    ``journey:<journey id>:<enrolment id>:<step id>``, so a step run again after a crash, or a
    re-entry, awards nothing twice. Only members earn: a contact without a card is *skipped*
    (enrolling them here would record a consent they never gave) and goes on with the journey;
    ``Points Earned`` is the ledger's event for those who did earn."""
    from siyu.loyalty.ledger import Ledger  # journeys sit above loyalty; loaded when a step awards

    p = step.award_points
    assert p is not None
    ids = [e.contact_id for e in group]
    members: set[int] = set()
    for ch in chunked(ids):
        members.update(
            run.session.scalars(
                select(LoyaltyMember.contact_id).where(
                    LoyaltyMember.contact_id.in_(ch), LoyaltyMember.status == "active"
                )
            )
        )
    ledger = Ledger(run.session, now=run.now, tz=run.config.default_timezone)
    for e in sorted(group, key=lambda x: x.contact_id):  # ascending: the ledger's lock order
        if e.contact_id not in members:
            continue
        ledger.award(
            e.contact_id,
            p.points,
            source="journey",
            reason=p.reason,
            external_id=f"journey:{e.journey_id}:{e.id}:{step.id}",
            actor=f"journey:{spec.key}",
        )
    return _onward(spec, step, group)


def issue_coupon(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """A coupon each, idempotent per enrolment and step (a re-run of the step issues nothing
    twice). Held-out contacts, and contacts past the template's issue limit, go on without one;
    so does everyone when the template is paused or gone (the reason is kept on the enrolment)."""
    p = step.issue_coupon
    assert p is not None
    ids = {e.contact_id: f"journey:{e.journey_id}:{e.id}:{step.id}" for e in group}
    try:
        got = CouponService(run.session, now=run.now).issue_many(
            p.template, list(ids), issued_by=f"journey:{spec.key}", external_prefix="", external_ids=ids
        )
    except CouponError as exc:
        got = {}
        for e in group:
            e.data["coupon_error"] = exc.code
    for e in group:
        coupon = got.get(e.contact_id)
        if coupon is not None:
            expires = coupon.expires_at.isoformat() if coupon.expires_at else None
            e.data["coupon"] = {"code": coupon.code, "expires_at": expires}
    return _onward(spec, step, group)


def exit_step(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    return [(e, EXIT) for e in group]


HANDLERS: dict[str, Handler] = {
    "wait": wait,
    "wait_until": wait_until,
    "wait_for": wait_for,
    "branch": branch,
    "split": split,
    "send": send,
    "webhook": webhook,
    "wecom_tags": wecom_tags,
    "add_tag": add_tag,
    "remove_tag": add_tag,
    "set_stage": set_stage,
    "set_attribute": set_attribute,
    "award_points": award_points,
    "issue_coupon": issue_coupon,
    "exit": exit_step,
}
