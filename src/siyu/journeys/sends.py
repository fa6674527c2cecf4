"""The send step: consent, address, quiet hours and frequency caps are checked for the whole
group at the moment the step runs; what passes is rendered and written to the outbox in the
same transaction as the enrolment moving on. The outbox dispatcher sends it later with the
row's idempotency key (``journey:contact:enrolment:step``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from siyu.content.links import LinkMaker, flush_links, link_secret
from siyu.content.render import render
from siyu.content.service import ContentNotFound, ContentService
from siyu.content.variables import contact_variables
from siyu.journeys.engine import Enrolment, Run
from siyu.journeys.facts import ADDRESS, CONSENT_CHANNEL, cap_counts, consent_decisions, reachable, time_zones
from siyu.journeys.policy import cap_windows, local_keys, quiet_until, wecom_monthly_cap
from siyu.journeys.schemas import Cap, JourneySpec, QuietHours, Send, Step
from siyu.store.dialect import insert_ignore
from siyu.store.models import OutboxMessage

Go = list[tuple[Enrolment, str]]


def message_key(e: Enrolment, step_id: str) -> str:
    """``journey:contact:enrolment:step`` — with ``#n`` for the n-th pass when a branch loops
    back to the step (the pass count lives in the enrolment's data, so a step run again after
    a crash gets the same key)."""
    visit = int(e.data.get("visits", {}).get(step_id, 1))
    base = f"{e.journey_id}:{e.contact_id}:{e.id}:{step_id}"
    return base if visit <= 1 else f"{base}#{visit}"


def send(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    assert step.send is not None
    return _send(run, spec, step, step.send, group)


def webhook(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """A webhook step is a send on the webhook channel with inline content."""
    wh = step.webhook
    assert wh is not None
    # A system call (CRM sync, coupon issue), not a message to the customer: exempt from quiet
    # hours and frequency caps, and needs no marketing consent.
    content = {"event": wh.event, "data": wh.data}
    send_ = Send(
        channel="webhook", content=content, provider=wh.provider, purpose="service", transactional=True
    )
    return _send(run, spec, step, send_, group)


def wecom_tags(run: Run, spec: JourneySpec, step: Step, group: list[Enrolment]) -> Go:
    """Tag sync to WeCom goes through the outbox like a message (exactly once, retried), but is
    not one: exempt from quiet hours and caps, no marketing consent needed."""
    wt = step.wecom_tags
    assert wt is not None
    content = {"add": wt.add, "remove": wt.remove}
    send_ = Send(
        channel="wecom_tag", content=content, provider=wt.provider, purpose="service", transactional=True
    )
    return _send(run, spec, step, send_, group)


def _quiet(run: Run, spec: JourneySpec) -> QuietHours:
    if run.config.quiet_hours is not None and "quiet_hours" not in spec.model_fields_set:
        return run.config.quiet_hours
    return spec.quiet_hours


def _send(run: Run, spec: JourneySpec, step: Step, s: Send, group: list[Enrolment]) -> Go:
    nxt = spec.following(step.id)
    out: Go = []
    ids = [e.contact_id for e in group]
    purpose = s.purpose or ("service" if s.transactional else spec.purpose)
    default = run.config.marketing_consent_default if purpose == "marketing" else True
    refused = consent_decisions(run.session, ids, purpose, CONSENT_CHANNEL[s.channel], default, run.keyring)
    addressable = reachable(run.session, ids, ADDRESS[s.channel])
    zones = time_zones(run.session, ids, run.config.default_timezone)
    quiet = _quiet(run, spec)
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
                if e.data.get("held") != step.id:
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
    """Drops (and records) contacts over a cap; a capped contact moves on, it does not exit."""
    base: list[Cap] = [*spec.caps, *run.config.caps]
    if not base and channel != "wecom_private":
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
            out.append((e, nxt))
            continue
        counts.setdefault(e.contact_id, []).append((channel, day))
        passed.append(e)
    return passed


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
    variables = contact_variables(run.session, run.keyring, ids)
    for e in group:  # the triggering event's properties, e.g. {{ trigger.order_id }}
        variables.setdefault(e.contact_id, {})["trigger"] = e.data.get("trigger", {})
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
