"""The A/B tests journeys run: every split step, its variants' contacts and conversions, and the
``experiment`` parameters that test them.

A split assigns each enrolled contact one variant (weights from the journey definition); a
contact *converts* when its run reaches the journey's goal. The counts are the journey report's
(``journeys/report.py``), so the console's experiment page, the journey report and the REST
``experiment`` analysis of the same parameters agree. The first variant is the control.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.journeys.engine import spec_of
from siyu.journeys.report import journey_report
from siyu.journeys.repository import JourneyRepository
from siyu.store.models import Journey


def split_tests(session: Session) -> list[dict[str, Any]]:
    """One entry per split step of every journey (archived ones included: their results
    still matter), in journey-key order. ``ready`` is False until every variant has contacts
    (the test cannot be computed before)."""
    out: list[dict[str, Any]] = []
    for journey in sorted(JourneyRepository(session).all(), key=lambda j: j.key):
        out.extend(_tests_of(session, journey))
    return out


def _tests_of(session: Session, journey: Journey) -> list[dict[str, Any]]:
    splits = [step for step in spec_of(journey).steps if step.split]
    if not splits:
        return []
    report = journey_report(session, journey)
    out = []
    for step in splits:
        assert step.split is not None
        counts = {v["variant"]: v for v in report["variants"] if v["split"] == step.id}
        variants = [
            {
                "name": v.name,
                "weight": v.weight,
                "n": int(counts.get(v.name, {}).get("entered", 0)),
                "conversions": int(counts.get(v.name, {}).get("converted", 0)),
            }
            for v in step.split.variants
        ]
        out.append(
            {
                "journey": journey.key,
                "name": journey.name,
                "status": journey.status,
                "split": step.id,
                "variants": variants,
                "ready": all(v["n"] > 0 for v in variants),
                "params": experiment_params(variants),
            }
        )
    return out


def experiment_params(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``experiment`` analysis parameters of a split: conversions out of contacts, tested
    against the planned weights (a sample-ratio mismatch flags a broken assignment)."""
    return {
        "metric": "conversion",
        "variants": [{"name": v["name"], "n": v["n"], "conversions": v["conversions"]} for v in variants],
        "weights": [v["weight"] for v in variants],
    }


def find_split_test(session: Session, journey: str, split: str) -> dict[str, Any] | None:
    found = JourneyRepository(session).by_key(journey)
    for test in _tests_of(session, found) if found is not None else []:
        if test["split"] == split:
            return test
    return None
