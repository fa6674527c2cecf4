"""The journey report: per step entered / waiting / sent / delivered / clicked / converted /
skipped (cap, quiet hours, consent, no address) / failed, and per A/B variant."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics.experiments.runner import compare_variants
from siyu.journeys.engine import spec_of
from siyu.store.models import Journey, JourneyEnrolment, JourneyStepRun, OutboxMessage

OUTCOMES = (
    "entered",
    "queued",
    "held_quiet",
    "skipped_quiet",
    "skipped_cap",
    "skipped_consent",
    "skipped_no_address",
    "send_limit",
    "failed",
    "converted",
    "exited",
    "event",
    "timeout",
)


def journey_report(session: Session, journey: Journey) -> dict[str, Any]:
    spec = spec_of(journey)
    jid = journey.id
    status_counts = dict(
        session.execute(
            select(JourneyEnrolment.status, func.count())
            .where(JourneyEnrolment.journey_id == jid)
            .group_by(JourneyEnrolment.status)
        ).all()
    )
    waiting = dict(
        session.execute(
            select(JourneyEnrolment.step, func.count())
            .where(JourneyEnrolment.journey_id == jid, JourneyEnrolment.status == "active")
            .group_by(JourneyEnrolment.step)
        ).all()
    )
    runs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    variant_runs: dict[tuple[str, str], int] = defaultdict(int)
    for step, outcome, variant, n in session.execute(
        select(JourneyStepRun.step, JourneyStepRun.outcome, JourneyStepRun.variant, func.count())
        .where(JourneyStepRun.journey_id == jid)
        .group_by(JourneyStepRun.step, JourneyStepRun.outcome, JourneyStepRun.variant)
    ):
        runs[step][outcome] += int(n)
        # "variant" is written once, by the split that assigns it; "converted" carries the
        # newest variant of the run that converted
        if variant is not None and outcome in ("converted", "variant"):
            variant_runs[(variant, outcome)] += int(n)
    sends: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    variant_sends: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for step, variant, status, delivered, clicked, n in session.execute(
        select(
            OutboxMessage.step,
            OutboxMessage.variant,
            OutboxMessage.status,
            func.count(OutboxMessage.delivered_at),
            func.count(OutboxMessage.clicked_at),
            func.count(),
        )
        .where(OutboxMessage.journey_id == jid)
        .group_by(OutboxMessage.step, OutboxMessage.variant, OutboxMessage.status)
    ):
        row = sends[step]
        sent = int(n) if status in ("sent", "delivered") else 0
        row["sent"] += sent
        row["delivered"] += int(delivered)
        row["clicked"] += int(clicked)
        row["failed"] += int(n) if status == "failed" else 0
        row["pending"] += int(n) if status in ("pending", "sending") else 0
        row["skipped_at_send"] += int(n) if status == "skipped" else 0
        if variant is not None:
            variant_sends[variant]["sent"] += sent
            variant_sends[variant]["clicked"] += int(clicked)
    steps = []
    for step in spec.steps:
        r, s = runs.get(step.id, {}), sends.get(step.id, {})
        item: dict[str, Any] = {"id": step.id, "action": step.action, "waiting": int(waiting.get(step.id, 0))}
        if step.send:
            item["channel"] = step.send.channel
        for o in OUTCOMES:
            item[o] = int(r.get(o, 0))
        item["failed"] += int(s.get("failed", 0))
        for k in ("sent", "delivered", "clicked", "pending", "skipped_at_send"):
            item[k] = int(s.get(k, 0))
        routes = {o: int(n) for o, n in r.items() if o.startswith("route:")}
        if routes:
            item["routes"] = routes
        if step.split:
            item["variants"] = {v.name: 0 for v in step.split.variants}
        steps.append(item)
    variants = []
    for step in spec.steps:
        if not step.split:
            continue
        for v in step.split.variants:
            variants.append(
                {
                    "split": step.id,
                    "variant": v.name,
                    "entered": variant_runs.get((v.name, "variant"), 0),
                    "sent": variant_sends[v.name]["sent"],
                    "clicked": variant_sends[v.name]["clicked"],
                    "converted": variant_runs.get((v.name, "converted"), 0),
                }
            )
    experiments = [_experiment(step, variants) for step in spec.steps if step.split]
    for item in steps:
        if "variants" in item:
            item["variants"] = {v["variant"]: v["entered"] for v in variants if v["split"] == item["id"]}
    enrolled = sum(int(v) for v in status_counts.values())
    converted = int(status_counts.get("converted", 0))
    return {
        "journey": journey.key,
        "name": journey.name,
        "status": journey.status,
        "version": journey.version,
        "enrolled": enrolled,
        "active": int(status_counts.get("active", 0)),
        "completed": int(status_counts.get("completed", 0)),
        "exited": int(status_counts.get("exited", 0)),
        "converted": converted,
        "conversion_rate": round(converted / enrolled, 4) if enrolled else 0.0,
        "steps": steps,
        "variants": variants,
        "experiments": [e for e in experiments if e is not None],
    }


def _experiment(step: Any, variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An A/B split's conversion test: each variant against the first (the control), with the
    sample-ratio check against the split's weights (a broken split shows as an SRM flag before
    anyone trusts its lift). None until every variant has contacts."""
    arms = [v for v in variants if v["split"] == step.id]
    if any(v["entered"] == 0 for v in arms):
        return None
    stats = compare_variants(
        [{"name": v["variant"], "n": v["entered"], "conversions": v["converted"]} for v in arms],
        metric="conversion",
        weights=[v.weight for v in step.split.variants],
    )
    keep = ("name", "n", "conversions", "mean", "p_value", "lift", "ci", "chance_to_win", "risk")
    return {
        "split": step.id,
        "control": stats["control"],
        "srm_p_value": stats["srm_p_value"],
        "srm_flag": stats["srm_flag"],
        "variants": [{k: v[k] for k in keep if k in v} for v in stats["variants"]],
    }
