"""The send step: consent, address, quiet hours and frequency caps are checked for the whole
group at the moment the step runs; what passes is rendered and written to the outbox in the
same transaction as the enrolment moving on. The outbox dispatcher sends it later with the
row's idempotency key (``journey:contact:enrolment:step``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from siyu.content.links import LinkMaker, flush_links, link_secret
from siyu.content.loyalty_variables import coupon_view
from siyu.content.render import render
from siyu.content.service import ContentNotFound, ContentService
from siyu.content.variables import contact_variables
from siyu.journeys.engine import EngineConfig, Enrolment, Run
from siyu.journeys.facts import ADDRESS, CONSENT_CHANNEL, cap_counts, consent_decisions, reachable, time_zones
from siyu.journeys.policy import cap_windows, local_keys, quiet_until, wecom_monthly_cap
from siyu.journeys.schemas import Cap, JourneySpec, QuietHours, Send, Step
from siyu.store.dialect import insert_ignore
from siyu.store.locks import try_xact_locks_for, xact_locks_for
from siyu.store.models import OutboxMessage

Go = list[tuple[Enrolment, str]]


def message_key(e: Enrolment, step_id: str) -> str:
    """``journey:contact:enrolment:step`` — with ``#n`` for the n-th pass when a branch loops
    back to the step (the pass count lives in the enrolment's data, so a step run again after
    a crash gets the same key)."""
    visit = int(e.data.get("visits", {}).get(step_id, 1))
    base = f"{e.journey_id}:{e.contact_id}:{e.id}:{step_id}"
    return base if visit <= 1 else f"{base}#{visit}"


def send_of(step: Step) -> Send | None:
    """The message a step sends, if it sends one: a ``send`` step's own, or the system call a
    ``webhook`` or ``wecom_tags`` step makes through the outbox."""
    if step.send is not None:
        return step.send
    if step.webhook is not None:
        # A system call (CRM sync, coupon issue), not a message to the customer: exempt from
        # quiet hours and frequency caps, and needs no marketing consent.
        wh = step.webhook
        content = {"event": wh.event, "data": wh.data}
        return Send(
            channel="webhook", content=content, provider=wh.provider, purpose="service", transactional=True
        )
    if step.wecom_tags is not None:
        # Tag sync to WeCom goes through the outbox like a message (exactly once, retried), but
        # is not one: exempt from quiet hours and caps, no marketing consent needed.
        wt = step.wecom_tags
        content = {"add": wt.add, "remove": wt.remove}
        return Send(
            channel="wecom_tag", content=content, provider=wt.provider, purpose="service", transactional=True
        )
    return None


def send(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    s = send_of(step)
    assert s is not None
    return _send(run, spec, step, s, group)


webhook = wecom_tags = send


def purpose_of(spec: JourneySpec, s: Send) -> str:
    """The consent purpose a send needs: its own, else service for transactional sends, else
    the journey's."""
    return s.purpose or ("service" if s.transactional else spec.purpose)


def quiet_hours_of(config: EngineConfig, spec: JourneySpec) -> QuietHours:
    """The journey's quiet hours, or the global ones when the journey keeps the default."""
    if config.quiet_hours is not None and "quiet_hours" not in spec.model_fields_set:
        return config.quiet_hours
    return spec.quiet_hours


def _send(run: Run, spec: JourneySpec, step: Step, s: Send, group: list[Enrolment]) -> Go:
    nxt = spec.following(step.id)
    out: Go = []
    ids = [e.contact_id for e in group]
    purpose = purpose_of(spec, s)
    default = run.config.marketing_consent_default if purpose == "marketing" else True
    refused = consent_decisions(run.session, ids, purpose, CONSENT_CHANNEL[s.channel], default, run.keyring)
    addressable = reachable(run.session, ids, ADDRESS[s.channel])
    zones = time_zones(run.session, ids, run.config.default_timezone)
    quiet = quiet_hours_of(run.config, spec)
    ready: list[Enrolment] = []
    for e in group:
        if refused[e.contact_id] == "do_not_contact":
            run.record(
                e, step.id, "skipped_consent", f"{purpose}/{CONSENT_CHANNEL[s.channel]}: do_not_contact"
            )
        elif refused[e.contact_id]:
            run.record(e, step.id, "skipped_consent", f"{purpose}/{CONSENT_CHANNEL[s.channel]}")
        elif e.contact_id not in addressable:
            run.record(e, step.id, "skipped_no_address", ADDRESS[s.channel])
        else:
            until = None if s.transactional else quiet_until(run.now, zones[e.contact_id], quiet)
            if until is None:
                ready.append(e)
                continue
            if quiet.mode == "hold":
                if e.data.get("held") != step.id or e.data.pop("cap_wait", None):
                    run.record(e, step.id, "held_quiet", until.isoformat())
                    e.data["held"] = step.id
                e.step, e.due_at = step.id, until
                continue
            run.record(e, step.id, "skipped_quiet")
        e.data.pop("held", None)
        out.append((e, nxt))
    if not ready:
        return out
    keys = {e.contact_id: local_keys(run.now, zones[e.contact_id]) for e in ready}
    if not s.transactional:
        ready = _apply_caps(run, spec, step, s.channel, ready, keys, out, nxt)
    if not ready:
        return out
    rendered = _render(run, spec, step, s, ready)
    rows: list[dict[str, Any]] = []
    for e in ready:
        e.data.pop("held", None)
        e.data.pop("cap_wait", None)
        content, errors = rendered[e.contact_id]
        if errors:
            run.record(e, step.id, "failed", "; ".join(errors))
            out.append((e, nxt))
            continue
        day, week = keys[e.contact_id]
        rows.append(
            {
                "key": message_key(e, step.id),
                "journey_id": e.journey_id,
                "enrolment_id": e.id,
                "contact_id": e.contact_id,
                "step": step.id,
                "variant": e.variant,
                "channel": s.channel,
                "provider": s.provider,
                "template": s.template,
                "transactional": s.transactional,
                "content": content,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": run.now,
                "local_day": day,
                "local_week": week,
                "created_at": run.now,
            }
        )
        run.record(e, step.id, "queued")
        out.append((e, nxt))
    run.stats.queued += insert_ignore(run.session, OutboxMessage.__table__, rows, ["key"])
    return out


def _week_of(day: str) -> str:
    y, w, _ = date.fromisoformat(day).isocalendar()
    return f"{y}-W{w:02d}"


def _apply_caps(
    run: Run,
    spec: JourneySpec,
    step: Step,
    channel: str,
    ready: list[Enrolment],
    keys: dict[int, tuple[str, str]],
    out: Go,
    nxt: str,
) -> list[Enrolment]:
    """Drops (and records) contacts over a cap; a capped contact moves on, it does not exit.

    Counting and the outbox insert that follows are one decision per contact: on PostgreSQL
    each contact's cap lock is held from the count to the commit (:func:`_lock_contacts`), so a
    second worker counting the same contact waits and then sees this message. SQLite needs no
    lock: every transaction is ``BEGIN IMMEDIATE``, one writer at a time."""
    base: list[Cap] = [*spec.caps, *run.config.caps]
    if not base and channel != "wecom_private":
        return ready
    ready = _lock_contacts(run, step, ready)
    if not ready:
        return ready
    days = [k[0] for k in keys.values()]
    first = min(min(date.fromisoformat(d).replace(day=1) for d in days), min(_monday(d) for d in days))
    counts = cap_counts(run.session, list(keys), first.isoformat(), max(days))
    passed: list[Enrolment] = []
    for e in ready:
        day, week = keys[e.contact_id]
        caps = base + ([wecom_monthly_cap(day)] if channel == "wecom_private" else [])
        sent = counts.get(e.contact_id, [])
        over = None
        for w in cap_windows(caps, channel, day, week):
            n = sum(1 for ch, d in sent if w.channel in ("any", ch) and _in_window(w.per, w.key, d))
            if n >= w.max:
                over = f"{w.channel}/{w.per} max {w.max}"
                break
        if over:
            run.record(e, step.id, "skipped_cap", over)
            e.data.pop("held", None)
            e.data.pop("cap_wait", None)
            out.append((e, nxt))
            continue
        counts.setdefault(e.contact_id, []).append((channel, day))
        passed.append(e)
    return passed


#: The named lock of "a contact's frequency caps" (``store.locks``: one per contact and schema).
CAP_LOCK = "journeys.caps"
#: Cap locks this transaction took, per claim: the highest contact id locked. Locks are taken
#: in ascending id order, and a contact below the highest one already held is only tried,
#: never waited for, so two workers can never wait on each other (no deadlock), whatever
#: their groups' order.
_held: WeakKeyDictionary[Run, int] = WeakKeyDictionary()
#: How long a contact whose cap lock another worker holds waits at the step.
CAP_RETRY = timedelta(seconds=1)


def _lock_contacts(run: Run, step: Step, ready: list[Enrolment]) -> list[Enrolment]:
    """Take the cap lock of every contact in ``ready`` (PostgreSQL), held until the commit.
    Contacts above the highest lock held are waited for in ascending order; the others are
    only tried (re-taking a lock this transaction holds always succeeds), and a contact whose
    lock is busy stays at the step for a second instead (``CAP_RETRY``) — waiting for it could
    deadlock against a worker taking locks in the other order."""
    if run.session.get_bind().dialect.name != "postgresql":
        return ready
    top = _held.get(run, -1)
    ids = sorted({e.contact_id for e in ready})
    above = [k for k in ids if k > top]
    below = [k for k in ids if k <= top]
    if above:
        xact_locks_for(run.session, CAP_LOCK, above)
        _held[run] = above[-1]
    busy = try_xact_locks_for(run.session, CAP_LOCK, below)
    if not busy:
        return ready
    out = []
    for e in ready:
        if e.contact_id in busy:
            # stays at the step; "held" keeps the engine from recording a second "entered"
            e.data["held"], e.data["cap_wait"] = step.id, True
            e.step, e.due_at = step.id, run.now + CAP_RETRY
        else:
            out.append(e)
    return out


def _monday(day: str) -> date:
    d = date.fromisoformat(day)
    return d - timedelta(days=d.weekday())


def _in_window(per: str, key: str, day: str) -> bool:
    if per == "day":
        return day == key
    if per == "month":
        return day[:7] == key
    return _week_of(day) == key


def _render(
    run: Run, spec: JourneySpec, step: Step, s: Send, group: Sequence[Enrolment]
) -> dict[int, tuple[dict[str, Any], list[str]]]:
    """Personalise for every contact of the group (variables loaded in bulk); tracked links
    are derived from the message key, so a step run again after a crash renders the same
    links. A split's variant picks the template variant of that name when there is one."""
    ids = [e.contact_id for e in group]
    variables = contact_variables(
        run.session, run.keyring, ids, zone=run.config.default_timezone, now=run.now
    )
    zone = ZoneInfo(run.config.default_timezone)
    for e in group:  # the triggering event's properties, e.g. {{ trigger.order_id }}
        variables.setdefault(e.contact_id, {})["trigger"] = e.data.get("trigger", {})
        issued = e.data.get("coupon")  # the coupon this journey's issue_coupon step gave
        if isinstance(issued, dict) and issued.get("code"):
            at = issued.get("expires_at")
            expires = datetime.fromisoformat(at) if isinstance(at, str) else None
            variables[e.contact_id]["coupon"] = coupon_view(str(issued["code"]), expires, zone)
    keys = {e.contact_id: message_key(e, step.id) for e in group}
    secret = link_secret(run.keyring)
    if s.template is None:
        makers = []
        out = {}
        for e in group:
            maker = LinkMaker(
                run.config.public_url, keys[e.contact_id], e.contact_id, e.journey_id, step.id, secret
            )
            r = render(s.content or {}, variables[e.contact_id], maker, channel=s.channel)
            makers.append(maker)
            out[e.contact_id] = (r.content, list(r.errors))
        flush_links(run.session, makers)
        return out
    service = ContentService(run.session)
    try:
        named = set((service.get_template(s.template).variants or {}).keys())
    except ContentNotFound as exc:  # deleted after the journey started: fail these sends, go on
        return {e.contact_id: ({}, [str(exc)]) for e in group}
    result = service.render_for(
        s.template,
        ids,
        variables,
        {e.contact_id: e.variant if e.variant in named else None for e in group},
        keys,
        run.config.public_url,
        group[0].journey_id,
        step.id,
        link_secret=secret,
    )
    return {cid: (r.content, list(r.errors)) for cid, r in result.items()}
